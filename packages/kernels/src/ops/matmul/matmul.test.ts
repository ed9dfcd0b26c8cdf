import { describe, expect, it } from 'vitest';
import { ShapeError } from '../../runtime/errors.ts';
import { Tensor } from '../../runtime/tensor.ts';
import { dot, numericGrad } from '../../testing/gradcheck.ts';
import { uniform } from '../../testing/random.ts';
import { checkGeometry, geometryFromShapes } from './geometry.ts';
import { matmulRef } from './matmul.ref.ts';
import { chooseConfig, splitKPartials, WORKGROUP_BYTES } from './matmul.ts';

const fake = (shape: number[], label = 't') => new Tensor({} as GPUBuffer, shape, 'f32', label);

describe('matmulRef', () => {
  it('matches a hand-computed product with alpha and beta', () => {
    const g = geometryFromShapes('t', fake([2, 2]), fake([2, 3]), fake([3, 2]), false, false);
    // A = [[1,2,3],[4,5,6]], B = [[7,8],[9,10],[11,12]] -> AB = [[58,64],[139,154]]
    const r = matmulRef(g, [1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12], [1, 1, 1, 1], 2, 0.5);
    expect(Array.from(r.C)).toEqual([116.5, 128.5, 278.5, 308.5]);
  });

  it('reads transposed operands as their transposes', () => {
    const A = uniform(12, 1);
    const B = uniform(20, 2);
    const nn = matmulRef(geometryFromShapes('t', fake([3, 5]), fake([3, 4]), fake([4, 5]), false, false), A, B, new Float64Array(15)).C;
    const At = new Float64Array(12);
    for (let m = 0; m < 3; m++) for (let k = 0; k < 4; k++) At[k * 3 + m] = A[m * 4 + k];
    const Bt = new Float64Array(20);
    for (let k = 0; k < 4; k++) for (let n = 0; n < 5; n++) Bt[n * 4 + k] = B[k * 5 + n];
    const tt = matmulRef(geometryFromShapes('t', fake([3, 5]), fake([4, 3]), fake([5, 4]), true, true), At, Bt, new Float64Array(15)).C;
    for (let i = 0; i < 15; i++) expect(tt[i]).toBeCloseTo(nn[i], 12);
  });

  // The backward of Y = X Wᵀ that the model uses: dX = dY W (NN), dW = dYᵀ X (TN).
  it('backward formulas agree with finite differences', () => {
    const [T, I, O] = [3, 4, 5];
    const X = uniform(T * I, 3);
    const W = uniform(O * I, 4);
    const dY = uniform(T * O, 5);
    const fwd = geometryFromShapes('t', fake([T, O]), fake([T, I]), fake([O, I]), false, true);
    const loss = (x: ArrayLike<number>, w: ArrayLike<number>) => dot(dY, matmulRef(fwd, x, w, new Float64Array(T * O)).C);
    const dX = matmulRef(geometryFromShapes('t', fake([T, I]), fake([T, O]), fake([O, I]), false, false), dY, W, new Float64Array(T * I)).C;
    const dW = matmulRef(geometryFromShapes('t', fake([O, I]), fake([T, O]), fake([T, I]), true, false), dY, X, new Float64Array(O * I)).C;
    const numX = numericGrad((x) => loss(x, W), X);
    const numW = numericGrad((w) => loss(X, w), W);
    for (let i = 0; i < dX.length; i++) expect(dX[i]).toBeCloseTo(numX[i], 6);
    for (let i = 0; i < dW.length; i++) expect(dW[i]).toBeCloseTo(numW[i], 6);
  });
});

