import { describe, expect, it } from 'vitest';
import { ShapeError } from '../../runtime/errors.ts';
import type { Gpu } from '../../runtime/gpu.ts';
import { type DType, Tensor } from '../../runtime/tensor.ts';
import { dot, numericGrad } from '../../testing/gradcheck.ts';
import { uniform } from '../../testing/random.ts';
import { sigmoid, swigluBackwardRef, swigluForwardRef } from './swiglu.ref.ts';
import { swigluBackward, swigluForward } from './swiglu.ts';

const fake = (shape: number[], label: string, dtype: DType = 'f32', buffer = {} as GPUBuffer) => new Tensor(buffer, shape, dtype, label);
// Shape checks run before the GPU is touched.
const noGpu = {} as Gpu;

describe('swiglu references', () => {
  it('match hand-computed values, stable at |gate| = 1000', () => {
    expect(sigmoid(0)).toBe(0.5);
    expect(sigmoid(1)).toBeCloseTo(0.7310585786300049, 15);
    expect(sigmoid(-1000)).toBe(0);
    expect(sigmoid(1000)).toBe(1);
    // silu(1) * 2, silu(-1) * 3, silu(0) * 5, silu(-100) * 1 (tiny but not zero)
    const out = swigluForwardRef([1, -1, 0, -100], [2, 3, 5, 1]);
    expect(out[0]).toBeCloseTo(2 * 0.7310585786300049, 15);
    expect(out[1]).toBeCloseTo(-3 * 0.2689414213699951, 15);
    expect(out[2]).toBe(0);
    expect(out[3] / (-100 * Math.exp(-100))).toBeCloseTo(1, 12);
    // silu'(0) = 1/2; silu'(g) -> 1 for large g and 0 for very negative g.
    const { dgate, dup } = swigluBackwardRef([2, 1, 1], [0, 50, -1000], [3, 1, 1]);
    expect(dgate[0]).toBe(3);
    expect(dgate[1]).toBe(1);
    expect(Math.abs(dgate[2])).toBe(0);
    expect(dup[0]).toBe(0);
    expect(dup[1]).toBe(50);
  });

  it('backward agrees with finite differences, across the sigmoid', () => {
    const n = 40;
    const gate = Float64Array.from(uniform(n, 1, 8)); // through the silu minimum near -1.28 and both tails
    const up = uniform(n, 2, 3);
    const dout = uniform(n, 3);
    const loss = (g: ArrayLike<number>, u: ArrayLike<number>) => dot(dout, swigluForwardRef(g, u));
    const { dgate, dup } = swigluBackwardRef(dout, gate, up);
    const numGate = numericGrad((g) => loss(g, up), gate);
    const numUp = numericGrad((u) => loss(gate, u), up);
    for (let i = 0; i < n; i++) expect(dgate[i]).toBeCloseTo(numGate[i], 7);
    for (let i = 0; i < n; i++) expect(dup[i]).toBeCloseTo(numUp[i], 7);
  });
});

describe('swiglu shape checks', () => {
  const gate = fake([3, 11], 'gate_proj');
  const up = fake([3, 11], 'up_proj');

  it('names the tensors and their shapes', async () => {
    await expect(swigluForward(noGpu, { out: fake([3, 12], 'act'), gate, up })).rejects.toThrow(ShapeError);
    await expect(swigluForward(noGpu, { out: fake([3, 12], 'act'), gate, up })).rejects.toThrow(
      'swiglu: out must be [3, 11] for gate gate_proj[3, 11]; got out act[3, 12]',
    );
    await expect(swigluForward(noGpu, { out: fake([33], 'act'), gate: fake([33], 'gate_proj'), up })).rejects.toThrow(
      'swiglu: gate must be [N, I] with N, I >= 1; got gate gate_proj[33]',
    );
    const dout = fake([3, 11], 'dact');
    await expect(swigluBackward(noGpu, { dgate: fake([3, 11], 'dg'), dup: fake([11, 3], 'du'), dout, gate, up })).rejects.toThrow(
      'swiglu backward: dup must be [3, 11] for gate gate_proj[3, 11]; got dup du[11, 3]',
    );
  });

  it('checks dtypes and buffer sharing', async () => {
    await expect(swigluForward(noGpu, { out: fake([3, 11], 'act', 'u32'), gate, up })).rejects.toThrow('swiglu: out must be f32, got u32');
    const arena = {} as GPUBuffer;
    const dout = fake([3, 11], 'dact', 'f32', arena);
    await expect(
      swigluBackward(noGpu, { dgate: fake([3, 11], 'dg', 'f32', arena), dup: fake([3, 11], 'du'), dout, gate, up }),
    ).rejects.toThrow('swiglu backward: dgate must not share a buffer with dout');
  });
});
