// Elementwise ops on flat f32 tensors (residual adds, gradient sums, fills, the Qwen2 q/k/v bias)
// and the race-free bias gradient.
import { requireDisjoint, requireElementwise, requireF32, requireFinite } from '../../runtime/checks.ts';
import { ShapeError } from '../../runtime/errors.ts';
import type { Dispatch, Gpu, Kernel } from '../../runtime/gpu.ts';
import { shapeStr, type Tensor } from '../../runtime/tensor.ts';
import { UniformWriter } from '../../runtime/uniform.ts';
import biasGradSource from './bias_grad.wgsl?raw';
import source from './elementwise.wgsl?raw';

/** Threads per workgroup; each thread owns 4 elements. */
const WG = 64;
/** Tunables of bias_grad.wgsl, as the host needs them for its grid. */
const BIAS_GRAD = { COLS: 64, LANES: 4, CHUNK: 256 };

// Named by file, so that compile errors point into it; the entry point tells pipelines apart.
const entry = (name: string, entryPoint: string, code: string): Kernel => ({ name, source: code, entryPoint });
const FILL = entry('elementwise', 'fill', source);
const SCALE = entry('elementwise', 'scale', source);
const AXPY = entry('elementwise', 'axpy', source);
const ADD = entry('elementwise', 'add', source);
const ADD_BIAS = entry('elementwise', 'add_bias', source);
const SOFTCAP = entry('elementwise', 'softcap', source);
const BIAS_PARTIAL_SUMS = entry('bias_grad', 'partial_sums', biasGradSource);
const BIAS_FINISH = entry('bias_grad', 'finish', biasGradSource);

/** One dispatch of an elementwise.wgsl entry point over `out`'s n elements; `inputs` follow `out`. */
async function elementwise(gpu: Gpu, op: string, kernel: Kernel, out: Tensor, inputs: Tensor[], alpha = 0, cols = 1): Promise<Dispatch[]> {
  const params = new UniformWriter().u32(out.size).f32(alpha).u32(cols).bytes();
  return [await gpu.dispatch(op, { kernel, consts: { WG }, params, bind: [out, ...inputs], groups: Math.ceil(out.size / (4 * WG)) })];
}

/** out = a + b, all the same shape; out must not share a buffer with a or b. */
export async function add(gpu: Gpu, out: Tensor, a: Tensor, b: Tensor): Promise<Dispatch[]> {
  requireElementwise(
    'add',
    [['out', out]],
    [
      ['a', a],
      ['b', b],
    ],
  );
  return elementwise(gpu, 'add', ADD, out, [a, b]);
}

/** y += alpha * x, in place; x and y the same shape, in different buffers. */
export async function axpy(gpu: Gpu, y: Tensor, x: Tensor, alpha: number): Promise<Dispatch[]> {
  requireElementwise('axpy', [['y', y]], [['x', x]]);
  requireFinite('axpy', 'alpha', alpha);
  return elementwise(gpu, 'axpy', AXPY, y, [x], alpha);
}

/** x *= s, in place. */
export async function scale(gpu: Gpu, x: Tensor, s: number): Promise<Dispatch[]> {
  requireF32('scale', [['x', x]]);
  requireFinite('scale', 's', s);
  return elementwise(gpu, 'scale', SCALE, x, [], s);
}

/**
 * x = cap * tanh(x / cap), in place: the logit softcapping of Gemma's `final_logit_softcapping`. Its backward is
 * crossEntropyBackward's `softcap` option (the only place it is needed), from the capped values.
 */
export async function softcap(gpu: Gpu, x: Tensor, cap: number): Promise<Dispatch[]> {
  requireF32('softcap', [['x', x]]);
  requireFinite('softcap', 'cap', cap);
  if (cap <= 0) throw new ShapeError('softcap', `cap must be positive, got ${cap}`);
  return elementwise(gpu, 'softcap', SOFTCAP, x, [], cap);
}

/** x = value everywhere; x's old contents are never read. */
export async function fill(gpu: Gpu, x: Tensor, value: number): Promise<Dispatch[]> {
  requireF32('fill', [['x', x]]);
  requireFinite('fill', 'value', value);
  return elementwise(gpu, 'fill', FILL, x, [], value);
}

/** The D of rows: [..., D], checked against a bias or its gradient: [D]. The bias is named second. */
function checkBias(op: string, rows: [string, Tensor], bias: [string, Tensor]): number {
  const D = rows[1].shape.at(-1) ?? 0;
  if (rows[1].shape.length < 1 || bias[1].shape.length !== 1 || bias[1].shape[0] !== D || D < 1) {
    throw new ShapeError(
      op,
      `${bias[0]} must be [D] for ${rows[0]}: [..., D]; got ${rows[0]} ${shapeStr(rows[1])}, ${bias[0]} ${shapeStr(bias[1])}`,
    );
  }
  requireF32(op, [rows, bias]);
  return D;
}

/** y: [..., D] += bias: [D] on every row, in place. */
export async function addBias(gpu: Gpu, y: Tensor, bias: Tensor): Promise<Dispatch[]> {
  const D = checkBias('addBias', ['y', y], ['bias', bias]);
  requireDisjoint('addBias', [['y', y]], [['bias', bias]]);
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
  requireDisjoint(op, [['dbias', dbias]], [['dy', dy]]);
  const rows = dy.size / D;
  const { COLS, CHUNK } = BIAS_GRAD;
  const colBlocks = Math.ceil(D / COLS);
  const chunks = Math.max(1, Math.ceil(rows / CHUNK));
  const params = (accumulate: boolean) =>
    new UniformWriter()
      .u32(rows)
      .u32(D)
      .u32(chunks)
      .u32(colBlocks)
      .u32(accumulate ? 1 : 0)
      .bytes();
  const accumulate = options.accumulate ?? false;
  const slabSums = chunks > 1 ? gpu.tensor([chunks, D], `${op} slab sums`) : dbias;
  const partial = await gpu.dispatch(op, {
    kernel: BIAS_PARTIAL_SUMS,
    consts: BIAS_GRAD,
    params: params(accumulate && chunks === 1),
    bind: [dy, slabSums],
    groups: colBlocks * chunks,
  });
  if (chunks === 1) return [partial];
  const finish = await gpu.dispatch(`${op} finish`, {
    kernel: BIAS_FINISH,
    consts: BIAS_GRAD,
    params: params(accumulate),
    bind: [slabSums, dbias],
    groups: colBlocks,
  });
  return [partial, finish];
}
