// Objectives whose loss is a small function of per-sequence log-prob sums can form it on the host in float64, between
// the forward and the backward (KTO does; ORPO and SimPO train with the dpoLoss kernel and only evaluate here): the
// forward runs, the per-token log-probs are read back, the objective computes its loss and d(loss)/d(each sequence's
// sum), and those become the per-token loss weights the backward reads (dLoss/dNLL = -dLoss/dlogp). The backward is
// the one SFT and DPO use.
import { IGNORE_INDEX } from '@webtune/kernels';
import type { TokenBatch } from '../data/batch.ts';
import { type ObjectiveContext, trainingStep, writeInputs } from './objective.ts';

/** Per-row float64 sums of the log-probs of the rows' targets at positions >= from[s], and how many were summed. */
export interface RowSums {
  sums: Float64Array;
  counts: Float64Array;
}

/**
 * Sums in token order, as train/reference.ts sequenceLogps sums the reference: equal per-token log-probs (policy ==
 * reference at step 0) give equal sums, bit for bit.
 */
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

/**
 * One micro-batch: record the step, forward, hand the per-token log-probs to `weigh` (which returns the [B*T] loss
 * weights dLoss/dNLL), backward. Returns what `weigh` returned besides the weights. With no trained adapter
 * (evaluation) the forward runs without dropout and nothing goes backward.
 */
export async function forwardThenBackward<R>(
  ctx: ObjectiveContext,
  batch: TokenBatch,
  dropoutSeed: number,
  weigh: (logprobs: Float32Array) => R & { weights: Float32Array },
): Promise<R> {
  const { gpu } = ctx;
  if (ctx.adapter === null || ctx.grads === null) return weigh(await evalLogprobs(ctx, batch));
  const step = await trainingStep(ctx, batch.B, batch.T);
  writeInputs(gpu, step, batch);
  step.reseed(dropoutSeed);
  const [logprobs] = await gpu.runAndRead(step.forward, [step.logprobs]);
  const out = weigh(logprobs);
  gpu.write(step.lossWeights, out.weights);
  gpu.run(...step.backward);
  return out;
}

/** Evaluation's forward (no dropout, nothing backward): the per-token log-probs, read back. */
export async function evalLogprobs(ctx: ObjectiveContext, batch: TokenBatch): Promise<Float32Array> {
  const { gpu, model, frozen } = ctx;
  const step = await model.step(batch.B, batch.T, { frozen, train: false });
  writeInputs(gpu, step, batch);
  const [logprobs] = await gpu.runAndRead(step.forward, [step.logprobs]);
  return logprobs;
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
