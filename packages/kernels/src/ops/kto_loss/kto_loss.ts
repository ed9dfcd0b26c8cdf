// kto_loss: KTO's loss as TRL's KTOTrainer defines it (loss types "kto" and "apo_zero_unpaired"), on the per-token
// log-probs of crossEntropyForward: each row's summed completion log-probs, the detached KL baseline from the KL rows'
// sums, the weighted per-row losses, and the per-token weights dLoss/dNLL that crossEntropyBackward turns into the
// logits' gradient.
import { type Expected, type Named, requireDisjoint, requireShapes } from '../../runtime/checks.ts';
import { ShapeError } from '../../runtime/errors.ts';
import type { Dispatch, Gpu } from '../../runtime/gpu.ts';
import { shapeStr, type Tensor } from '../../runtime/tensor.ts';
import { UniformWriter } from '../../runtime/uniform.ts';
import { wholeRowSums } from '../dpo_loss/dpo_loss.ts';
import source from './kto_loss.wgsl?raw';

const KERNEL = { name: 'kto_loss', source };

export type KtoLossType = 'kto' | 'apo_zero_unpaired';

/** The uniform's loss_type codes in kto_loss.wgsl. */
const LOSS_CODES: Record<KtoLossType, number> = { kto: 0, apo_zero_unpaired: 1 };

export interface KtoOptions {
  /** TRL's beta; > 0. */
  beta: number;
  lossType: KtoLossType;
  /** Rows in the whole optimizer step, over all its accumulated micro-batches: the loss is their mean. */
  rowsTotal: number;
}

export interface KtoTensors {
  /** [n, T] the policy's per-token log-probs of n rows (ignored targets' 0, as crossEntropyForward writes them). */
  logprobs: Tensor;
  /** [n] the reference's row sums. */
  refLogps: Tensor;
  /** [n] desirable_weight for a desirable row, -undesirable_weight for an undesirable one. */
  labelWeights: Tensor;
  /** [n] the policy's sums of the KL rows (wholeRowSums of their forward); read for kto only. */
  klLogps: Tensor;
  /** [n] the reference's sums of the KL rows; read for kto only. */
  refKlLogps: Tensor;
  /** [n] out: the policy's row sums. */
  seqLogps: Tensor;
  /** [n] out: the weighted per-row losses, not normalised. */
  losses: Tensor;
  /** [1] out: the clamped KL baseline (0 for apo_zero_unpaired). */
  kl: Tensor;
  /** [n, T] out: dLoss/dNLL at every position of each row, Loss = sum of losses / rowsTotal. */
  weights: Tensor;
}

function checkOptions(op: string, o: KtoOptions, n: number): void {
  if (!(o.beta > 0 && Number.isFinite(o.beta))) throw new RangeError(`${op}: beta must be a positive number, got ${o.beta}`);
  if (!Object.hasOwn(LOSS_CODES, o.lossType)) throw new RangeError(`${op}: lossType must be kto or apo_zero_unpaired; got ${o.lossType}`);
  if (!Number.isInteger(o.rowsTotal) || o.rowsTotal < n) {
    throw new RangeError(`${op}: rowsTotal must be an integer >= the ${n} rows of this micro-batch, got ${o.rowsTotal}`);
  }
}

/**
 * Two dispatches: the rows' sums (seqLogps), then per row the KL baseline, its loss and its T weights. Shapes as
 * KtoTensors, all f32; n >= 1, T >= 1. The outputs may share one buffer (without overlapping), but not a buffer with
 * the inputs.
 */
export async function ktoLoss(gpu: Gpu, t: KtoTensors, options: KtoOptions): Promise<Dispatch[]> {
  const op = 'kto_loss';
  const [n, T] = t.logprobs.shape;
  if (t.logprobs.shape.length !== 2 || n < 1 || T < 1) {
    throw new ShapeError(op, `logprobs must be [n, T] with n, T >= 1; got logprobs ${shapeStr(t.logprobs)}`);
  }
  const inputs: Expected[] = [
    ['logprobs', t.logprobs, [n, T]],
    ['refLogps', t.refLogps, [n]],
    ['labelWeights', t.labelWeights, [n]],
    ['klLogps', t.klLogps, [n]],
    ['refKlLogps', t.refKlLogps, [n]],
  ];
  const outputs: Expected[] = [
    ['seqLogps', t.seqLogps, [n]],
    ['losses', t.losses, [n]],
    ['kl', t.kl, [1]],
    ['weights', t.weights, [n, T]],
  ];
  requireShapes(op, [...inputs, ...outputs], `logprobs ${shapeStr(t.logprobs)}`);
  const named = (e: Expected[]): Named => e.map(([name, tensor]) => [name, tensor]);
  requireDisjoint(op, named(outputs), named(inputs));
  checkOptions(op, options, n);

  const sums = await wholeRowSums(gpu, `${op} sums`, t.logprobs, t.seqLogps);
  const params = new UniformWriter().u32(n).u32(T).u32(LOSS_CODES[options.lossType]).u32(0);
  params.f32(options.beta).f32(options.rowsTotal).f32(0).f32(0);
  const rows = await gpu.dispatch(op, {
    kernel: KERNEL,
    params: params.bytes(),
    bind: [t.seqLogps, t.refLogps, t.labelWeights, t.klLogps, t.refKlLogps, t.losses, t.kl, t.weights],
    groups: n,
  });
  return [sums, rows];
}
