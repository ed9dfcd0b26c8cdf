// The float64 reference of a LoRA-adapted projection (linear.ref.ts) proved by central finite differences: dx, and
// dA and dB of every adapter, with a frozen adapter stacked under one whose input goes through a dropout mask.
import { dot, numericGrad, uniform } from '@webtune/kernels/testing';
import { describe, expect, it } from 'vitest';
import { type LoraRef, linearBackwardRef, linearRef } from './linear.ref.ts';

describe('linearBackwardRef', () => {
  const shape = { N: 3, inF: 5, outF: 4 };
  const { N, inF, outF } = shape;
  const x = uniform(N * inF, 1);
  const W = uniform(outF * inF, 2);
  const dy = uniform(N * outF, 3);
  const p = 0.4;
  const mask = Float64Array.from(uniform(N * inF, 4), (u) => (u < 0 ? 0 : 1 / (1 - p)));
  const loras: LoraRef[] = [
    { A: uniform(2 * inF, 5), B: uniform(outF * 2, 6), r: 2, scale: 0.5, mask: null },
    { A: uniform(3 * inF, 7), B: uniform(outF * 3, 8), r: 3, scale: 2, mask },
  ];
  const loss = (xs: ArrayLike<number>, ls: LoraRef[]) => dot(dy, linearRef(xs, W, ls, shape));
  const { dx, grads } = linearBackwardRef(dy, x, W, loras, shape);

  it('dx through W, the frozen adapter and the dropped adapter', () => {
    expect(mask.some((m) => m === 0) && mask.some((m) => m > 0)).toBe(true);
    const numeric = numericGrad((xs) => loss(xs, loras), x);
    for (let i = 0; i < dx.length; i++) expect(dx[i], `dx[${i}]`).toBeCloseTo(numeric[i], 8);
  });

  it.each([0, 1])('dA and dB of adapter %i', (k) => {
    const withA = (A: ArrayLike<number>) => loras.map((l, j) => (j === k ? { ...l, A } : l));
    const withB = (B: ArrayLike<number>) => loras.map((l, j) => (j === k ? { ...l, B } : l));
    const dA = numericGrad((A) => loss(x, withA(A)), loras[k].A);
    const dB = numericGrad((B) => loss(x, withB(B)), loras[k].B);
    for (let i = 0; i < dA.length; i++) expect(grads[k].dA[i], `dA[${i}]`).toBeCloseTo(dA[i], 8);
    for (let i = 0; i < dB.length; i++) expect(grads[k].dB[i], `dB[${i}]`).toBeCloseTo(dB[i], 8);
  });
});
