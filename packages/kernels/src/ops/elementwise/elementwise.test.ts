import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../runtime/gpu.ts';
import { Tensor } from '../../runtime/tensor.ts';
import { dot, numericGrad } from '../../testing/gradcheck.ts';
import { uniform } from '../../testing/random.ts';
import { addBiasRef, addRef, axpyRef, biasGradRef, scaleRef } from './elementwise.ref.ts';
import { add, addBias, axpy, biasGrad, fill, scale } from './elementwise.ts';

// Shape checks run before any GPU work, so a bare object stands in for the Gpu.
const gpu = {} as Gpu;
const buffer = {} as GPUBuffer;
const fake = (shape: number[], label: string, offset = 0, buf = buffer) => new Tensor(buf, shape, 'f32', label, offset);

describe('elementwise references', () => {
  it('match hand-computed values', () => {
    expect(Array.from(addRef([1, 2, 3], [10, 20, 30]))).toEqual([11, 22, 33]);
    expect(Array.from(axpyRef([1, 2, 3], [10, 20, 30], -0.5))).toEqual([-4, -8, -12]);
    expect(Array.from(scaleRef([1, -2, 3], 4))).toEqual([4, -8, 12]);
    // y: [2, 3] + bias: [3]
    expect(Array.from(addBiasRef([1, 2, 3, 4, 5, 6], [10, 20, 30]))).toEqual([11, 22, 33, 14, 25, 36]);
    const r = biasGradRef([1, -2, 3, 4, 5, -6], 3, [100, 0, 0]);
    expect(Array.from(r.dbias)).toEqual([105, 3, -3]);
    expect(Array.from(r.magnitude)).toEqual([105, 7, 9]);
  });

  it('backward of addBias: dy passes through, dbias = biasGradRef(dy), by finite differences', () => {
    const [rows, D] = [5, 3];
    const y = uniform(rows * D, 1);
    const bias = uniform(D, 2);
    const w = uniform(rows * D, 3); // upstream gradient
    const numBias = numericGrad((b) => dot(w, addBiasRef(y, b)), bias);
    const numY = numericGrad((v) => dot(w, addBiasRef(v, bias)), y);
    const dbias = biasGradRef(w, D).dbias;
    for (let i = 0; i < D; i++) expect(dbias[i]).toBeCloseTo(numBias[i], 6);
    for (let i = 0; i < y.length; i++) expect(w[i]).toBeCloseTo(numY[i], 6);
  });

  it('backward of axpy and add, by finite differences', () => {
    const [x, y, w] = [uniform(7, 4), uniform(7, 5), uniform(7, 6)];
    const alpha = -1.75;
    const numX = numericGrad((v) => dot(w, axpyRef(y, v, alpha)), x);
    const numY = numericGrad((v) => dot(w, axpyRef(v, x, alpha)), y);
    const numA = numericGrad((v) => dot(w, addRef(v, y)), x);
    const numS = numericGrad((v) => dot(w, scaleRef(v, alpha)), x);
    const dx = scaleRef(w, alpha);
    for (let i = 0; i < 7; i++) {
      expect(dx[i]).toBeCloseTo(numX[i], 6);
      expect(w[i]).toBeCloseTo(numY[i], 6);
      expect(w[i]).toBeCloseTo(numA[i], 6);
      expect(dx[i]).toBeCloseTo(numS[i], 6);
    }
  });
});

describe('elementwise shape checks', () => {
  it('add needs equal shapes and an out in a buffer of its own', async () => {
    await expect(add(gpu, fake([3, 4], 'o'), fake([3, 4], 'p', 256), fake([4, 3], 'q', 512))).rejects.toThrow(
      'add: out, a, b must have the same shape; got out o[3, 4], a p[3, 4], b q[4, 3]',
    );
    await expect(add(gpu, fake([3, 4], 'o'), fake([3, 4], 'p', 0, {} as GPUBuffer), fake([3, 4], 'o'))).rejects.toThrow(
      'add: out must not share a buffer with b; got out o[3, 4], b o[3, 4]',
    );
  });

  it('axpy rejects x in the buffer of y, even as a disjoint view: y is bound writable, x read-only', async () => {
    await expect(axpy(gpu, fake([64], 'y'), fake([64], 'x', 256), 2)).rejects.toThrow(
      'axpy: y must not share a buffer with x; got y y[64], x x[64]',
    );
    const x = (shape: number[]) => fake(shape, 'x', 0, {} as GPUBuffer);
    await expect(axpy(gpu, fake([2], 'y'), x([3]), 2)).rejects.toThrow('axpy: y, x must have the same shape; got y y[2], x x[3]');
    await expect(axpy(gpu, fake([2], 'y'), x([2]), Number.NaN)).rejects.toThrow('axpy: alpha must be a finite number, got NaN');
  });

  it('fill and scale want f32 and finite values', async () => {
    await expect(fill(gpu, new Tensor(buffer, [4], 'u32', 'ids'), 0)).rejects.toThrow('fill: x must be f32, got u32');
    await expect(scale(gpu, fake([4], 'x'), Number.POSITIVE_INFINITY)).rejects.toThrow('scale: s must be a finite number, got Infinity');
  });

  it('addBias and biasGrad need a bias of the rows width', async () => {
    await expect(addBias(gpu, fake([5, 3], 'q'), fake([4], 'q_bias', 256))).rejects.toThrow(
      'addBias: bias must be [D] for y: [..., D]; got y q[5, 3], bias q_bias[4]',
    );
    await expect(biasGrad(gpu, fake([3, 1], 'db'), fake([5, 3], 'dq', 256))).rejects.toThrow(
      'biasGrad: dbias must be [D] for dy: [..., D]; got dy dq[5, 3], dbias db[3, 1]',
    );
  });
});
