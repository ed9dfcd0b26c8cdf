// Elementwise ops on flat f32 tensors (residual adds, gradient sums, fills, the Qwen2 q/k/v bias)
// and the race-free bias gradient.
import { ShapeError } from '../../runtime/errors.ts';
import type { Dispatch, Gpu, Kernel } from '../../runtime/gpu.ts';
import { shapeStr, type Tensor } from '../../runtime/tensor.ts';
import { UniformWriter } from '../../runtime/uniform.ts';
import biasGradSource from './bias_grad.wgsl?raw';
import { requireDisjoint, requireF32, requireFinite, requireSameShape } from './checks.ts';
import source from './elementwise.wgsl?raw';

/** Threads per workgroup; each thread owns 4 elements. */
const WG = 64;
/** Tunables of bias_grad.wgsl, as the host needs them for its grid. */
const BIAS_GRAD = { COLS: 64, LANES: 4, CHUNK: 256 };

// One kernel per entry point: the pipeline cache knows kernels by name.
const entry = (name: string, file: string, code: string): Kernel => ({ name: `${file}_${name}`, source: code, entryPoint: name });
const FILL = entry('fill', 'elementwise', source);
const SCALE = entry('scale', 'elementwise', source);
const AXPY = entry('axpy', 'elementwise', source);
const ADD = entry('add', 'elementwise', source);
const ADD_BIAS = entry('add_bias', 'elementwise', source);
const BIAS_PARTIAL_SUMS = entry('partial_sums', 'bias_grad', biasGradSource);
const BIAS_FINISH = entry('finish', 'bias_grad', biasGradSource);

/** One dispatch of an elementwise.wgsl entry point over `out`'s n elements; `inputs` follow `out`. */
async function elementwise(gpu: Gpu, op: string, kernel: Kernel, out: Tensor, inputs: Tensor[], alpha = 0, cols = 1): Promise<Dispatch[]> {
  const pipeline = await gpu.pipeline(kernel, { WG });
  const u = new UniformWriter().u32(out.size).f32(alpha).u32(cols);
  const params = gpu.uniform(u.bytes(), `${op} params`);
  return [
    {
      label: op,
      pipeline,
      bindGroup: gpu.bind(pipeline, op, [params, out, ...inputs]),
      workgroups: gpu.grid(Math.ceil(out.size / (4 * WG))),
    },
  ];
}

/** out = a + b, all the same shape; out must not overlap a or b. */
export async function add(gpu: Gpu, out: Tensor, a: Tensor, b: Tensor): Promise<Dispatch[]> {
  const named: [string, Tensor][] = [
    ['out', out],
    ['a', a],
    ['b', b],
  ];
  requireF32('add', named);
  requireSameShape('add', named);
  requireDisjoint('add', [['out', out]], named.slice(1));
  return elementwise(gpu, 'add', ADD, out, [a, b]);
}

/** y += alpha * x, in place; x and y the same shape, not overlapping. */
export async function axpy(gpu: Gpu, y: Tensor, x: Tensor, alpha: number): Promise<Dispatch[]> {
  const named: [string, Tensor][] = [
    ['y', y],
    ['x', x],
  ];
  requireF32('axpy', named);
  requireSameShape('axpy', named);
  requireDisjoint('axpy', [['y', y]], [['x', x]]);
  requireFinite('axpy', 'alpha', alpha);
  return elementwise(gpu, 'axpy', AXPY, y, [x], alpha);
}

/** x *= s, in place. */
export async function scale(gpu: Gpu, x: Tensor, s: number): Promise<Dispatch[]> {
  requireF32('scale', [['x', x]]);
  requireFinite('scale', 's', s);
  return elementwise(gpu, 'scale', SCALE, x, [], s);
}

/** x = value everywhere; x's old contents are never read. */
export async function fill(gpu: Gpu, x: Tensor, value: number): Promise<Dispatch[]> {
  requireF32('fill', [['x', x]]);
  requireFinite('fill', 'value', value);
  return elementwise(gpu, 'fill', FILL, x, [], value);
}

/** The D in y: [..., D], checked against a bias or its gradient: [D]. */
function checkBias(op: string, y: [string, Tensor], bias: [string, Tensor]): number {
  const D = y[1].shape.at(-1) ?? 0;
  if (y[1].shape.length < 1 || bias[1].shape.length !== 1 || bias[1].shape[0] !== D || D < 1) {
    throw new ShapeError(
      op,
      `${bias[0]} must be [D] for ${y[0]}: [..., D]; got ${y[0]} ${shapeStr(y[1])}, ${bias[0]} ${shapeStr(bias[1])}`,
    );
  }
  requireF32(op, [y, bias]);
  requireDisjoint(op, [y], [bias]);
  return D;
}

/** y: [..., D] += bias: [D] on every row, in place. */
export async function addBias(gpu: Gpu, y: Tensor, bias: Tensor): Promise<Dispatch[]> {
  const D = checkBias('addBias', ['y', y], ['bias', bias]);
  return elementwise(gpu, 'addBias', ADD_BIAS, y, [bias], 0, D);
}

export interface BiasGradOptions {
  /** Add to dbias instead of overwriting it (gradient accumulation). Default false: dbias is never read. */
  accumulate?: boolean;
}

/**
 * dbias: [D] (+)= sum over rows of dy: [..., D]. One dispatch when the rows fit one slab of
 * CHUNK rows; otherwise slab sums into a scratch tensor owned by the dispatches, then a pass
 * that adds them up. Deterministic: every sum runs in a fixed order.
 */
export async function biasGrad(gpu: Gpu, dbias: Tensor, dy: Tensor, options: BiasGradOptions = {}): Promise<Dispatch[]> {
  const op = 'biasGrad';
  const D = checkBias(op, ['dy', dy], ['dbias', dbias]);
  const rows = dy.size / D;
  const { COLS, CHUNK } = BIAS_GRAD;
  const colBlocks = Math.ceil(D / COLS);
  const chunks = Math.max(1, Math.ceil(rows / CHUNK));
  const params = (accumulate: boolean) => {
    const u = new UniformWriter()
      .u32(rows)
      .u32(D)
      .u32(chunks)
      .u32(colBlocks)
      .u32(accumulate ? 1 : 0);
    return gpu.uniform(u.bytes(), `${op} params`);
  };
  const accumulate = options.accumulate ?? false;
  const partialPipeline = await gpu.pipeline(BIAS_PARTIAL_SUMS, BIAS_GRAD);
  const slabSums = chunks > 1 ? gpu.tensor([chunks, D], `${op} slab sums`) : dbias;
  const partial: Dispatch = {
    label: op,
    pipeline: partialPipeline,
    bindGroup: gpu.bind(partialPipeline, op, [params(accumulate && chunks === 1), dy, slabSums]),
    workgroups: gpu.grid(colBlocks * chunks),
  };
  if (chunks === 1) return [partial];
  const finishPipeline = await gpu.pipeline(BIAS_FINISH, BIAS_GRAD);
  const finish: Dispatch = {
    label: `${op} finish`,
    pipeline: finishPipeline,
    bindGroup: gpu.bind(finishPipeline, `${op} finish`, [params(accumulate), slabSums, dbias]),
    workgroups: gpu.grid(colBlocks),
  };
  return [partial, finish];
}
