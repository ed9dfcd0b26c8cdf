// softmax: row softmax of scale * x with an optional causal mask, and its backward.
import { type Named, requireElementwise } from '../../runtime/checks.ts';
import { ShapeError } from '../../runtime/errors.ts';
import type { Dispatch, Gpu } from '../../runtime/gpu.ts';
import { shapeStr, type Tensor } from '../../runtime/tensor.ts';
import { UniformWriter } from '../../runtime/uniform.ts';
import source from './softmax.wgsl?raw';
import backwardSource from './softmax_backward.wgsl?raw';

const FORWARD = { name: 'softmax', source };
const BACKWARD = { name: 'softmax_backward', source: backwardSource };

/**
 * Row r is query i = r % queries and sees columns j <= i + offset (offset = keys - queries); with a sliding
 * `window` of W, only the last W of those: i + offset - W < j <= i + offset (transformers' sliding-window mask,
 * `kv_idx > q_idx - sliding_window`, so a query sees itself and the W - 1 keys before it).
 */
export interface CausalMask {
  queries: number;
  offset: number;
  /** Keys a query sees, itself included; absent (or 0) for full causal attention. */
  window?: number;
}

export interface SoftmaxOptions {
  /** Multiplies x before the softmax; 1 by default. */
  scale?: number;
  causal?: CausalMask;
  label?: string;
}

/** Threads per row: 64, doubled up to 256 while a thread would walk more than 8 columns. */
function workgroupSize(L: number): number {
  let wg = 64;
  while (wg < 256 && wg * 8 < L) wg *= 2;
  return wg;
}

/**
 * Rows and row length L shared by `inputs` (the first sets the shape) and `output`, all f32,
 * with the output in a buffer of its own (a dispatch cannot bind one buffer both read-only and writable).
 */
function rowShape(op: string, output: [string, Tensor], inputs: Named): { rows: number; L: number } {
  const [[name0, t0]] = inputs;
  const L = t0.shape.at(-1) ?? 0;
  if (L < 1) throw new ShapeError(op, `${name0} must be [..., L] with L >= 1, got ${shapeStr(t0)}`);
  requireElementwise(op, [output], inputs);
  return { rows: t0.size / L, L };
}

function checkCausal(op: string, x: Tensor, rows: number, L: number, { queries, offset, window }: CausalMask): void {
  if (!Number.isInteger(queries) || queries < 1) throw new ShapeError(op, `causal.queries must be a positive integer, got ${queries}`);
  if (!Number.isInteger(offset) || offset < 0) throw new ShapeError(op, `causal.offset must be a non-negative integer, got ${offset}`);
  if (rows % queries !== 0) throw new ShapeError(op, `x ${shapeStr(x)} has ${rows} rows, not a multiple of causal.queries ${queries}`);
  if (window !== undefined && (!Number.isInteger(window) || window < 0)) {
    throw new ShapeError(op, `causal.window must be a non-negative integer (0 for none), got ${window}`);
  }
  if (queries + offset > L) {
    throw new ShapeError(op, `causal.queries + causal.offset = ${queries + offset} keys do not fit x ${shapeStr(x)}`);
  }
}

/**
 * out = softmax(scale * x) over the last dimension; x, out: [..., L].
 * With `causal`, columns j > (r % queries) + offset of row r are masked (and, with a window, those at or before
 * (r % queries) + offset - window): excluded from the softmax and written as exactly 0.
 */
export async function softmaxForward(gpu: Gpu, out: Tensor, x: Tensor, options: SoftmaxOptions = {}): Promise<Dispatch[]> {
  const op = options.label ?? 'softmax';
  const { rows, L } = rowShape(op, ['out', out], [['x', x]]);
  const { causal } = options;
  if (causal) checkCausal(op, x, rows, L, causal);
  const { queries, offset, window } = causal ?? { queries: 1, offset: 0 };
  const [masked, scale] = [causal ? 1 : 0, options.scale ?? 1];
  const params = new UniformWriter()
    .u32(rows)
    .u32(L)
    .u32(queries)
    .u32(offset)
    .u32(masked)
    .f32(scale)
    .u32(window ?? 0)
    .bytes();
  return [await gpu.dispatch(op, { kernel: FORWARD, consts: { WG: workgroupSize(L) }, params, bind: [x, out], groups: rows })];
}

/**
 * dx = p * (dp - rowsum(p * dp)): the gradient of the softmax output p to its input, without
 * the forward's scale (the caller applies it). p, dp, dx: [..., L]; masked entries (p = 0) get 0.
 */
export async function softmaxBackward(gpu: Gpu, dx: Tensor, p: Tensor, dp: Tensor, options: { label?: string } = {}): Promise<Dispatch[]> {
  const op = options.label ?? 'softmax backward';
  const { rows, L } = rowShape(
    op,
    ['dx', dx],
    [
      ['p', p],
      ['dp', dp],
    ],
  );
  const params = new UniformWriter().u32(rows).u32(L).bytes();
  return [await gpu.dispatch(op, { kernel: BACKWARD, consts: { WG: workgroupSize(L) }, params, bind: [p, dp, dx], groups: rows })];
}
