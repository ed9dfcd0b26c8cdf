// sumOfSquares: out[0] = sum of x^2 over a whole flat tensor (the global gradient norm squared).
import { requireDisjoint, requireF32 } from '../../runtime/checks.ts';
import { ShapeError } from '../../runtime/errors.ts';
import type { Dispatch, Gpu } from '../../runtime/gpu.ts';
import { shapeStr, type Tensor } from '../../runtime/tensor.ts';
import { UniformWriter } from '../../runtime/uniform.ts';
import source from './sumsq.wgsl?raw';

const KERNEL = { name: 'sumsq', source };
/** Threads per workgroup; each reads one vec4 per step of its grid-stride loop. */
const WG = 256;
/**
 * Most workgroups in the first pass: 256K threads keep a large GPU's memory busy, and the
 * second pass adds at most 16 partials per thread.
 */
const MAX_GROUPS = 1024;

/** One pass of sumsq.wgsl: `groups` workgroups sum (the squares of) x into out[0, groups). */
function pass(gpu: Gpu, label: string, square: boolean, x: Tensor, out: Tensor, groups: number): Promise<Dispatch> {
  const params = new UniformWriter()
    .u32(x.size)
    .u32(groups * WG)
    .u32(groups)
    .bytes();
  return gpu.dispatch(label, { kernel: KERNEL, consts: { WG, SQUARE: square }, params, bind: [x, out], groups });
}

/**
 * out: [1] = sum of x^2 over every element of x: [...]. Per-workgroup partials into a scratch
 * tensor owned by the dispatches, then one workgroup adds them up; a single dispatch when one
 * workgroup covers x. Read back sqrt(out) for the gradient norm.
 */
export async function sumOfSquares(gpu: Gpu, out: Tensor, x: Tensor): Promise<Dispatch[]> {
  const op = 'sumOfSquares';
  if (out.size !== 1) throw new ShapeError(op, `out must hold one element; got out ${shapeStr(out)} for x ${shapeStr(x)}`);
  requireF32(op, [
    ['out', out],
    ['x', x],
  ]);
  requireDisjoint(op, [['out', out]], [['x', x]]);
  const groups = Math.min(MAX_GROUPS, Math.max(1, Math.ceil(x.size / (4 * WG))));
  if (groups === 1) return [await pass(gpu, op, true, x, out, 1)];
  const partials = gpu.tensor([groups], `${op} partials`);
  return [await pass(gpu, op, true, x, partials, groups), await pass(gpu, `${op} finish`, false, partials, out, 1)];
}
