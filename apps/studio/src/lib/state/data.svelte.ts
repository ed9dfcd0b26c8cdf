// The Data screen's state: one dataset slot per kind of data, read by the engine with the loaded model's tokenizer at a
// given max length (the Train screen's, or a recipe's). The text is kept so that the slot can be read again when the
// model or the max length changes, and saved in the studio's store so a later visit (or a resumed run) has it.
import { type DatasetSummary, dataKindOf, type TrainMethod } from '@webtune/trainer';

/**
 * The data a run trains on, one slot each, named by the method it is loaded as: SFT rows, preference pairs ("dpo":
 * ORPO and SimPO train on the same pairs) and KTO's thumbs-up/down rows.
 */
export type DataSlot = 'sft' | 'dpo' | 'kto';
export const DATA_SLOTS: readonly DataSlot[] = ['sft', 'dpo', 'kto'];
export const slotOf = (m: TrainMethod): DataSlot => (dataKindOf(m) === 'pairs' ? 'dpo' : (m as DataSlot));

import { explain, type Problem } from '../errors.ts';
import { getDataset, lastDataset, saveDataset } from '../saved.ts';
import { studio } from '../studio.svelte.ts';

/**
 * Where a slot's file came from: picked on the Data screen in this visit (or put back after the classroom's lesson),
 * read back from this browser's store (an earlier visit, a resumed run), or the classroom's lesson.
 */
export type DatasetOrigin = 'user' | 'saved' | 'lesson' | 'pairs';

export const ORIGIN_WORDS: Record<DatasetOrigin, string> = {
  user: 'loaded on the Data screen',
  saved: 'kept from an earlier visit',
  lesson: "the classroom lesson's",
  pairs: 'judged on the Pairs screen',
};

export interface DatasetSlot {
  file: string;
  origin: DatasetOrigin;
  text: string;
  /** max_length the summary was computed with. */
  maxLength: number;
  summary: DatasetSummary | null;
  loading: boolean;
  problem: Problem | null;
}

export class DataState {
  /** Raw state (replaced, never mutated): a summary holds a length per row. */
  datasets: Record<DataSlot, DatasetSlot | null> = $state.raw({ sft: null, dpo: null, kto: null });

  async load(method: DataSlot, text: string, file: string, maxLength: number, origin: DatasetOrigin): Promise<void> {
    const previous = this.datasets[method];
    this.setSlot(method, { file, origin, text, maxLength, summary: previous?.summary ?? null, loading: true, problem: null });
    if (!studio.model) {
      this.setSlot(method, { file, origin, text, maxLength, summary: null, loading: false, problem: null });
      return;
    }
    try {
      const summary = await studio.api.loadDataset(method, text, file, maxLength);
      // A newer load of this slot (another file, another max length) wins.
      if (this.datasets[method]?.text !== text || this.datasets[method]?.maxLength !== maxLength) return;
      this.setSlot(method, { file, origin, text, maxLength, summary, loading: false, problem: null });
      saveDataset({ id: summary.id, method, file, text, maxLength, savedAt: Date.now() }).catch(() => {});
    } catch (e) {
      if (this.datasets[method]?.text !== text) return;
      this.setSlot(method, { file, origin, text, maxLength, summary: null, loading: false, problem: explain(e, `reading ${file}`) });
    }
  }

  /** Put text in a slot without reading it (the model that will read it is still loading). */
  setText(method: DataSlot, d: { file: string; text: string }, maxLength: number, origin: DatasetOrigin): void {
    this.setSlot(method, { ...d, origin, maxLength, summary: null, loading: false, problem: null });
  }

  /** Read the slot's text again with `maxLength` (after it changed). */
  async refresh(method: DataSlot, maxLength: number): Promise<void> {
    const slot = this.datasets[method];
    if (!slot || slot.loading || slot.maxLength === maxLength) return;
    await this.load(method, slot.text, slot.file, maxLength, slot.origin);
  }

  /** After a model loads: the slot's text again, or the last dataset of this method from a previous visit. */
  async restore(method: DataSlot, maxLength: number): Promise<void> {
    const slot = this.datasets[method];
    if (slot) return this.load(method, slot.text, slot.file, maxLength, slot.origin);
    const saved = await lastDataset(method).catch(() => undefined);
    if (saved && !this.datasets[method]) return this.load(method, saved.text, saved.file, maxLength, 'saved');
  }

  /**
   * The dataset `id` of a checkpointed run, read again from the studio's copy of its text; the id (a hash of method,
   * text and max length) is the same only when everything is.
   */
  async reload(id: string, method: DataSlot, maxLength: number): Promise<string> {
    if (this.datasets[method]?.summary?.id === id) return id;
    const saved = await getDataset(id).catch(() => undefined);
    if (!saved) {
      throw new Error(
        'The dataset of this run is no longer in this browser. Load the same file on the Data screen with the same max length, then resume again.',
      );
    }
    await this.load(method, saved.text, saved.file, maxLength, 'saved');
    const loaded = this.datasets[method]?.summary?.id;
    if (loaded !== id) throw new Error(this.datasets[method]?.problem?.message ?? 'The dataset of this run could not be loaded again.');
    return loaded;
  }

  private setSlot(method: DataSlot, slot: DatasetSlot | null): void {
    this.datasets = { ...this.datasets, [method]: slot };
  }
}

export const dataState = new DataState();
