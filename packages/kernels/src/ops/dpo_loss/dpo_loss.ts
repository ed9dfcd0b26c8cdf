// dpo_loss: the DPO paired-logprob loss as TRL's DPOTrainer defines it (and SimPO's, TRL's CPOTrainer with
// loss_type "simpo", and ORPO's odds-ratio loss, TRL's ORPOTrainer), on the per-token log-probs of
// crossEntropyForward: masked sequence sums, pair losses and rewards, and the per-token weights dLoss/dNLL that
// crossEntropyBackward turns into the logits' gradient.
import { type Expected, type Named, requireDisjoint, requireShapes } from '../../runtime/checks.ts';
import { ShapeError } from '../../runtime/errors.ts';
import type { Dispatch, Gpu } from '../../runtime/gpu.ts';
import { shapeStr, type Tensor } from '../../runtime/tensor.ts';
import { UniformWriter } from '../../runtime/uniform.ts';
import source from './dpo_loss.wgsl?raw';
import sumsSource from './dpo_loss_sums.wgsl?raw';

const PAIRS = { name: 'dpo_loss', source };
const SUMS = { name: 'dpo_loss_sums', source: sumsSource };

export type DpoLossType = 'sigmoid' | 'ipo' | 'hinge';
/**
 * What the kernel computes: DPO's loss types, SimPO's (no reference, averaged log-probs, a margin) and ORPO's (no
 * reference, the log odds ratio of the averaged log-probs).
 */
export type PairLossType = DpoLossType | 'simpo' | 'orpo';

/** The uniform's loss_type codes in dpo_loss.wgsl. */
const LOSS_CODES: Record<PairLossType, number> = { sigmoid: 0, ipo: 1, hinge: 2, simpo: 3, orpo: 4 };

export interface DpoOptions {
  /** TRL's beta (IPO's tau); > 0. */
  beta: number;
  lossType: PairLossType;
  /** cDPO label smoothing in [0, 0.5]; only the sigmoid and simpo losses use it (TRL ignores it for ipo and hinge). */
  labelSmoothing: number;
  /** simpo: the target margin gamma / beta, subtracted from z (default 0). */
  gammaOverBeta?: number;
  /**
   * Added to chosen rows' weights (default 0). simpo: on each completion token, CPO's NLL term (cpo_alpha / the
   * step's chosen completion tokens). orpo: at every position of the row, the NLL over prompt and completion (1 / the
   * step's chosen targets); crossEntropyBackward drops it on ignored targets.
   */
  chosenWeight?: number;
  /** Pairs in the whole optimizer step, over all its accumulated micro-batches: the loss is their mean. */
  pairsTotal: number;
}

export interface DpoTensors {
  /** [2P, T] per-token log-probs; rows 0..P-1 the chosen completions, P..2P-1 the rejected ones. */
  logprobs: Tensor;
  /** [2P, T] 1 on completion tokens, 0 on prompt and padding (whose log-probs are not read). */
  mask: Tensor;
  /** [2P] the reference model's sums of completion log-probs (not read for simpo and orpo). */
  refLogps: Tensor;
  /** [2P] out: the policy's sums of completion log-probs. */
  seqLogps: Tensor;
  /** [2P] out: completion tokens per sequence (sum of mask). */
  counts: Tensor;
  /** [P] out: per-pair losses, not normalised. */
  losses: Tensor;
  /** [P] out: beta * (policy - reference) log-prob of each chosen / rejected completion (averaged for ipo and simpo; simpo has no reference). */
  chosenRewards: Tensor;
  rejectedRewards: Tensor;
  /** [2P, T] out: dLoss/dNLL per token, Loss = sum of losses / pairsTotal; the weights for crossEntropyBackward. */
  weights: Tensor;
  /**
   * [2P] out, orpo only (required there): each row's sum of log-probs over all T positions, prompt included (ignored
   * targets' are 0), for ORPO's NLL metric.
   */
  rowLogps?: Tensor;
}

function checkOptions(op: string, o: DpoOptions, P: number): void {
  if (!(o.beta > 0 && Number.isFinite(o.beta))) throw new RangeError(`${op}: beta must be a positive number, got ${o.beta}`);
  if (!Object.hasOwn(LOSS_CODES, o.lossType))
    throw new RangeError(`${op}: lossType must be sigmoid, ipo, hinge, simpo or orpo; got ${o.lossType}`);
  if (!Number.isFinite(o.gammaOverBeta ?? 0)) throw new RangeError(`${op}: gammaOverBeta must be finite, got ${o.gammaOverBeta}`);
  if (!((o.chosenWeight ?? 0) >= 0 && Number.isFinite(o.chosenWeight ?? 0)))
    throw new RangeError(`${op}: chosenWeight must be a finite number >= 0, got ${o.chosenWeight}`);
  if (!(o.labelSmoothing >= 0 && o.labelSmoothing <= 0.5))
    throw new RangeError(`${op}: labelSmoothing must be in [0, 0.5], got ${o.labelSmoothing}`);
  if (!Number.isInteger(o.pairsTotal) || o.pairsTotal < P) {
    throw new RangeError(`${op}: pairsTotal must be an integer >= the ${P} pairs of this micro-batch, got ${o.pairsTotal}`);
  }
}

