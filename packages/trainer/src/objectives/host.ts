// The host side of the objectives whose loss is a small function of per-sequence log-prob sums (KTO, ORPO, SimPO):
// training forms it on the GPU (the dpoLoss and ktoLoss kernels); evaluation, with nothing to backpropagate, reads the
// forward's per-token log-probs (or their sums) and forms the metrics here in float64. And the reference's sums.
import { type Gpu, IGNORE_INDEX, wholeRowSums } from '@webtune/kernels';
import { sftBatch, type TokenBatch } from '../data/batch.ts';
import type { Sequence } from '../data/tokenize.ts';
import type { Step } from '../model/decoder.ts';
import type { LoraAdapter } from '../model/lora.ts';
import type { Model } from '../model/model.ts';
import { type ObjectiveContext, writeInputs } from './objective.ts';

/** Per-row float64 sums of the log-probs of the rows' targets at positions >= from[s], and how many were summed. */
export interface RowSums {
  sums: Float64Array;
  counts: Float64Array;
}

/** Float64 sums in token order (ORPO's and SimPO's evaluation: no reference to agree with). */
export function rowSums(logprobs: ArrayLike<number>, batch: TokenBatch, from: (s: number) => number = () => 0): RowSums {
  const sums = new Float64Array(batch.B);
  const counts = new Float64Array(batch.B);
  for (let s = 0; s < batch.B; s++) {
    for (let t = from(s); t < batch.T; t++) {
      const i = s * batch.T + t;
      if (batch.targets[i] === IGNORE_INDEX) continue;
      sums[s] += logprobs[i];
      counts[s] += 1;
    }
  }
  return { sums, counts };
}

/** Evaluation's forward (no dropout, nothing backward): the per-token log-probs, read back. */
export async function evalLogprobs(ctx: ObjectiveContext, batch: TokenBatch): Promise<Float32Array> {
  const { gpu, model, frozen } = ctx;
  const step = await model.step(batch.B, batch.T, { frozen, train: false });
  writeInputs(gpu, step, batch);
  const [logprobs] = await gpu.runAndRead(step.forward, [step.logprobs]);
  return logprobs;
}

/** Forward passes with no backward (a reference, an evaluation): `seqs` through `model` with `adapters` applied. */
export interface ForwardPasses {
  gpu: Gpu;
  model: Model;
  adapters: LoraAdapter[];
  seqs: Sequence[];
  /** Sequences a forward. */
  batchSize: number;
  padId: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Each sequence's sum of its targets' log-probs under `adapters`, `batchSize` sequences a forward, as float32. They are
 * summed on the GPU by wholeRowSums, the kernel that sums the policy's rows in training (ktoLoss's first dispatch;
 * dpoLoss's masked sums add the same terms in the same order, the ignored targets' log-probs being exactly 0): float32,
 * in an order fixed by token position, so independent of the batch layout and padding. The per-token log-probs of
 * policy and reference agree bit for bit while the trained adapter is still zero, so the sums do too, and the first
 * step sees exactly the reference: DPO's loss ln 2 and rewards 0, KTO's rewards and KL 0, as TRL (which sums both the
 * same way). Summed in float64 on the host instead, the reference differed from the policy's float32 sum by up to an
 * ulp of the sum.
 */
export async function targetLogpSums(passes: ForwardPasses): Promise<Float32Array> {
  const { gpu } = passes;
  const out = new Float32Array(passes.seqs.length);
  const chunk = async (step: Step, batch: TokenBatch, start: number) => {
    const sums = gpu.tensor([batch.B], 'target log-prob sums');
    gpu.run(...step.forward, await wholeRowSums(gpu, 'target log-prob sums', step.logprobs.view([batch.B, batch.T]), sums));
    out.set(await gpu.read(sums), start);
    sums.buffer.destroy();
  };
  await forwardInChunks(passes, chunk);
  return out;
}

/**
 * Each chunk of `passes`: its step with its inputs written, for `run` to record, submit and read (its first row is
 * seqs[start]).
 */
export async function forwardInChunks(
  { gpu, model, adapters, seqs, batchSize, padId, onProgress }: ForwardPasses,
  run: (step: Step, batch: TokenBatch, start: number) => Promise<void>,
): Promise<void> {
  for (let start = 0; start < seqs.length; start += batchSize) {
    const batch = sftBatch(
      seqs.slice(start, start + batchSize).map((seq, i) => ({ line: start + i, seq })),
      padId,
    );
    const step = await model.step(batch.B, batch.T, { frozen: adapters, train: false });
    writeInputs(gpu, step, batch);
    await run(step, batch, start);
    onProgress?.(Math.min(seqs.length, start + batchSize), seqs.length);
  }
}

/** Loss weights: row s's targets at positions >= from(s) weigh perRow[s] (rows and positions else 0). */
export function rowWeights(batch: TokenBatch, perRow: ArrayLike<number>, from: (s: number) => number = () => 0): Float32Array {
  const w = new Float32Array(batch.B * batch.T);
  for (let s = 0; s < batch.B; s++) {
    for (let t = from(s); t < batch.T; t++) {
      const i = s * batch.T + t;
      if (batch.targets[i] !== IGNORE_INDEX) w[i] = perRow[s];
    }
  }
  return w;
}

export const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

export const logSigmoid = (x: number) => (x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x)));
