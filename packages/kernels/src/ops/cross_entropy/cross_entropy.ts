// cross_entropy: fused log-softmax cross-entropy over a vocabulary (the LM head's loss), forward
// and in-place backward, never materialising a second vocab-sized buffer. Row i of the logits
// predicts target token i (the caller has already shifted).
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
  if (logits.dtype !== 'f32') throw new ShapeError(op, `logits must be f32, got ${logits.dtype}`);
  for (const [name, [t, dtype]] of Object.entries(rows)) {
    if (t.shape.length !== 1 || t.shape[0] !== N)
      throw new ShapeError(op, `${name} must be [${N}] for logits ${shapeStr(logits)}; got ${name} ${shapeStr(t)}`);
    if (t.dtype !== dtype) throw new ShapeError(op, `${name} must be ${dtype}, got ${t.dtype}`);
  }
  return [N, V];
}

/** WebGPU forbids one buffer bound both read-only and writable in a dispatch. */
function checkDisjoint(op: string, outputs: Record<string, Tensor>, inputs: Record<string, Tensor>): void {
  for (const [o, out] of Object.entries(outputs)) {
    for (const [i, input] of Object.entries(inputs)) {
      if (out.buffer === input.buffer) throw new ShapeError(op, `${o} must not share a buffer with ${i}`);
    }
  }
}

function overlap(a: Tensor, b: Tensor): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
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
  checkDisjoint(op, { logprobs: t.logprobs, lse: t.lse }, { logits: t.logits, targets: t.targets });
  if (overlap(t.logprobs, t.lse)) throw new ShapeError(op, 'logprobs and lse must not overlap');
  const u = new UniformWriter().u32(N).u32(V).u32(0).u32(0);
  const pipeline = await gpu.pipeline(FORWARD);
  const bindGroup = gpu.bind(pipeline, op, [gpu.uniform(u.bytes(), `${op} params`), t.logits, t.targets, t.logprobs, t.lse]);
  return [{ label: op, pipeline, bindGroup, workgroups: gpu.grid(N) }];
}

/**
 * In place: logits[i] <- weights[i] * (softmax(logits[i]) - onehot(targets[i])), the gradient of
 * sum_i weights[i] * NLL_i. Ignored rows and rows with weight 0 become exact zeros.
 * logits: [N, V] f32; targets: [N] u32; lse: [N] f32 from crossEntropyForward on the same logits;
 * weights: [N] f32 = dLoss/dNLL_i (mask / num_tokens for SFT, dpoLoss's weights for DPO).
 */
export async function crossEntropyBackward(
  gpu: Gpu,
  t: { logits: Tensor; targets: Tensor; lse: Tensor; weights: Tensor },
): Promise<Dispatch[]> {
  const op = 'cross_entropy backward';
  const [N, V] = checkShapes(op, t.logits, { targets: [t.targets, 'u32'], lse: [t.lse, 'f32'], weights: [t.weights, 'f32'] });
  checkDisjoint(op, { logits: t.logits }, { targets: t.targets, lse: t.lse, weights: t.weights });
  const chunks = Math.ceil(V / (BACKWARD_CONSTS.WG * BACKWARD_CONSTS.PER_THREAD));
  const groups = N * chunks;
  const u = new UniformWriter().u32(N).u32(V).u32(chunks).u32(groups);
  const pipeline = await gpu.pipeline(BACKWARD, BACKWARD_CONSTS);
  const bindGroup = gpu.bind(pipeline, op, [gpu.uniform(u.bytes(), `${op} params`), t.logits, t.targets, t.lse, t.weights]);
  return [{ label: op, pipeline, bindGroup, workgroups: gpu.grid(groups) }];
}
