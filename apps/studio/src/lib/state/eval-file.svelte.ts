// The Train screen's eval file (the CLI's --eval-data): rows in the run's method's format to evaluate on, instead of
// holding out val_size of the training file (the engine refuses both at once, and eval_strategy with neither). One per
// data slot. It is read by the engine when a run starts, with the run's max length, and its text is kept in the
// studio's store (marked as an eval file) so a resumed run reads it again.
import type { TrainMethod } from '@webtune/trainer';
import { getDataset, saveDataset } from '../saved.ts';
import { studio } from '../studio.svelte.ts';
import { type DataSlot, slotOf } from './data.svelte.ts';

export interface EvalFile {
  file: string;
  text: string;
}

export class EvalFileState {
  files: Record<DataSlot, EvalFile | null> = $state({ sft: null, dpo: null, kto: null });

  /** The eval file of a run of `method`, or null. */
  of(method: TrainMethod): EvalFile | null {
    return this.files[slotOf(method)];
  }

  set(method: TrainMethod, file: EvalFile | null): void {
    this.files[slotOf(method)] = file;
  }

  /** The engine's id of the eval file for a run of `method` read with `maxLength`; null without one. */
  async datasetFor(method: TrainMethod, maxLength: number): Promise<string | null> {
    const slot = slotOf(method);
    const f = this.files[slot];
    if (!f) return null;
    const { id } = await studio.api.loadDataset(slot, f.text, f.file, maxLength);
    saveDataset({ id, method: slot, file: f.file, text: f.text, maxLength, savedAt: Date.now(), role: 'eval' }).catch(() => {});
    return id;
  }

  /** The eval file of a checkpointed run, read again from the store (the id is a hash of method, text and max length). */
  async datasetForResume(id: string, method: TrainMethod, maxLength: number): Promise<string> {
    const saved = await getDataset(id).catch(() => undefined);
    if (!saved)
      throw new Error(
        'The eval file of this run is no longer in this browser. Choose the same file under "Evaluation" on the Train screen, with the same max length, then resume again.',
      );
    const { id: loaded } = await studio.api.loadDataset(slotOf(method), saved.text, saved.file, maxLength);
    if (loaded !== id) throw new Error(`${saved.file} no longer reads as it did for this run: it cannot be resumed with it.`);
    this.set(method, { file: saved.file, text: saved.text });
    return loaded;
  }
}

export const evalFileState = new EvalFileState();
