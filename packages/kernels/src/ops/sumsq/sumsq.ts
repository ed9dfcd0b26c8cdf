// sumOfSquares: out[0] = sum of x^2 over a whole flat tensor (the global gradient norm squared).
import { ShapeError } from '../../runtime/errors.ts';
import type { Dispatch, Gpu } from '../../runtime/gpu.ts';
import { shapeStr, type Tensor } from '../../runtime/tensor.ts';
import { UniformWriter } from '../../runtime/uniform.ts';
import { requireDisjoint, requireF32 } from '../elementwise/checks.ts';
import source from './sumsq.wgsl?raw';

const KERNEL = { name: 'sumsq', source };
/** Threads per workgroup; each reads one vec4 per step of its grid-stride loop. */
const WG = 256;
/**
 * Most workgroups in the first pass: 256K threads keep a large GPU's memory busy, and the
 * second pass adds at most 16 partials per thread.
 */
const MAX_GROUPS = 1024;

function pass(gpu: Gpu, pipeline: GPUComputePipeline, label: string, x: Tensor, out: Tensor, groups: number): Dispatch {
  const u = new UniformWriter().u32(x.size).u32(groups * WG);
  const params = gpu.uniform(u.bytes(), `${label} params`);
  return { label, pipeline, bindGroup: gpu.bind(pipeline, label, [params, x, out]), workgroups: [groups, 1, 1] };
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
  const squares = await gpu.pipeline(KERNEL, { WG, SQUARE: true });
  if (groups === 1) return [pass(gpu, squares, op, x, out, 1)];
  const partials = gpu.tensor([groups], `${op} partials`);
  const sum = await gpu.pipeline(KERNEL, { WG, SQUARE: false });
  return [pass(gpu, squares, op, x, partials, groups), pass(gpu, sum, `${op} finish`, partials, out, 1)];
}
