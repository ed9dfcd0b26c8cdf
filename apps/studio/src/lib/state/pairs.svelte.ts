// The Pairs screen's state: prompts, K candidates per prompt generated in the worker (streamed, stoppable, resumable),
// a person's judgements (pairs/judging.ts in the trainer), and the pairs they make, saved as the DPO dataset. Every
// change is written to IndexedDB (pairs-store.ts): a reload resumes generation and judging where they stopped.
import {
  type CandidateSet,
  callback,
  candidateSeeds,
  checkCandidateCount,
  checkGeneration,
  degradedPairs,
  type Judgement,
  type JudgingSession,
  judge,
  judgedPairs,
  nextComparison,
  type PreferencePair,
  type Prompt,
  readPromptsFile,
  type Sampling,
  syntheticPairs,
  undoJudgement,
  writePairs,
} from '@webtune/trainer';
import { explain, type Problem } from '../errors.ts';
import { frameBatcher } from '../frame.ts';
import { clearWork, loadWork, type PairsWork, type SyntheticRule, type SyntheticWork, saveWork } from '../pairs-store.ts';
import { studio } from '../studio.svelte.ts';
import { adapterState } from './adapters.svelte.ts';
import { dataState } from './data.svelte.ts';
import { trainState } from './train.svelte.ts';

export const PAIRS_FILE = 'judged-pairs.jsonl';

/** What each synthetic rule puts on the rejected side, as the Pairs screen says it. */
export const SYNTHETIC_RULES: Record<SyntheticRule, string> = {
  base: "the base model's answer to the same prompt",
  degrade: 'the first half of the answer itself (cut mid-thought)',
};

export class PairsState {
  prompts = $state('');
  source = $state('typed');
  settings = $state({ k: 2, temperature: 0.8, seed: 0, maxNewTokens: 48, adapterId: '', chat: false });
  queue: Prompt[] = $state.raw([]);
  session: JudgingSession = $state.raw({ sets: [], seed: 0, decisions: [] });
  running = $state(false);
  /** The candidate being written: its prompt and candidate index, and its text so far. */
  streaming: { prompt: number; candidate: number; text: string } | null = $state(null);
  problem: Problem | null = $state(null);
  restored = $state(false);
  syntheticRule: SyntheticRule = $state('base');
  /** Synthetic pairs made from the candidates' first answers, saved after the judged ones; replaced on each ask. */
  synthetic: SyntheticWork | null = $state.raw(null);
  private stopRequested = false;

  /** Once per page: the work kept from an earlier visit. */
  async restore(): Promise<void> {
    if (this.restored) return;
    const work = await loadWork().catch((e) => {
      this.problem = explain(e, 'reading the judged pairs kept in this browser');
      return undefined;
    });
    if (work && !this.restored) {
      this.prompts = work.prompts;
      this.source = work.source;
      this.settings = work.settings;
      this.queue = work.queue;
      this.session = work.session;
      this.synthetic = work.synthetic ?? null;
    }
    this.restored = true;
  }

  private persist(): void {
    const work: PairsWork = $state.snapshot({
      prompts: this.prompts,
      source: this.source,
      settings: this.settings,
      queue: this.queue,
      session: this.session,
      synthetic: this.synthetic,
    }) as PairsWork;
    saveWork(work).catch((e) => (this.problem = explain(e, 'keeping the judged pairs in this browser')));
  }

  /** Whether the candidates' settings cannot be used (and the problem says why): the fields' min and max are hints only. */
  private refusesSettings(): boolean {
    try {
      checkCandidateCount(Number(this.settings.k), 'candidates per prompt');
      checkGeneration({ maxNewTokens: Number(this.settings.maxNewTokens), temperature: Number(this.settings.temperature) });
      return false;
    } catch (e) {
      this.problem = { title: 'These settings cannot be used', message: (e as Error).message };
      return true;
    }
  }

  /** Start over on the prompts in the box: the earlier candidates and judgements are replaced. */
  async start(): Promise<void> {
    this.problem = null;
    if (this.refusesSettings()) return; // before anything earlier is replaced
    let rows: { prompt: Prompt }[];
    try {
      rows = readPromptsFile(this.prompts, this.source === 'typed' ? 'the prompts box' : this.source, { chat: this.settings.chat });
    } catch (e) {
      this.problem = { title: 'These prompts cannot be used', message: (e as Error).message };
      return;
    }
    this.queue = rows.map((r) => r.prompt);
    this.session = { sets: [], seed: this.settings.seed, decisions: [] };
    this.synthetic = null;
    this.persist();
    await this.generate();
  }

