import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../runtime/gpu.ts';
import { Tensor } from '../../runtime/tensor.ts';
import { dot, numericGrad } from '../../testing/gradcheck.ts';
import { uniform } from '../../testing/random.ts';
import { softmaxBackwardRef, softmaxForwardRef } from './softmax.ref.ts';
import { softmaxBackward, softmaxForward } from './softmax.ts';

const expectClose = (got: ArrayLike<number>, want: number[], digits = 12) => {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], digits);
};

describe('softmaxForwardRef', () => {
  // exp(log k) = k: rows of logs give probabilities proportional to k.
  const logs = [0, Math.log(2), Math.log(3)];

  it('matches hand values, with a scale, and stays finite for large inputs', () => {
    expectClose(softmaxForwardRef(logs, 3).p, [1 / 6, 2 / 6, 3 / 6]);
    expectClose(softmaxForwardRef([0, 2 * Math.log(2)], 2, { scale: 0.5 }).p, [1 / 3, 2 / 3]);
    // exp(1000) overflows even float64: only the max-subtracted form gets this right.
    expectClose(softmaxForwardRef([1000, 1000 + Math.log(3)], 2).p, [1 / 4, 3 / 4]);
  });

  it('masks causally: row r sees columns j <= r % queries + offset, masked entries 0', () => {
    // Two heads of 3 queries over 3 keys (offset 0), then 2 queries over 3 keys (offset 1).
    const x = [...logs, ...logs, ...logs, ...logs, ...logs, ...logs];
    expectClose(softmaxForwardRef(x, 3, { causal: { queries: 3, offset: 0 } }).p, [
      ...[1, 0, 0, 1 / 3, 2 / 3, 0, 1 / 6, 2 / 6, 3 / 6],
      ...[1, 0, 0, 1 / 3, 2 / 3, 0, 1 / 6, 2 / 6, 3 / 6],
    ]);
    expectClose(softmaxForwardRef(x.slice(0, 6), 3, { causal: { queries: 2, offset: 1 } }).p, [1 / 3, 2 / 3, 0, 1 / 6, 2 / 6, 3 / 6]);
  });

  it('masks a sliding window: row r sees i + offset - window < j <= i + offset', () => {
    // 3 queries over 3 keys, window 2: query 2 no longer sees key 0.
    const x = [...logs, ...logs, ...logs];
    expectClose(softmaxForwardRef(x, 3, { causal: { queries: 3, offset: 0, window: 2 } }).p, [1, 0, 0, 1 / 3, 2 / 3, 0, 0, 2 / 5, 3 / 5]);
    // Window 1: each query sees itself only. A window wider than the row changes nothing.
    expectClose(softmaxForwardRef(x, 3, { causal: { queries: 3, offset: 0, window: 1 } }).p, [1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expectClose(
      softmaxForwardRef(x, 3, { causal: { queries: 3, offset: 0, window: 9 } }).p,
      Array.from(softmaxForwardRef(x, 3, { causal: { queries: 3, offset: 0 } }).p),
    );
    // Generation: 2 queries at positions 1, 2 of 3 keys, window 2.
    expectClose(softmaxForwardRef(x.slice(0, 6), 3, { causal: { queries: 2, offset: 1, window: 2 } }).p, [
      1 / 3,
      2 / 3,
      0,
      0,
      2 / 5,
      3 / 5,
    ]);
  });

  it('bounds the error by zero exactly where the output is masked', () => {
    const { bound } = softmaxForwardRef(uniform(12, 1), 4, { causal: { queries: 3, offset: 1 } });
    expect(Array.from(bound, (b) => b === 0)).toEqual([false, false, true, true, false, false, false, true, ...Array(4).fill(false)]);
  });
});

describe('softmaxBackwardRef', () => {
  it('matches a hand-computed gradient', () => {
    // dot = 0.5*1 + 0.5*3 = 2; dx = 0.5 * ([1, 3] - 2)
    expectClose(softmaxBackwardRef([0.5, 0.5], [1, 3], 2).dx, [-0.5, 0.5]);
  });

  // d/dx of w · softmax(scale * x) is scale * softmaxBackward(p, w).
  for (const causal of [undefined, { queries: 3, offset: 2 }, { queries: 3, offset: 2, window: 2 }]) {
    it(`agrees with finite differences${causal ? ` under a causal mask${causal.window ? ' with a sliding window' : ''}` : ''}`, () => {
      const [rows, L, scale] = [6, 5, 0.7];
      const x = uniform(rows * L, 2, 3);
      const w = uniform(rows * L, 3);
      const { p } = softmaxForwardRef(x, L, { scale, causal });
      const analytic = softmaxBackwardRef(p, w, L).dx;
      const numeric = numericGrad((xs) => dot(w, softmaxForwardRef(xs, L, { scale, causal }).p), x);
      for (let i = 0; i < x.length; i++) expect(scale * analytic[i]).toBeCloseTo(numeric[i], 7);
    });
  }
});

describe('shape errors', () => {
  const gpu = {} as Gpu;
  const buffers = new Map<string, GPUBuffer>();
  const fake = (shape: number[], label: string, dtype: 'f32' | 'u32' = 'f32') => {
    if (!buffers.has(label)) buffers.set(label, {} as GPUBuffer);
    return new Tensor(buffers.get(label) as GPUBuffer, shape, dtype, label);
  };
  const x = fake([2, 3, 5], 'x');

  it('forward: shapes, dtypes, aliasing', async () => {
    await expect(softmaxForward(gpu, fake([2, 3, 4], 'y'), x)).rejects.toThrow(
      'softmax: out, x must have the same shape; got out y[2, 3, 4], x x[2, 3, 5]',
    );
    await expect(softmaxForward(gpu, fake([2, 0], 'y'), fake([2, 0], 'e'))).rejects.toThrow(
      'softmax: x must be [..., L] with L >= 1, got e[2, 0]',
    );
    await expect(softmaxForward(gpu, fake([2, 3, 5], 'y', 'u32'), x)).rejects.toThrow('softmax: out must be f32, got u32');
    await expect(softmaxForward(gpu, fake([2, 3, 5], 'x'), x)).rejects.toThrow('softmax: out must not share a buffer with x');
  });

  it('forward: causal masks that do not fit', async () => {
    const y = fake([2, 3, 5], 'y');
    const run = (queries: number, offset: number) => softmaxForward(gpu, y, x, { causal: { queries, offset }, label: 'attn softmax' });
    await expect(run(0, 0)).rejects.toThrow('attn softmax: causal.queries must be a positive integer, got 0');
    await expect(run(3, -1)).rejects.toThrow('attn softmax: causal.offset must be a non-negative integer, got -1');
    await expect(run(4, 0)).rejects.toThrow('attn softmax: x x[2, 3, 5] has 6 rows, not a multiple of causal.queries 4');
    await expect(run(3, 3)).rejects.toThrow('attn softmax: causal.queries + causal.offset = 6 keys do not fit x x[2, 3, 5]');
    await expect(softmaxForward(gpu, y, x, { causal: { queries: 3, offset: 2, window: 1.5 }, label: 'attn softmax' })).rejects.toThrow(
      'attn softmax: causal.window must be a non-negative integer (0 for none), got 1.5',
    );
  });

  it('backward: shapes and aliasing', async () => {
    const p = fake([6, 5], 'p');
    await expect(softmaxBackward(gpu, fake([6, 5], 'dx'), p, fake([5, 6], 'dp'))).rejects.toThrow(
      'softmax backward: dx, p, dp must have the same shape; got dx dx[6, 5], p p[6, 5], dp dp[5, 6]',
    );
    await expect(softmaxBackward(gpu, fake([6, 5], 'dp'), p, fake([6, 5], 'dp'))).rejects.toThrow(
      'softmax backward: dx must not share a buffer with dp',
    );
  });
});