describe('geometry', () => {
  it('shares an unbatched B across the batch (weights)', () => {
    const g = geometryFromShapes('t', fake([2, 3, 5]), fake([2, 3, 4]), fake([5, 4]), false, true);
    expect(g).toMatchObject({ M: 3, N: 5, K: 4, batch: 2, lda: 4, ldb: 4, ldc: 5 });
    expect(g.b.stride0).toBe(0);
    expect(g.a.stride0).toBe(12);
  });

  it('names the op and the shapes when inner dimensions differ', () => {
    expect(() => geometryFromShapes('q_proj', fake([3, 5], 'y'), fake([3, 4], 'x'), fake([5, 6], 'w'), false, true)).toThrow(ShapeError);
    expect(() => geometryFromShapes('q_proj', fake([3, 5], 'y'), fake([3, 4], 'x'), fake([5, 6], 'w'), false, true)).toThrow(
      'q_proj: inner dimensions differ (4 vs 6); got A x[3, 4], B w[5, 6]ᵀ, C y[3, 5]',
    );
  });

  it('rejects a C of the wrong shape and mismatched batches', () => {
    expect(() => geometryFromShapes('mm', fake([3, 6]), fake([3, 4]), fake([4, 5]), false, false)).toThrow('mm: C must be [..., 3, 5]');
    expect(() => geometryFromShapes('mm', fake([2, 3, 5]), fake([3, 3, 4]), fake([4, 5]), false, false)).toThrow(
      'A must have the batch dimensions of C',
    );
  });

  it('rejects an explicit walk that runs past a tensor', () => {
    const g = geometryFromShapes('attn', fake([4, 4]), fake([4, 4]), fake([4, 4]), false, false);
    expect(() => checkGeometry('attn', { ...g, lda: 8 }, fake([4, 4]), fake([4, 4], 'q'), fake([4, 4]))).toThrow(
      'attn: A q[4, 4] has 16 elements but the walk reaches element 27',
    );
  });
});

describe('chooseConfig', () => {
  const g = (M: number, N: number, K: number, batch = 1) =>
    geometryFromShapes('t', fake([batch, M, N]), fake([batch, M, K]), fake([batch, K, N]), false, false);

  it('uses 64x64 tiles of 8x8 threads, 8x8 blocks each, for large outputs', () => {
    expect(chooseConfig(g(512, 512, 512))).toMatchObject({ WG_X: 8, WG_Y: 8, TM: 8, TN: 8, BK: 32, splits: 1 });
  });

  it('uses a thin tile for LoRA-skinny outputs, and keeps >= 32 threads', () => {
    const c = chooseConfig(g(2048, 8, 1024));
    expect(c).toMatchObject({ WG_X: 2, TN: 4 });
    expect(c.WG_X * c.WG_Y).toBeGreaterThanOrEqual(32);
    const r = chooseConfig(g(8, 2048, 1024));
    expect(r).toMatchObject({ WG_Y: 2, TM: 4 });
    expect(r.WG_X * r.WG_Y).toBeGreaterThanOrEqual(32);
  });

  it('keeps the staged tiles within the default 16 KiB of workgroup memory', () => {
    for (const [M, N] of [
      [512, 512],
      [2048, 8],
      [8, 2048],
      [1, 40],
      [37, 29],
      [4096, 1],
    ]) {
      const c = chooseConfig(g(M, N, 512));
      const bytes = c.BK * (c.TM * c.WG_Y + c.TN * c.WG_X) * 4;
      expect(bytes).toBeLessThanOrEqual(WORKGROUP_BYTES);
      expect(c.BK % 4).toBe(0);
      expect(c.BK).toBeGreaterThanOrEqual(16);
    }
  });

  it('reads short-K operands directly (no staging, no split)', () => {
    expect(chooseConfig(g(2048, 512, 8))).toMatchObject({ direct: true, splits: 1 });
    expect(chooseConfig(g(2048, 512, 17)).direct).toBe(false);
  });

  it('splits K when the output is small and K long', () => {
    const c = chooseConfig(g(8, 64, 8192));
    expect(c.splits).toBeGreaterThan(1);
    expect(c.kChunk % c.BK).toBe(0);
    expect(c.splits * c.kChunk).toBeGreaterThanOrEqual(8192);
  });

  it('sizes the split-K partials as one [M, N] block per split and batch, none without a split', () => {
    // LoRA's dB at SmolLM2-135M's hidden size: [576, 16] over 1,024 tokens. 64x16 tiles: 9 of them, K split in 2.
    const dB = { M: 576, N: 16, K: 1024, batch: 1 };
    expect(chooseConfig(dB).splits).toBe(2);
    expect(splitKPartials(dB)).toBe(2 * 576 * 16);
    // The LM head's dh for 64 rows of Qwen2.5-0.5B: [64, 896] over 151,936 vocabulary entries: 14 tiles, 10 splits.
    expect(splitKPartials({ M: 64, N: 896, K: 151936, batch: 1 })).toBe(10 * 64 * 896);
    expect(splitKPartials({ M: 512, N: 512, K: 4096, batch: 1 })).toBe(0);
    expect(splitKPartials({ M: 8, N: 64, K: 8192, batch: 3 })).toBe(chooseConfig({ M: 8, N: 64, K: 8192, batch: 3 }).splits * 3 * 8 * 64);
  });
});