  /** Generate the candidates of every prompt still without them (after Stop, or a reload). */
  async generate(): Promise<void> {
    if (this.running || !studio.model || this.refusesSettings()) return;
    const s = $state.snapshot(this.settings);
    this.running = true;
    this.stopRequested = false;
    const adapter = s.adapterId || null;
    const sampling: Sampling = { temperature: s.temperature, top_p: 1, max_new_tokens: s.maxNewTokens, seed: s.seed };
    try {
      for (let i = this.session.sets.length; i < this.queue.length && !this.stopRequested; i++) {
        const seeds = candidateSeeds(s.seed, i, s.k);
        const candidates: string[] = [];
        for (const [j, seed] of seeds.entries()) {
          if (this.stopRequested) break;
          candidates.push(await this.answer($state.snapshot(this.queue[i]) as Prompt, adapter, sampling, seed, i, j));
        }
        if (candidates.length < s.k) break; // stopped inside a prompt: it is generated again on Continue
        const set: CandidateSet = {
          id: `prompt-${i + 1}`,
          prompt: $state.snapshot(this.queue[i]) as Prompt,
          candidates,
          model: studio.model.id,
          adapter: adapter ? adapterState.name(adapter) : null,
          sampling,
          seeds,
        };
        this.session = { ...this.session, sets: [...this.session.sets, set] };
        this.persist();
      }
    } catch (e) {
      this.problem = explain(e, 'generating candidates');
    } finally {
      this.streaming = null;
      this.running = false;
    }
  }

  /** One answer, streamed to the screen as prompt `i`'s candidate `j`. */
  private async answer(prompt: Prompt, adapterId: string | null, sampling: Sampling, seed: number, i: number, j: number): Promise<string> {
    this.streaming = { prompt: i, candidate: j, text: '' };
    const stream = frameBatcher<string>((texts) => {
      if (this.streaming) this.streaming = { ...this.streaming, text: texts.at(-1) ?? '' };
    });
    const { temperature, top_p: topP, max_new_tokens: maxNewTokens } = sampling;
    const r = await studio.api.generate(
      { prompt, adapterId, maxNewTokens, temperature, topP, seed },
      callback((t: string) => stream.push(t)),
    );
    stream.flushNow();
    return r.text;
  }

  stop(): void {
    this.stopRequested = true;
  }

  /**
   * Synthetic pairs (pairs/synthetic.ts, as `pnpm cli pairs --rejected-candidates | --degrade`): each prompt's first
   * candidate over the base model's answer to it (same sampling and seed), or over a degraded copy of itself.
   */
  async makeSynthetic(): Promise<void> {
    const rule = this.syntheticRule;
    const sets = this.session.sets;
    if (this.running || sets.length === 0) return;
    this.problem = null;
    if (rule === 'degrade') {
      this.keepSynthetic(rule, degradedPairs(sets));
      return;
    }
    if (sets.some((set) => set.adapter === null)) {
      this.problem = {
        title: 'No synthetic pairs against the base model',
        message: 'These candidates came from the base model itself: generate them from your SFT adapter, or use the degraded rule.',
      };
      return;
    }
    if (!studio.model) return;
    this.running = true;
    this.stopRequested = false;
    try {
      const base: CandidateSet[] = [];
      for (const [i, set] of sets.entries()) {
        if (this.stopRequested) return; // stopped: no pairs from part of the prompts
        const text = await this.answer(set.prompt, null, set.sampling, set.seeds[0], i, 0);
        base.push({ ...set, candidates: [text], adapter: null, seeds: [set.seeds[0]] });
      }
      this.keepSynthetic(rule, syntheticPairs(sets, base));
    } catch (e) {
      this.problem = explain(e, "generating the base model's answers");
    } finally {
      this.streaming = null;
      this.running = false;
    }
  }

  private keepSynthetic(rule: SyntheticRule, made: { pairs: PreferencePair[]; same: string[] }): void {
    this.synthetic = { rule, pairs: made.pairs, same: made.same.length };
    this.persist();
  }

  judge(judgement: Judgement, edit?: string): void {
    if (!nextComparison(this.session)) return;
    try {
      this.session = judge(this.session, judgement, edit);
      this.persist();
    } catch (e) {
      this.problem = { title: 'This judgement cannot be kept', message: (e as Error).message };
    }
  }

  undo(): void {
    if (this.session.decisions.length === 0) return;
    this.session = undoJudgement(this.session);
    this.persist();
  }

  /** The judged pairs, then the synthetic ones. */
  pairs(): PreferencePair[] {
    return [...judgedPairs(this.session).pairs, ...(this.synthetic?.pairs ?? [])];
  }

  /** The pairs as TRL's preference file and its provenance sidecar. */
  files(): { data: string; provenance: string } {
    return writePairs(this.pairs());
  }

  /** The pairs become the DPO dataset (the Data and Train screens' DPO slot). */
  async useAsDpoData(): Promise<boolean> {
    try {
      const { data } = this.files();
      trainState.method = 'dpo';
      await dataState.load('dpo', data, PAIRS_FILE, trainState.configs.dpo.maxLength, 'pairs');
      // Without a model the text waits in the slot, read when one loads.
      const slot = dataState.datasets.dpo;
      if (slot?.problem) this.problem = slot.problem;
      return slot !== null && slot.problem === null;
    } catch (e) {
      this.problem = { title: 'No pairs to save yet', message: (e as Error).message };
      return false;
    }
  }

  async clear(): Promise<void> {
    this.queue = [];
    this.session = { sets: [], seed: this.settings.seed, decisions: [] };
    this.synthetic = null;
    await clearWork().catch(() => {});
  }
}

export const pairsState = new PairsState();
