// The blind A/B mode of the Compare screen: two models answer the same prompts (the same seed per prompt), each
// prompt's answers shown as A and B on sides drawn from the seed (pairs/ab.ts in the trainer), names hidden until every
// prompt is judged. Kept in IndexedDB after each answer and verdict: a reload resumes where it stopped.
import {
  type AbModels,
  type AbRow,
  type AbSummary,
  type AbVerdict,
  candidateSeeds,
  exportAb,
  firstLabel,
  pairsFromAb,
  summariseAb,
  writePairs,
} from '@webtune/trainer';
import { explain, type Problem } from '../errors.ts';
import { type AbWork, loadAb, saveAb } from '../pairs-store.ts';
import { studio } from '../studio.svelte.ts';
import { dataState } from './data.svelte.ts';
import { trainState } from './train.svelte.ts';

export const AB_PAIRS_FILE = 'ab-pairs.jsonl';

export class AbState {
  work: AbWork | null = $state.raw(null);
  running = $state(false);
  problem: Problem | null = $state(null);
  restored = false;
  private stopRequested = false;

  async restore(): Promise<void> {
    if (this.restored) return;
    this.restored = true;
    const w = await loadAb().catch((e) => {
      this.problem = explain(e, 'reading the A/B kept in this browser');
      return undefined;
    });
    if (w && !this.work) this.work = w;
  }

  private set(work: AbWork | null): void {
    this.work = work;
    saveAb(work).catch((e) => (this.problem = explain(e, 'keeping the A/B in this browser')));
  }

  /** The first row without a verdict, once every prompt has its answers: the one being judged. */
  get current(): AbRow | null {
    if (!this.work || this.work.queue.length > 0) return null;
    return this.work.rows.find((r) => r.verdict === undefined) ?? null;
  }

  /** Every prompt has its answers and a verdict: the names can be shown. */
  get done(): boolean {
    return this.work !== null && this.work.queue.length === 0 && this.work.rows.every((r) => r.verdict !== undefined);
  }

  summary(): AbSummary | null {
    return this.work && this.done ? summariseAb(this.work.rows, this.work.models, 'split') : null;
  }

  async start(
    prompts: string[],
    ids: { first: string; second: string },
    models: AbModels,
    options: { seed: number; chat: boolean; maxNewTokens: number },
  ): Promise<void> {
    this.problem = null;
    const { seed, chat, maxNewTokens } = options;
    this.set({
      ids,
      models,
      seed,
      maxNewTokens,
      rows: [],
      queue: prompts.map((p) => (chat ? [{ role: 'user' as const, content: p }] : p)),
    });
    await this.generate();
  }

  /** Both answers of each prompt still in the queue (greedy; the same seed for both models). */
  async generate(): Promise<void> {
    if (this.running || !studio.model || !this.work) return;
    this.running = true;
    this.stopRequested = false;
    try {
      while (this.work.queue.length > 0 && !this.stopRequested) {
        const w = this.work;
        const i = w.rows.length;
        const prompt = w.queue[0];
        const seed = candidateSeeds(w.seed, i, 1)[0];
        const answer = async (id: string) =>
          (await studio.api.generate({ prompt, adapterId: id || null, maxNewTokens: w.maxNewTokens ?? 48, temperature: 0, seed })).text;
        const first = await answer(w.ids.first);
        const second = await answer(w.ids.second);
        const row: AbRow = { id: `prompt-${i + 1}`, prompt, first, second, firstIs: firstLabel(w.seed, i) };
        this.set({ ...w, rows: [...w.rows, row], queue: w.queue.slice(1) });
      }
    } catch (e) {
      this.problem = explain(e, 'generating the A/B answers');
    } finally {
      this.running = false;
    }
  }

  stop(): void {
    this.stopRequested = true;
  }

  judge(verdict: AbVerdict): void {
    const w = this.work;
    const row = this.current;
    if (!w || !row) return;
    this.set({ ...w, rows: w.rows.map((r) => (r === row ? { ...r, verdict } : r)) });
  }

  undo(): void {
    const w = this.work;
    if (!w) return;
    const last = w.rows.findLastIndex((r) => r.verdict !== undefined);
    if (last < 0) return;
    this.set({ ...w, rows: w.rows.map((r, i) => (i === last ? { ...r, verdict: undefined } : r)) });
  }

  exportText(): string {
    return this.work ? exportAb(this.work.rows, this.work.models) : '';
  }

  /** The decided prompts as preference pairs, the DPO dataset (the loop feeds itself). */
  async saveAsPairs(): Promise<boolean> {
    if (!this.work) return false;
    try {
      const { data } = writePairs(pairsFromAb(this.work.rows, this.work.models));
      trainState.method = 'dpo';
      await dataState.load('dpo', data, AB_PAIRS_FILE, trainState.configs.dpo.maxLength, 'pairs');
      const slot = dataState.datasets.dpo;
      if (slot?.problem) this.problem = slot.problem;
      return slot !== null && slot.problem === null;
    } catch (e) {
      this.problem = { title: 'No pairs to save', message: (e as Error).message };
      return false;
    }
  }

  clear(): void {
    this.set(null);
  }
}

export const abState = new AbState();
