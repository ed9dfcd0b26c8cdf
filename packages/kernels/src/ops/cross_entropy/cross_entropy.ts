// cross_entropy: fused log-softmax cross-entropy over a vocabulary (the LM head's loss), forward
// and in-place backward, never materialising a second vocab-sized buffer. Row i of the logits
// predicts target token i (the caller has already shifted).
import { requireDisjoint, requireShapes } from '../../runtime/checks.ts';
import { ShapeError } from '../../runtime/errors.ts';
import type { Dispatch, Gpu } from '../../runtime/gpu.ts';
import { type DType, shapeStr, type Tensor } from '../../runtime/tensor.ts';
import { UniformWriter } from '../../runtime/uniform.ts';
import source from './cross_entropy.wgsl?raw';
import backwardSource from './cross_entropy_backward.wgsl?raw';

const FORWARD = { name: 'cross_entropy', source };
const BACKWARD = { name: 'cross_entropy_backward', source: backwardSource };
/** The backward's workgroup covers WG * PER_THREAD columns of a row. */
const BACKWARD_CONSTS = { WG: 256, PER_THREAD: 8 };

/** A target that contributes nothing (as does any target >= V). */
export const IGNORE_INDEX = 0xffffffff;

/** [N, V] from the logits, after checking every per-row tensor is [N] of its dtype. */
function checkShapes(op: string, logits: Tensor, rows: Record<string, [Tensor, DType]>): [number, number] {
  const [N, V] = logits.shape;
  if (logits.shape.length !== 2 || N < 1 || V < 1)
    throw new ShapeError(op, `logits must be [N, V] with N, V >= 1; got logits ${shapeStr(logits)}`);
  requireShapes(
    op,
    [['logits', logits, logits.shape], ...Object.entries(rows).map(([name, [t, dtype]]) => [name, t, [N], dtype] as const)],
    `logits ${shapeStr(logits)}`,
  );
  return [N, V];
}

/**
 * lse[i] = logsumexp(logits[i]) and logprobs[i] = logits[i, targets[i]] - lse[i], exactly 0 for
 * ignored rows (targets[i] >= V, e.g. IGNORE_INDEX). lse is computed for every row and is what
 * crossEntropyBackward needs. logits: [N, V] f32; targets: [N] u32; logprobs, lse: [N] f32.
 */
export async function crossEntropyForward(
  gpu: Gpu,
  t: { logits: Tensor; targets: Tensor; logprobs: Tensor; lse: Tensor },
): Promise<Dispatch[]> {
  const op = 'cross_entropy';
  const [N, V] = checkShapes(op, t.logits, { targets: [t.targets, 'u32'], logprobs: [t.logprobs, 'f32'], lse: [t.lse, 'f32'] });
  requireDisjoint(
    op,
    [
      ['logprobs', t.logprobs],
      ['lse', t.lse],
    ],
    [
      ['logits', t.logits],
      ['targets', t.targets],
    ],
  );
  const params = new UniformWriter().u32(N).u32(V).u32(0).u32(0).bytes();
  return [await gpu.dispatch(op, { kernel: FORWARD, params, bind: [t.logits, t.targets, t.logprobs, t.lse], groups: N })];
}

/**
 * In place: logits[i] <- weights[i] * (softmax(logits[i]) - onehot(targets[i])), the gradient of
 * sum_i weights[i] * NLL_i. Ignored rows and rows with weight 0 become exact zeros. With `softcap`, the logits are
 * y = cap * tanh(z / cap) (the softcap op, run before crossEntropyForward) and the result is the gradient w.r.t. z.
 * logits: [N, V] f32; targets: [N] u32; lse: [N] f32 from crossEntropyForward on the same logits;
 * weights: [N] f32 = dLoss/dNLL_i (mask / num_tokens for SFT, dpoLoss's weights for DPO).
 */
export async function crossEntropyBackward(
  gpu: Gpu,
  t: { logits: Tensor; targets: Tensor; lse: Tensor; weights: Tensor },
  options: { softcap?: number } = {},
): Promise<Dispatch[]> {
  const op = 'cross_entropy backward';
  const cap = options.softcap ?? 0;
  if (!Number.isFinite(cap) || cap < 0) throw new ShapeError(op, `softcap must be a positive number (or absent), got ${cap}`);
  const [N, V] = checkShapes(op, t.logits, { targets: [t.targets, 'u32'], lse: [t.lse, 'f32'], weights: [t.weights, 'f32'] });
  requireDisjoint(
    op,
    [['logits', t.logits]],
    [
      ['targets', t.targets],
      ['lse', t.lse],
      ['weights', t.weights],
    ],
  );
  const chunks = Math.ceil(V / (BACKWARD_CONSTS.WG * BACKWARD_CONSTS.PER_THREAD));
  const groups = N * chunks;
  const params = new UniformWriter().u32(N).u32(V).u32(chunks).u32(groups).f32(cap).u32(0).u32(0).u32(0).bytes();
  const bind = [t.logits, t.targets, t.lse, t.weights];
  return [await gpu.dispatch(op, { kernel: BACKWARD, consts: BACKWARD_CONSTS, params, bind, groups })];
}
