// One check for the gated MLP activations (swiglu, geglu): forward and backward on the GPU over outputs written as
// NaN, against the op's float64 reference, each output with the op's own per-element tolerance.
import { assertAllClose, type Tolerance } from '@webtune/harness/page';
import type { Dispatch, Gpu } from '../runtime/gpu.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { uniform } from './random.ts';

/** Smallest normal float32: a GPU may flush anything smaller to zero. */
export const MIN_NORMAL = 2 ** -126;

type Ref = { dgate: ArrayLike<number>; dup: ArrayLike<number>; dgateMagnitude: ArrayLike<number> };

export interface GatedOp {
  forward(gpu: Gpu, t: { out: Tensor; gate: Tensor; up: Tensor }): Promise<Dispatch[]>;
  backward(gpu: Gpu, t: { dgate: Tensor; dup: Tensor; dout: Tensor; gate: Tensor; up: Tensor }): Promise<Dispatch[]>;
  forwardRef(gate: ArrayLike<number>, up: ArrayLike<number>): ArrayLike<number>;
  backwardRef(dout: ArrayLike<number>, gate: ArrayLike<number>, up: ArrayLike<number>): Ref;
  /** Per element, from the gate: the kernel's error bound relative to `magnitude`, plus what multiplies a flush. */
  tolerance(gate: ArrayLike<number>, magnitude: ArrayLike<number>, factor: ArrayLike<number>): Tolerance;
  /** Gates tried first (the activation's edge cases), then uniform over ±range. */
  edgeGates: number[];
}

const abs = (a: ArrayLike<number>) => Float64Array.from(a, Math.abs);
const times = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from(a, (v, i) => v * b[i]);

export async function checkGated(
  op: GatedOp,
  gpu: Gpu,
  N: number,
  I: number,
  range: number,
  scale: number,
  seed: number,
): Promise<Dispatch[]> {
  const n = N * I;
  const gate = uniform(n, seed, range);
  gate.set(op.edgeGates.slice(0, n));
  const up = uniform(n, seed + 1, scale);
  const dout = uniform(n, seed + 2, scale);
  const G = gpu.upload(gate, [N, I], 'gate');
  const U = gpu.upload(up, [N, I], 'up');
  const DO = gpu.upload(dout, [N, I], 'dout');
  const nan = new Float32Array(n).fill(Number.NaN);
  const OUT = gpu.upload(nan, [N, I], 'out');
  const DG = gpu.upload(nan, [N, I], 'dgate');
  const DU = gpu.upload(nan, [N, I], 'dup');
  const dispatches = [
    ...(await op.forward(gpu, { out: OUT, gate: G, up: U })),
    ...(await op.backward(gpu, { dgate: DG, dup: DU, dout: DO, gate: G, up: U })),
  ];
  gpu.run(...dispatches);
  const out = op.forwardRef(gate, up);
  const ref = op.backwardRef(dout, gate, up);
  const label = `(N=${N} I=${I} gate range ${range} scale ${scale})`;
  assertAllClose(await gpu.read(OUT), out, op.tolerance(gate, abs(out), up), `out ${label}`);
  assertAllClose(await gpu.read(DU), ref.dup, op.tolerance(gate, abs(ref.dup), dout), `dup ${label}`);
  assertAllClose(await gpu.read(DG), ref.dgate, op.tolerance(gate, ref.dgateMagnitude, times(dout, up)), `dgate ${label}`);
  for (const t of [G, U, DO, OUT, DG, DU]) t.buffer.destroy();
  return dispatches;
}
