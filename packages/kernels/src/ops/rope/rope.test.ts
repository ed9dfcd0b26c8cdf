import { describe, expect, it } from 'vitest';
import { ShapeError } from '../../runtime/errors.ts';
import type { Gpu } from '../../runtime/gpu.ts';
import { type DType, Tensor } from '../../runtime/tensor.ts';
import { dot, numericGrad } from '../../testing/gradcheck.ts';
import { randint, uniform } from '../../testing/random.ts';
import { ropeRef } from './rope.ref.ts';
import { defaultInvFreq, rope, ropeTables } from './rope.ts';

const fake = (shape: number[], label: string, dtype: DType = 'f32', buffer = {} as GPUBuffer) => new Tensor(buffer, shape, dtype, label);
// Shape checks run before the GPU is touched.
const noGpu = {} as Gpu;
const f = Math.fround;

describe('defaultInvFreq', () => {
  it('is 1 / theta^(2i/hd) in float32', () => {
    expect(Array.from(defaultInvFreq(4, 10000))).toEqual([1, f(0.01)]);
    const inv = defaultInvFreq(128, 1e6);
    expect(inv.length).toBe(64);
    for (let i = 0; i < 64; i++) expect(Math.abs(inv[i] * 1e6 ** ((2 * i) / 128) - 1)).toBeLessThan(4e-7);
  });
});

describe('ropeTables', () => {
  it('holds cos and sin of position * inv_freq, row per position', () => {
    const { cos, sin } = ropeTables([1, 0.5], 3);
    expect(cos.length).toBe(6);
    expect(cos[2 * 2 + 0]).toBe(f(Math.cos(2)));
    expect(sin[2 * 2 + 1]).toBe(f(Math.sin(1)));
    expect(cos[0]).toBe(1);
    expect(sin[1]).toBe(0);
  });

  it('takes the angle as transformers does: a float32 product', () => {
    const inv = defaultInvFreq(64, 10000);
    const { sin } = ropeTables(inv, 4001);
    const angle = f(4000 * inv[1]);
    expect(angle).not.toBe(4000 * inv[1]); // the rounding matters at this position
    expect(sin[4000 * 32 + 1]).toBe(f(Math.sin(angle)));
  });
});

describe('ropeRef', () => {
  it('pairs element i with i + hd/2 (rotate half), not its neighbour', () => {
    // hd 4, one head at position 0: pair (0, 2) turns by 90 degrees, pair (1, 3) by 0.
    const { y } = ropeRef([1, 2, 3, 4], [0], [0, 1], [1, 0], 4);
    expect(Array.from(y)).toEqual([-3, 2, 1, 4]);
    const back = ropeRef(y, [0], [0, 1], [1, 0], 4, true).y;
    expect(Array.from(back)).toEqual([1, 2, 3, 4]);
  });

  it('inverse is the backward: it agrees with finite differences', () => {
    const [N, heads, hd, P] = [4, 2, 6, 50];
    const { cos, sin } = ropeTables(defaultInvFreq(hd, 10000), P);
    const positions = Uint32Array.from([7, 0, 49, 7]);
    const x = uniform(N * heads * hd, 1);
    const dy = uniform(N * heads * hd, 2);
    const num = numericGrad((xs) => dot(dy, ropeRef(xs, positions, cos, sin, hd).y), x);
    const grad = ropeRef(dy, positions, cos, sin, hd, true).y;
    for (let i = 0; i < grad.length; i++) expect(grad[i]).toBeCloseTo(num[i], 7);
  });

  it('leaves rows with a position past the tables unchanged', () => {
    const { cos, sin } = ropeTables([1], 2);
    expect(Array.from(ropeRef([5, 6, 7, 8], [1, 2], cos, sin, 2).y.slice(2))).toEqual([7, 8]);
  });

  it('inverse undoes the forward up to the tables rounding', () => {
    const { cos, sin } = ropeTables(defaultInvFreq(8, 1e6), 4096);
    const positions = randint(5, 3, 4096);
    const x = uniform(5 * 3 * 8, 4, 100);
    const back = ropeRef(ropeRef(x, positions, cos, sin, 8).y, positions, cos, sin, 8, true).y;
    for (let i = 0; i < x.length; i++) expect(Math.abs(back[i] - x[i])).toBeLessThan(1e-4);
  });
});

describe('rope shape checks', () => {
  const x = fake([5, 2, 8], 'q');
  const positions = fake([5], 'position_ids', 'u32');
  const cos = fake([16, 4], 'cos');
  const sin = fake([16, 4], 'sin');

  it('names the tensors and their shapes', async () => {
    await expect(rope(noGpu, { x: fake([5, 2, 7], 'q'), positions, cos, sin })).rejects.toThrow(ShapeError);
    await expect(rope(noGpu, { x: fake([5, 2, 7], 'q'), positions, cos, sin })).rejects.toThrow(
      'rope: x must be [N, heads, hd] with an even hd; got x q[5, 2, 7]',
    );
    await expect(rope(noGpu, { x, positions: fake([4], 'position_ids', 'u32'), cos, sin })).rejects.toThrow(
      'rope: positions must be [5], one per row of x q[5, 2, 8]; got positions position_ids[4]',
    );
    await expect(rope(noGpu, { x, positions, cos, sin: fake([16, 8], 'sin') })).rejects.toThrow(
      'rope: cos and sin must both be [P, 4] for x q[5, 2, 8]; got cos cos[16, 4], sin sin[16, 8]',
    );
  });

  it('checks declared positions against the tables: offset + T <= P', async () => {
    // x: [6, 2, 8] as 2 sequences of 3 tokens; the tables cover positions 0..15.
    const x6 = fake([6, 2, 8], 'q');
    const positions6 = fake([6], 'position_ids', 'u32');
    const t = { x: x6, positions: positions6, cos, sin };
    await expect(rope(noGpu, t, { sequence: { T: 3, offset: 14 } })).rejects.toThrow(
      'rope: position 16 (offset 14 + T 3 - 1) is past the cos/sin tables, which cover positions 0..15',
    );
    await expect(
      rope(noGpu, { ...t, x: fake([18, 2, 8], 'q'), positions: fake([18], 'p', 'u32') }, { sequence: { T: 18 } }),
    ).rejects.toThrow('rope: position 17 (offset 0 + T 18 - 1) is past the cos/sin tables, which cover positions 0..15');
    await expect(rope(noGpu, t, { sequence: { T: 4 } })).rejects.toThrow(
      "rope: sequence length T must be a positive integer dividing x's 6 rows, got T = 4",
    );
    await expect(rope(noGpu, t, { sequence: { T: 3, offset: -1 } })).rejects.toThrow(
      'rope: sequence offset must be a non-negative integer, got -1',
    );
    // The last position that fits passes the checks and is dispatched.
    const recorder = { dispatch: async (label: string) => ({ label }) } as unknown as Gpu;
    await expect(rope(recorder, t, { sequence: { T: 3, offset: 13 } })).resolves.toEqual([{ label: 'rope' }]);
  });

  it('checks dtypes and buffer sharing', async () => {
    await expect(rope(noGpu, { x, positions: fake([5], 'position_ids'), cos, sin })).rejects.toThrow(
      'rope: positions must be u32, got f32',
    );
    const arena = {} as GPUBuffer;
    await expect(
      rope(noGpu, { x: fake([5, 2, 8], 'q', 'f32', arena), positions, cos: fake([16, 4], 'cos', 'f32', arena), sin }),
    ).rejects.toThrow('rope: x must not share a buffer with cos');
  });
});