/**
 * One dispatch: out[s] = the sum of logprobs[s, t] over all T positions ([S, T] into [S]; crossEntropyForward's
 * log-probs of ignored targets are 0, so it sums the row's targets): ORPO's NLL metric, KTO's rows. `out` must not
 * share a buffer with `logprobs`.
 */
export async function wholeRowSums(gpu: Gpu, label: string, logprobs: Tensor, out: Tensor): Promise<Dispatch> {
  const [S, T] = logprobs.shape;
  if (logprobs.shape.length !== 2 || S < 1 || T < 1) {
    throw new ShapeError(label, `logprobs must be [S, T] with S, T >= 1; got logprobs ${shapeStr(logprobs)}`);
  }
  requireShapes(label, [['out', out, [S]]], `logprobs ${shapeStr(logprobs)}`);
  requireDisjoint(label, [['out', out]], [['logprobs', logprobs]]);
  return gpu.dispatch(label, {
    kernel: SUMS,
    params: new UniformWriter().u32(S).u32(T).u32(1).u32(0).bytes(),
    // whole_row reads no mask and writes no counts: logprobs fills the one binding, a scratch the other.
    bind: [logprobs, logprobs, out, gpu.scratch('whole row sums: counts, unwritten', S)],
    groups: S,
  });
}

/**
 * Two dispatches: per-sequence masked sums (seqLogps, counts), then per pair the loss, rewards
 * and every token's weight; orpo adds a third, the whole rows' sums (rowLogps). Shapes as
 * DpoTensors, all f32; P >= 1, T >= 1. The outputs may share one buffer (without overlapping),
 * but not a buffer with the inputs.
 */
export async function dpoLoss(gpu: Gpu, t: DpoTensors, options: DpoOptions): Promise<Dispatch[]> {
  const op = 'dpo_loss';
  const [S, T] = t.logprobs.shape;
  if (t.logprobs.shape.length !== 2 || S < 2 || S % 2 !== 0 || T < 1) {
    throw new ShapeError(op, `logprobs must be [2P, T] with P, T >= 1; got logprobs ${shapeStr(t.logprobs)}`);
  }
  const P = S / 2;
  const inputs: Expected[] = [
    ['logprobs', t.logprobs, [S, T]],
    ['mask', t.mask, [S, T]],
    ['refLogps', t.refLogps, [S]],
  ];
  const outputs: Expected[] = [
    ['seqLogps', t.seqLogps, [S]],
    ['counts', t.counts, [S]],
    ['losses', t.losses, [P]],
    ['chosenRewards', t.chosenRewards, [P]],
    ['rejectedRewards', t.rejectedRewards, [P]],
    ['weights', t.weights, [S, T]],
  ];
  const orpo = options.lossType === 'orpo';
  if (orpo) {
    if (!t.rowLogps) throw new ShapeError(op, "orpo needs rowLogps, a [2P] output for the whole rows' log-prob sums");
    outputs.push(['rowLogps', t.rowLogps, [S]]);
  }
  requireShapes(op, [...inputs, ...outputs], `logprobs ${shapeStr(t.logprobs)}`);
  // Every output is bound writable (dpo_loss.wgsl binds seqLogps and counts read_write for this).
  const named = (e: Expected[]): Named => e.map(([name, tensor]) => [name, tensor]);
  requireDisjoint(op, named(outputs), named(inputs));
  checkOptions(op, options, P);

  const sums = await gpu.dispatch(`${op} sums`, {
    kernel: SUMS,
    params: new UniformWriter().u32(S).u32(T).u32(0).u32(0).bytes(),
    bind: [t.logprobs, t.mask, t.seqLogps, t.counts],
    groups: S,
  });
  const rows = orpo ? [await wholeRowSums(gpu, `${op} row sums`, t.logprobs, t.rowLogps as Tensor)] : [];
  const u = new UniformWriter()
    .u32(P)
    .u32(T)
    .u32(LOSS_CODES[options.lossType])
    .f32(options.gammaOverBeta ?? 0);
  u.f32(options.beta)
    .f32(options.labelSmoothing)
    .f32(options.pairsTotal)
    .f32(options.chosenWeight ?? 0);
  const pairs = await gpu.dispatch(op, {
    kernel: PAIRS,
    params: u.bytes(),
    bind: [t.seqLogps, t.counts, t.refLogps, t.mask, t.losses, t.chosenRewards, t.rejectedRewards, t.weights],
    groups: S,
  });
  return [sums, ...rows, pairs];
}
