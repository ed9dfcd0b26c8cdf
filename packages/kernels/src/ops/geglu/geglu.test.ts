import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../runtime/gpu.ts';
import { type DType, Tensor } from '../../runtime/tensor.ts';
import { dot, numericGrad } from '../../testing/gradcheck.ts';
import { uniform } from '../../testing/random.ts';
import { gegluBackwardRef, gegluForwardRef, geluTanh, geluTanhSlope } from './geglu.ref.ts';
import { gegluBackward, gegluForward } from './geglu.ts';

const fake = (shape: number[], label: string, dtype: DType = 'f32', buffer = {} as GPUBuffer) => new Tensor(buffer, shape, dtype, label);
const noGpu = {} as Gpu;

describe('geglu references', () => {
  it("match torch's gelu(approximate='tanh') at hand-checked points, and its limits", () => {
    // torch.nn.functional.gelu(torch.tensor([1., -1., 2., -3.], dtype=torch.float64), approximate='tanh')
    expect(geluTanh(1)).toBeCloseTo(0.8411919906082768, 14);
    expect(geluTanh(-1)).toBeCloseTo(-0.15880800939172324, 14);
    expect(geluTanh(2)).toBeCloseTo(1.9545976940877752, 14);
    expect(geluTanh(-3)).toBeCloseTo(-0.0036373920817729943, 14);
    expect(geluTanh(0)).toBe(0);
    expect(geluTanh(50)).toBe(50);
    expect(Math.abs(geluTanh(-50))).toBe(0);
    expect(geluTanhSlope(0)).toBe(0.5);
    expect(geluTanhSlope(50)).toBe(1);
    const out = gegluForwardRef([1, -1], [2, 3]);
    expect(out[0]).toBeCloseTo(2 * 0.8411919906082768, 14);
    expect(out[1]).toBeCloseTo(-3 * 0.15880800939172324, 14);
  });

  it('backward agrees with finite differences, across the tanh', () => {
    const n = 40;
    const gate = Float64Array.from(uniform(n, 1, 6)); // through the gelu minimum near -0.75 and both tails
    const up = uniform(n, 2, 3);
    const dout = uniform(n, 3);
    const loss = (g: ArrayLike<number>, u: ArrayLike<number>) => dot(dout, gegluForwardRef(g, u));
    const { dgate, dup } = gegluBackwardRef(dout, gate, up);
    const numGate = numericGrad((g) => loss(g, up), gate);
    const numUp = numericGrad((u) => loss(gate, u), up);
    for (let i = 0; i < n; i++) expect(dgate[i]).toBeCloseTo(numGate[i], 7);
    for (let i = 0; i < n; i++) expect(dup[i]).toBeCloseTo(numUp[i], 7);
  });
});

describe('geglu shape checks', () => {
  const gate = fake([3, 11], 'gate_proj');
  const up = fake([3, 11], 'up_proj');

  it('names the tensors, their shapes, dtypes and shared buffers', async () => {
    await expect(gegluForward(noGpu, { out: fake([3, 12], 'act'), gate, up })).rejects.toThrow(
      'geglu: out must be [3, 11] for gate gate_proj[3, 11]; got out act[3, 12]',
    );
    await expect(gegluForward(noGpu, { out: fake([3, 11], 'act', 'u32'), gate, up })).rejects.toThrow('geglu: out must be f32, got u32');
    const dout = fake([3, 11], 'dact');
    await expect(gegluBackward(noGpu, { dgate: fake([3, 11], 'dg'), dup: fake([11, 3], 'du'), dout, gate, up })).rejects.toThrow(
      'geglu backward: dup must be [3, 11] for gate gate_proj[3, 11]; got dup du[11, 3]',
    );
    const arena = {} as GPUBuffer;
    await expect(
      gegluBackward(noGpu, {
        dgate: fake([3, 11], 'dg', 'f32', arena),
        dup: fake([3, 11], 'du'),
        dout: fake([3, 11], 'd', 'f32', arena),
        gate,
        up,
      }),
    ).rejects.toThrow('geglu backward: dgate must not share a buffer with dout');
  });
});
