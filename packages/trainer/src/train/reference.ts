// Log-probs of the data under a model without the adapter being trained: DPO's reference
// (precomputed once per dataset, then cached) and the evaluation of any adapter stack.
import { type Gpu, IGNORE_INDEX } from '@webtune/kernels';
import type { TokenBatch } from '../data/batch.ts';
import type { DpoExample, SftExample } from '../data/tokenize.ts';
import type { Step } from '../model/decoder.ts';
import type { LoraAdapter } from '../model/lora.ts';
import type { Model } from '../model/model.ts';
import { type DpoOptions, dpoMetrics, type SequenceLogps } from '../objectives/dpo.ts';
import { type ForwardPasses, forwardInChunks, targetLogpSums } from '../objectives/host.ts';
import { sftLoss } from '../objectives/sft.ts';

export type { SequenceLogps };

/**
 * Each sequence's float64 sum of its completion tokens' log-probs, and how many there are. Row (s, t) predicts token
 * t+1: its log-prob counts when that token is a completion token.
 */
export async function sequenceLogps(passes: ForwardPasses): Promise<SequenceLogps> {
  const { gpu, seqs } = passes;
  const sums = new Float64Array(seqs.length);
  const counts = new Float64Array(seqs.length);
  const chunk = async (step: Step, batch: TokenBatch, start: number) => {
    gpu.run(...step.forward);
    const logprobs = await gpu.read(step.logprobs);
    for (let b = 0; b < batch.B; b++) {
      for (let t = 0; t < batch.T; t++) {
        const i = b * batch.T + t;
        if (batch.targets[i] === IGNORE_INDEX) continue;
        sums[start + b] += logprobs[i];
        counts[start + b] += 1;
      }
    }
  };
  await forwardInChunks(passes, chunk);
  return { sums, counts };
}

/** DPO reference log-prob sums, interleaved [chosen_0, rejected_0, chosen_1, ...] (targetLogpSums). */
export function referenceLogps(
  gpu: Gpu,
  model: Model,
  adapters: LoraAdapter[],
  examples: DpoExample[],
  batchSize: number,
  padId: number,
  onProgress?: (done: number, total: number) => void,
): Promise<Float32Array> {
  const seqs = examples.flatMap((e) => [e.chosen, e.rejected]);
  return targetLogpSums({ gpu, model, adapters, seqs, batchSize: 2 * batchSize, padId, onProgress });
}

/**
 * DPO's reference log-prob sums, computed for a micro-batch's pairs the first time a run needs them and kept: a short
 * run pays for the pairs it trains on, not for the whole dataset, and later epochs and runs read them back. Each is
 * computed once, by referenceLogps, so it is the same float32 sum whichever batch it was computed in. `values` is
 * what the store keeps: interleaved [chosen_0, rejected_0, chosen_1, ...], NaN where not computed yet.
 */
export class ReferenceCache {
  readonly values: Float32Array;
  /** Computed since the cache was loaded: the store's copy is out of date. */
  dirty = false;
  private readonly index = new Map<DpoExample, number>();

  constructor(
    private readonly gpu: Gpu,
    private readonly model: Model,
    private readonly adapters: LoraAdapter[],
    examples: DpoExample[],
    private readonly padId: number,
    cached?: Float32Array | Float64Array,
  ) {
    for (const [i, e] of examples.entries()) this.index.set(e, i);
    // A stored entry of another shape or precision (KTO's float64) is not this cache's: start afresh.
    this.values =
      cached instanceof Float32Array && cached.length === 2 * examples.length
        ? Float32Array.from(cached)
        : new Float32Array(2 * examples.length).fill(Number.NaN);
  }

  /** Pairs whose reference is not known yet. */
  get missing(): number {
    let n = 0;
    for (let i = 0; i < this.values.length; i += 2) if (Number.isNaN(this.values[i]) || Number.isNaN(this.values[i + 1])) n++;
    return n;
  }

  private pos(e: DpoExample): number {
    const i = this.index.get(e);
    if (i === undefined) throw new Error('internal: a DPO example that is not in the dataset the reference cache was built for');
    return i;
  }

  /** The micro-batch's references, [chosen_0..chosen_P-1, rejected_0..rejected_P-1], as the dpoLoss kernel reads them. */
  async of(examples: DpoExample[]): Promise<Float32Array> {
    const todo = examples.filter((e) => {
      const i = this.pos(e);
      return Number.isNaN(this.values[2 * i]) || Number.isNaN(this.values[2 * i + 1]);
    });
    if (todo.length > 0) {
      const sums = await referenceLogps(this.gpu, this.model, this.adapters, todo, todo.length, this.padId);
      for (const [k, e] of todo.entries()) this.values.set(sums.subarray(2 * k, 2 * k + 2), 2 * this.pos(e));
      this.dirty = true;
    }
    const P = examples.length;
    const out = new Float32Array(2 * P);
    for (const [p, e] of examples.entries()) {
      const i = this.pos(e);
      out[p] = this.values[2 * i];
      out[P + p] = this.values[2 * i + 1];
    }
    return out;
  }
}

export interface SftEval {
  loss: number;
  num_tokens: number;
}

/** Token-weighted mean NLL over every completion token of the file, as SFT training logs its loss. */
export async function evaluateSft(
  gpu: Gpu,
  model: Model,
  adapters: LoraAdapter[],
  examples: SftExample[],
  batchSize: number,
  padId: number,
): Promise<SftEval> {
  const seqs = examples.map((e) => e.seq);
  const { sums, counts } = await sequenceLogps({ gpu, model, adapters, seqs, batchSize, padId });
  const tokens = counts.reduce((a, b) => a + b, 0);
  return { loss: sftLoss(-sums.reduce((a, b) => a + b, 0), tokens), num_tokens: tokens };
}

/**
 * DPO evaluation (TRL's metrics, objectives/dpo.ts): reference = `reference` adapters, policy = those plus `policy`
 * adapters. `referenceLogps`: the reference's log-probs of these pairs from an earlier call (evaluateDpoReference).
 */
export async function evaluateDpo(
  gpu: Gpu,
  model: Model,
  reference: LoraAdapter[],
  policy: LoraAdapter[],
  examples: DpoExample[],
  batchSize: number,
  padId: number,
  o: DpoOptions,
  referenceLogps?: SequenceLogps,
): Promise<Record<string, number>> {
  const seqs = examples.flatMap((e) => [e.chosen, e.rejected]);
  const ref = referenceLogps ?? (await evaluateDpoReference(gpu, model, reference, examples, batchSize, padId));
  const pol = await sequenceLogps({ gpu, model, adapters: [...reference, ...policy], seqs, batchSize: 2 * batchSize, padId });
  return dpoMetrics(pol, ref, o);
}

/** The reference log-probs evaluateDpo computes for `examples` (chosen, rejected interleaved), to pass to later calls. */
export function evaluateDpoReference(
  gpu: Gpu,
  model: Model,
  reference: LoraAdapter[],
  examples: DpoExample[],
  batchSize: number,
  padId: number,
): Promise<SequenceLogps> {
  const seqs = examples.flatMap((e) => [e.chosen, e.rejected]);
  return sequenceLogps({ gpu, model, adapters: reference, seqs, batchSize: 2 * batchSize, padId });
}
