import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../runtime/gpu.ts';
import { Tensor } from '../../runtime/tensor.ts';
import { sumOfSquaresRef } from './sumsq.ref.ts';
import { sumOfSquares } from './sumsq.ts';

const gpu = {} as Gpu; // shape checks run before any GPU work
const buffer = {} as GPUBuffer;
const fake = (shape: number[], label: string, offset = 0) => new Tensor(buffer, shape, 'f32', label, offset);

describe('sumOfSquaresRef', () => {
  it('matches hand-computed sums', () => {
    expect(sumOfSquaresRef([3, 4])).toBe(25);
    expect(sumOfSquaresRef([1, -2, 0.5, 1e3])).toBe(1 + 4 + 0.25 + 1e6);
    expect(sumOfSquaresRef([])).toBe(0);
  });
});

describe('sumOfSquares checks', () => {
  it('wants a one-element out in a buffer of its own', async () => {
    await expect(sumOfSquares(gpu, fake([2], 'norm'), fake([10], 'grads', 256))).rejects.toThrow(
      'sumOfSquares: out must hold one element; got out norm[2] for x grads[10]',
    );
    await expect(sumOfSquares(gpu, fake([1], 'norm', 4), fake([10], 'grads'))).rejects.toThrow(
      'sumOfSquares: out must not share a buffer with x; got out norm[1], x grads[10]',
    );
    // x is bound read-only and out writable: WebGPU rejects even disjoint views of one buffer.
    await expect(sumOfSquares(gpu, fake([1], 'norm', 256), fake([10], 'grads'))).rejects.toThrow(
      'sumOfSquares: out must not share a buffer with x; got out norm[1], x grads[10]',
    );
    await expect(sumOfSquares(gpu, fake([1], 'norm'), new Tensor(buffer, [10], 'i32', 'ids', 256))).rejects.toThrow(
      'sumOfSquares: x must be f32, got i32',
    );
  });
});
