// KTO's reference log-prob sums, as TRL precomputes them (ref_logps and ref_KL_logps per row): computed for a
// micro-batch's rows the first time a run needs them, then kept. A row's KL sequence depends on the other rows of
// its micro-batch, which are fixed because KTO draws micro-batches in dataset order; a cache is valid for one batch
// size. Sums are float32 on the GPU (targetLogpSums), by the kernel that sums the policy's in training, so policy ==
// reference gives rewards and KL of exactly 0.
import type { Gpu } from '@webtune/kernels';
import type { Sequence } from '../data/tokenize.ts';
import type { LoraAdapter } from '../model/lora.ts';
import type { Model } from '../model/model.ts';
import { targetLogpSums } from '../objectives/host.ts';
import type { KtoReferenceLogps } from '../objectives/kto.ts';

export class KtoReferenceCache implements KtoReferenceLogps {
  /** [completion_0, kl_0, completion_1, kl_1, ...]; NaN where not computed yet. */
  readonly values: Float32Array;
  /** Computed since the cache was made: a stored copy is out of date. */
  dirty = false;

  constructor(
    private readonly gpu: Gpu,
    private readonly model: Model,
    private readonly adapters: LoraAdapter[],
    rows: number,
    private readonly padId: number,
    cached?: Float32Array | Float64Array,
  ) {
    // A stored entry of another shape or precision is not this cache's: start afresh.
    this.values =
      cached instanceof Float32Array && cached.length === 2 * rows
        ? Float32Array.from(cached)
        : new Float32Array(2 * rows).fill(Number.NaN);
  }

  /** Values not computed yet: every row's answer, and with `kl` its KL row too. */
  missing(kl: boolean): number {
    let n = 0;
    for (let i = 0; i < this.values.length; i += 2)
      n += (Number.isNaN(this.values[i]) ? 1 : 0) + (kl && Number.isNaN(this.values[i + 1]) ? 1 : 0);
    return n;
  }

  async of(
    indices: number[],
    completions: Sequence[],
    kl: Sequence[] | null,
  ): Promise<{ completions: Float64Array; kl: Float64Array | null }> {
    const todo: Sequence[] = [];
    const slots: number[] = [];
    for (const [k, i] of indices.entries()) {
      if (Number.isNaN(this.values[2 * i])) {
        todo.push(completions[k]);
        slots.push(2 * i);
      }
      if (kl && Number.isNaN(this.values[2 * i + 1])) {
        todo.push(kl[k]);
        slots.push(2 * i + 1);
      }
    }
    if (todo.length > 0) {
      // As many rows at a time as the micro-batch has: not its rows and KL rows in one forward, whose buffers would be
      // twice the training step's forward-only ones (the memory estimate counts those).
      const { gpu, model, adapters, padId } = this;
      const sums = await targetLogpSums({ gpu, model, adapters, seqs: todo, batchSize: indices.length, padId });
      for (const [k, slot] of slots.entries()) this.values[slot] = sums[k];
      this.dirty = true;
    }
    return {
      completions: Float64Array.from(indices, (i) => this.values[2 * i]),
      kl: kl ? Float64Array.from(indices, (i) => this.values[2 * i + 1]) : null,
    };
  }
}
