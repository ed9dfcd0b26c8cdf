// softmax: row softmax of scale * x with an optional causal mask, and its backward.
import { ShapeError } from '../../runtime/errors.ts';
import type { Dispatch, Gpu } from '../../runtime/gpu.ts';
import { shapeStr, type Tensor } from '../../runtime/tensor.ts';
import { UniformWriter } from '../../runtime/uniform.ts';
import source from './softmax.wgsl?raw';
import backwardSource from './softmax_backward.wgsl?raw';

const FORWARD = { name: 'softmax', source };
const BACKWARD = { name: 'softmax_backward', source: backwardSource };

/** Row r is query i = r % queries and sees columns j <= i + offset (offset = keys - queries). */
export interface CausalMask {
  queries: number;
  offset: number;
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
 * with the output in a buffer of its own (a dispatch cannot read and write one buffer).
 */
function rowShape(op: string, output: Record<string, Tensor>, inputs: Record<string, Tensor>): { rows: number; L: number } {
  const [[name0, t0]] = Object.entries(inputs);
  const L = t0.shape.at(-1) ?? 0;
  if (L < 1) throw new ShapeError(op, `${name0} must be [..., L] with L >= 1, got ${shapeStr(t0)}`);
  const [[outName, out]] = Object.entries(output);
  for (const [name, t] of [...Object.entries(inputs), [outName, out] as const]) {
    const same = t.shape.length === t0.shape.length && t.shape.every((d, i) => d === t0.shape[i]);
    if (!same) throw new ShapeError(op, `${name} ${shapeStr(t)} must have the shape of ${name0} ${shapeStr(t0)}`);
    if (t.dtype !== 'f32') throw new ShapeError(op, `${name} must be f32, got ${t.dtype}`);
  }
  for (const [name, t] of Object.entries(inputs)) {
    if (t.buffer === out.buffer) throw new ShapeError(op, `${outName} must not share a buffer with ${name}`);
  }
  return { rows: t0.size / L, L };
}

function checkCausal(op: string, x: Tensor, rows: number, L: number, { queries, offset }: CausalMask): void {
  if (!Number.isInteger(queries) || queries < 1) throw new ShapeError(op, `causal.queries must be a positive integer, got ${queries}`);
  if (!Number.isInteger(offset) || offset < 0) throw new ShapeError(op, `causal.offset must be a non-negative integer, got ${offset}`);
  if (rows % queries !== 0) throw new ShapeError(op, `x ${shapeStr(x)} has ${rows} rows, not a multiple of causal.queries ${queries}`);
  if (queries + offset > L) {
    throw new ShapeError(op, `causal.queries + causal.offset = ${queries + offset} keys do not fit x ${shapeStr(x)}`);
  }
}

/**
 * out = softmax(scale * x) over the last dimension; x, out: [..., L].
 * With `causal`, columns j > (r % queries) + offset of row r are masked: excluded from the
 * softmax and written as exactly 0.
 */
export async function softmaxForward(gpu: Gpu, out: Tensor, x: Tensor, options: SoftmaxOptions = {}): Promise<Dispatch[]> {
  const op = options.label ?? 'softmax';
  const { rows, L } = rowShape(op, { out }, { x });
  const { causal } = options;
  if (causal) checkCausal(op, x, rows, L, causal);
  const { queries, offset } = causal ?? { queries: 1, offset: 0 };
  const [masked, scale] = [causal ? 1 : 0, options.scale ?? 1];
  const u = new UniformWriter().u32(rows).u32(L).u32(queries).u32(offset).u32(masked).f32(scale);
  const pipeline = await gpu.pipeline(FORWARD, { WG: workgroupSize(L) });
  return [
    {
      label: op,
      pipeline,
      bindGroup: gpu.bind(pipeline, op, [gpu.uniform(u.bytes(), `${op} params`), x, out]),
      workgroups: gpu.grid(rows),
    },
  ];
}

/**
 * dx = p * (dp - rowsum(p * dp)): the gradient of the softmax output p to its input, without
 * the forward's scale (the caller applies it). p, dp, dx: [..., L]; masked entries (p = 0) get 0.
 */
export async function softmaxBackward(gpu: Gpu, dx: Tensor, p: Tensor, dp: Tensor, options: { label?: string } = {}): Promise<Dispatch[]> {
  const op = options.label ?? 'softmax backward';
  const { rows, L } = rowShape(op, { dx }, { p, dp });
  const u = new UniformWriter().u32(rows).u32(L);
  const pipeline = await gpu.pipeline(BACKWARD, { WG: workgroupSize(L) });
  return [
    {
      label: op,
      pipeline,
      bindGroup: gpu.bind(pipeline, op, [gpu.uniform(u.bytes(), `${op} params`), p, dp, dx]),
      workgroups: gpu.grid(rows),
    },
  ];
}
