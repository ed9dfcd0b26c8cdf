// rope: rotary position embedding as Hugging Face's Llama/Qwen2 apply it ("rotate half"), in
// place, from host-built float32 cos/sin tables; `inverse` is its backward.
import { requireDisjoint } from '../../runtime/checks.ts';
import { ShapeError } from '../../runtime/errors.ts';
import type { Dispatch, Gpu } from '../../runtime/gpu.ts';
import { shapeStr, type Tensor } from '../../runtime/tensor.ts';
import { UniformWriter } from '../../runtime/uniform.ts';
import source from './rope.wgsl?raw';

const KERNEL = { name: 'rope', source };
/** Threads per workgroup of rope.wgsl (its WG). */
const WG = 256;

export interface RopeOptions {
  /** Rotate by -angle: undoes the forward, and is its backward (apply it to the gradient). */
  inverse?: boolean;
  /**
   * The positions the caller will write, where it knows them when it builds the dispatch: x's
   * rows are sequences of T tokens at positions offset .. offset + T - 1 (training: offset 0;
   * generation: the cache row the new tokens go to). Checked against the tables' rows, since the
   * kernel cannot report a position past them (it leaves such rows unrotated).
   */
  sequence?: { T: number; offset?: number };
  label?: string;
}

/**
 * inv_freq[i] = 1 / theta^(2i/hd) for i < hd/2, in float32 step by step as transformers'
 * default rope computes it: (arange(0, hd, 2).float() / hd), theta ** that, then 1.0 / it.
 */
export function defaultInvFreq(hd: number, theta: number): Float32Array {
  const f = Math.fround;
  return Float32Array.from({ length: hd / 2 }, (_, i) => f(1 / f(f(theta) ** f((2 * i) / hd))));
}

/**
 * cos and sin tables [positions, invFreq.length], row p for position p. The angle is the
 * float32 product transformers computes (inv_freq @ position_ids in float32); its cosine and
 * sine are taken in float64 and rounded once, since GPU cos/sin lose accuracy on large angles.
 */
export function ropeTables(invFreq: ArrayLike<number>, positions: number): { cos: Float32Array; sin: Float32Array } {
  const half = invFreq.length;
  const cos = new Float32Array(positions * half);
  const sin = new Float32Array(positions * half);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(Math.fround(p) * Math.fround(invFreq[i]));
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

/**
 * Rotate each head of x in place by its row's position.
 * x: [N, heads, hd] f32 (hd even); positions: [N] u32 (batch rows [B, T] flattened);
 * cos, sin: [P, hd/2] f32 from `ropeTables`. Rows with a position >= P are left unchanged: pass
 * `sequence` so that the positions known when building are checked against P here.
 */
export async function rope(
  gpu: Gpu,
  t: { x: Tensor; positions: Tensor; cos: Tensor; sin: Tensor },
  options: RopeOptions = {},
): Promise<Dispatch[]> {
  const op = options.label ?? 'rope';
  const { x, positions, cos, sin } = t;
  const [N, heads, hd] = x.shape;
  if (x.shape.length !== 3 || N < 1 || heads < 1 || hd < 2 || hd % 2 !== 0) {
    throw new ShapeError(op, `x must be [N, heads, hd] with an even hd; got x ${shapeStr(x)}`);
  }
  if (positions.shape.length !== 1 || positions.shape[0] !== N) {
    throw new ShapeError(op, `positions must be [${N}], one per row of x ${shapeStr(x)}; got positions ${shapeStr(positions)}`);
  }
  const half = hd / 2;
  const P = cos.shape[0];
  for (const [name, table] of Object.entries({ cos, sin })) {
    if (table.shape.length !== 2 || table.shape[0] !== P || table.shape[1] !== half || P < 1) {
      throw new ShapeError(
        op,
        `cos and sin must both be [P, ${half}] for x ${shapeStr(x)}; got cos ${shapeStr(cos)}, sin ${shapeStr(sin)}`,
      );
    }
    if (table.dtype !== 'f32') throw new ShapeError(op, `${name} must be f32, got ${table.dtype}`);
  }
  if (options.sequence) checkSequence(op, options.sequence, N, P);
  if (x.dtype !== 'f32') throw new ShapeError(op, `x must be f32, got ${x.dtype}`);
  if (positions.dtype !== 'u32') throw new ShapeError(op, `positions must be u32, got ${positions.dtype}`);
  requireDisjoint(
    op,
    [['x', x]],
    [
      ['positions', positions],
      ['cos', cos],
      ['sin', sin],
    ],
  );

  const total = N * heads * half;
  const params = new UniformWriter()
    .u32(N)
    .u32(heads)
    .u32(half)
    .u32(P)
    .u32(total)
    .f32(options.inverse ? -1 : 1)
    .u32(0)
    .u32(0)
    .bytes();
  return [await gpu.dispatch(op, { kernel: KERNEL, params, bind: [positions, cos, sin, x], groups: Math.ceil(total / WG) })];
}

/** Sequences of T tokens at offset .. offset + T - 1 must tile x's N rows and stay inside the P table rows. */
function checkSequence(op: string, { T, offset = 0 }: { T: number; offset?: number }, N: number, P: number): void {
  if (!Number.isInteger(T) || T < 1 || N % T !== 0) {
    throw new ShapeError(op, `sequence length T must be a positive integer dividing x's ${N} rows, got T = ${T}`);
  }
  if (!Number.isInteger(offset) || offset < 0) throw new ShapeError(op, `sequence offset must be a non-negative integer, got ${offset}`);
  if (offset + T > P) {
    throw new ShapeError(
      op,
      `position ${offset + T - 1} (offset ${offset} + T ${T} - 1) is past the cos/sin tables, which cover positions 0..${P - 1}`,
    );
  }
}
