// dpo_loss: the DPO paired-logprob loss as TRL's DPOTrainer defines it, on the per-token
// log-probs of crossEntropyForward: masked sequence sums, pair losses and rewards, and the
// per-token weights dLoss/dNLL that crossEntropyBackward turns into the logits' gradient.
import { ShapeError } from '../../runtime/errors.ts';
import type { Dispatch, Gpu } from '../../runtime/gpu.ts';
import { shapeStr, type Tensor } from '../../runtime/tensor.ts';
import { UniformWriter } from '../../runtime/uniform.ts';
import source from './dpo_loss.wgsl?raw';
import sumsSource from './dpo_loss_sums.wgsl?raw';

const PAIRS = { name: 'dpo_loss', source };
const SUMS = { name: 'dpo_loss_sums', source: sumsSource };

export type DpoLossType = 'sigmoid' | 'ipo' | 'hinge';

/** The uniform's loss_type codes in dpo_loss.wgsl. */
const LOSS_CODES: Record<DpoLossType, number> = { sigmoid: 0, ipo: 1, hinge: 2 };

export interface DpoOptions {
  /** TRL's beta (IPO's tau); > 0. */
  beta: number;
  lossType: DpoLossType;
  /** cDPO label smoothing in [0, 0.5]; only the sigmoid loss uses it (TRL ignores it for ipo and hinge). */
  labelSmoothing: number;
  /** Pairs in the whole optimizer step, over all its accumulated micro-batches: the loss is their mean. */
  pairsTotal: number;
}

export interface DpoTensors {
  /** [2P, T] per-token log-probs; rows 0..P-1 the chosen completions, P..2P-1 the rejected ones. */
  logprobs: Tensor;
  /** [2P, T] 1 on completion tokens, 0 on prompt and padding (whose log-probs are not read). */
  mask: Tensor;
  /** [2P] the reference model's sums of completion log-probs. */
  refLogps: Tensor;
  /** [2P] out: the policy's sums of completion log-probs. */
  seqLogps: Tensor;
  /** [2P] out: completion tokens per sequence (sum of mask). */
  counts: Tensor;
  /** [P] out: per-pair losses, not normalised. */
  losses: Tensor;
  /** [P] out: beta * (policy - reference) log-prob of each chosen / rejected completion (averaged for ipo). */
  chosenRewards: Tensor;
  rejectedRewards: Tensor;
  /** [2P, T] out: dLoss/dNLL per token, Loss = sum of losses / pairsTotal; the weights for crossEntropyBackward. */
  weights: Tensor;
}

function checkOptions(op: string, o: DpoOptions, P: number): void {
  if (!(o.beta > 0 && Number.isFinite(o.beta))) throw new RangeError(`${op}: beta must be a positive number, got ${o.beta}`);
  if (!Object.hasOwn(LOSS_CODES, o.lossType)) throw new RangeError(`${op}: lossType must be sigmoid, ipo or hinge; got ${o.lossType}`);
  if (!(o.labelSmoothing >= 0 && o.labelSmoothing <= 0.5))
    throw new RangeError(`${op}: labelSmoothing must be in [0, 0.5], got ${o.labelSmoothing}`);
  if (!Number.isInteger(o.pairsTotal) || o.pairsTotal < P) {
    throw new RangeError(`${op}: pairsTotal must be an integer >= the ${P} pairs of this micro-batch, got ${o.pairsTotal}`);
  }
}

function overlap(a: Tensor, b: Tensor): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/**
 * Two dispatches: per-sequence masked sums (seqLogps, counts), then per pair the loss, rewards
 * and every token's weight. Shapes as DpoTensors, all f32; P >= 1, T >= 1. The outputs may share
 * one buffer (without overlapping), but not a buffer with the inputs.
 */
export async function dpoLoss(gpu: Gpu, t: DpoTensors, options: DpoOptions): Promise<Dispatch[]> {
  const op = 'dpo_loss';
  const [S, T] = t.logprobs.shape;
  if (t.logprobs.shape.length !== 2 || S < 2 || S % 2 !== 0 || T < 1) {
    throw new ShapeError(op, `logprobs must be [2P, T] with P, T >= 1; got logprobs ${shapeStr(t.logprobs)}`);
  }
  const P = S / 2;
  const expected: Record<keyof DpoTensors, number[]> = {
    logprobs: [S, T],
    mask: [S, T],
    refLogps: [S],
    seqLogps: [S],
    counts: [S],
    losses: [P],
    chosenRewards: [P],
    rejectedRewards: [P],
    weights: [S, T],
  };
  for (const [name, shape] of Object.entries(expected) as [keyof DpoTensors, number[]][]) {
    const x = t[name];
    if (x.shape.length !== shape.length || x.shape.some((d, i) => d !== shape[i])) {
      throw new ShapeError(op, `${name} must be [${shape.join(', ')}] for logprobs ${shapeStr(t.logprobs)}; got ${name} ${shapeStr(x)}`);
    }
    if (x.dtype !== 'f32') throw new ShapeError(op, `${name} must be f32, got ${x.dtype}`);
  }
  const inputs = { logprobs: t.logprobs, mask: t.mask, refLogps: t.refLogps };
  const outputs = Object.entries({
    seqLogps: t.seqLogps,
    counts: t.counts,
    losses: t.losses,
    chosenRewards: t.chosenRewards,
    rejectedRewards: t.rejectedRewards,
    weights: t.weights,
  });
  for (const [o, out] of outputs) {
    // WebGPU forbids one buffer bound both read-only and writable in a dispatch.
    for (const [i, input] of Object.entries(inputs)) {
      if (out.buffer === input.buffer) throw new ShapeError(op, `${o} must not share a buffer with ${i}`);
    }
  }
  for (const [k, [a, x]] of outputs.entries()) {
    for (const [b, y] of outputs.slice(k + 1)) if (overlap(x, y)) throw new ShapeError(op, `${a} and ${b} must not overlap`);
  }
  checkOptions(op, options, P);

  const sumsPipeline = await gpu.pipeline(SUMS);
  const sumsParams = new UniformWriter().u32(S).u32(T).u32(0).u32(0);
  const sums: Dispatch = {
    label: `${op} sums`,
    pipeline: sumsPipeline,
    bindGroup: gpu.bind(sumsPipeline, `${op} sums`, [
      gpu.uniform(sumsParams.bytes(), `${op} sums params`),
      t.logprobs,
      t.mask,
      t.seqLogps,
      t.counts,
    ]),
    workgroups: gpu.grid(S),
  };
  const pairsPipeline = await gpu.pipeline(PAIRS);
  const u = new UniformWriter().u32(P).u32(T).u32(LOSS_CODES[options.lossType]).u32(0);
  u.f32(options.beta).f32(options.labelSmoothing).f32(options.pairsTotal).u32(0);
  const pairs: Dispatch = {
    label: op,
    pipeline: pairsPipeline,
    bindGroup: gpu.bind(pairsPipeline, op, [
      gpu.uniform(u.bytes(), `${op} params`),
      t.seqLogps,
      t.counts,
      t.refLogps,
      t.mask,
      t.losses,
      t.chosenRewards,
      t.rejectedRewards,
      t.weights,
    ]),
    workgroups: gpu.grid(S),
  };
  return [sums, pairs];
}
