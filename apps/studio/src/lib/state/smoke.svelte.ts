// The Train screen's smoke test before DPO: the user's check (a regex or "is valid JSON") over the SFT adapter's
// greedy answers to held-out prompts (pairs/smoke-test.ts in the trainer). Its verdict belongs to the adapter it
// tested: starting DPO on top of an adapter that failed asks first. Kept in IndexedDB when it has run (pairs-store.ts),
// so after a reload DPO still asks.
import {
  type Prompt,
  readPromptsFile,
  type SmokeAnswer,
  type SmokeCheck,
  type SmokeCheckVerdict,
  scoreAnswers,
  smokeCheckVerdict,
} from '@webtune/trainer';
import { explain, type Problem } from '../errors.ts';
import { heldOutPrompts } from '../held-out.ts';
import { loadSmoke, type SmokeWork, saveSmoke } from '../pairs-store.ts';
import { studio } from '../studio.svelte.ts';
import { adapterState } from './adapters.svelte.ts';

export class SmokeState {
  kind: SmokeCheck['kind'] = $state('regex');
  pattern = $state('');
  prompts = $state('');
  source = $state('typed');
  maxNewTokens = $state(48);
  running = $state(false);
  /** The answers so far, then scored. */
  answers: SmokeAnswer[] = $state.raw([]);
  result: { adapterId: string; check: SmokeCheck; verdict: SmokeCheckVerdict } | null = $state.raw(null);
  problem: Problem | null = $state(null);
  private restored = false;

  /** Once per page: the smoke test of an earlier visit, unless one has run since. */
  async restore(): Promise<void> {
    if (this.restored) return;
    this.restored = true;
    const w = await loadSmoke().catch((e) => {
      this.problem = explain(e, 'reading the smoke test kept in this browser');
      return undefined;
    });
    // SmokeWork is persist()'s snapshot of this state's fields, so each goes back to the field of its name.
    if (w && !this.running && !this.result) Object.assign(this, w satisfies Partial<SmokeState>);
  }

  private persist(): void {
    const { kind, pattern, prompts, source, maxNewTokens, answers, result } = this;
    const work = $state.snapshot({ kind, pattern, prompts, source, maxNewTokens, answers, result }) as SmokeWork;
    saveSmoke(work).catch((e) => (this.problem = explain(e, 'keeping the smoke test in this browser')));
  }

  get check(): SmokeCheck {
    return this.kind === 'json' ? { kind: 'json' } : { kind: 'regex', pattern: this.pattern };
  }

  /** The verdict on `adapterId`, if its smoke test ran. */
  verdictFor(adapterId: string | null): SmokeCheckVerdict | null {
    return adapterId && this.result?.adapterId === adapterId ? this.result.verdict : null;
  }

  /** The held-out prompts of `adapterId`'s run (or the default ones), unless prompts are there already. */
  async offerPrompts(adapterId: string | null): Promise<void> {
    if (this.prompts.trim() !== '') return;
    const held = await heldOutPrompts(adapterState.list.find((a) => a.id === adapterId));
    if (held && this.prompts.trim() === '') {
      this.prompts = held.text;
      this.source = held.source;
    }
  }

  async run(adapterId: string): Promise<void> {
    if (this.running) return;
    this.problem = null;
    const check = this.check;
    let prompts: Prompt[];
    try {
      scoreAnswers(check, []); // a bad pattern is said before any answer is generated
      prompts = readPromptsFile(this.prompts, this.source === 'typed' ? 'the prompts box' : this.source).map((r) => r.prompt);
    } catch (e) {
      this.problem = { title: 'The smoke test cannot run', message: (e as Error).message };
      return;
    }
    this.running = true;
    this.answers = [];
    this.result = null;
    try {
      const answers: { prompt: string; text: string }[] = [];
      for (const prompt of prompts) {
        const { text } = await studio.api.generate({ prompt, adapterId, maxNewTokens: this.maxNewTokens, temperature: 0 });
        answers.push({ prompt: typeof prompt === 'string' ? prompt : (prompt.at(-1)?.content ?? ''), text });
        this.answers = scoreAnswers(check, answers);
      }
      this.result = { adapterId, check, verdict: smokeCheckVerdict(check, this.answers) };
      this.persist();
    } catch (e) {
      this.problem = explain(e, 'running the smoke test');
    } finally {
      this.running = false;
    }
  }
}

export const smokeState = new SmokeState();
