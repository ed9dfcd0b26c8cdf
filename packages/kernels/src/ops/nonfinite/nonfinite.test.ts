import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../runtime/gpu.ts';
import { Tensor } from '../../runtime/tensor.ts';
import { hasNonFiniteRef } from './nonfinite.ref.ts';
import { flagNonFinite } from './nonfinite.ts';

const gpu = {} as Gpu; // checks run before any GPU work
const fake = (shape: number[], label: string, dtype: 'f32' | 'u32' = 'f32') => new Tensor({} as GPUBuffer, shape, dtype, label);

describe('hasNonFiniteRef', () => {
  it('finds NaN and both infinities, only where the weight is not 0', () => {
    expect(hasNonFiniteRef([1, -2, 3e38])).toBe(false);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) expect(hasNonFiniteRef([0, bad])).toBe(true);
    expect(hasNonFiniteRef([Number.NaN, 1], [0, 1])).toBe(false);
    expect(hasNonFiniteRef([Number.NaN, 1], [0.5, 0])).toBe(true);
  });
});

describe('flagNonFinite checks', () => {
  it('wants a one-element u32 flag, f32 x and weights of x shape', async () => {
    await expect(flagNonFinite(gpu, { x: fake([4], 'loss'), flag: fake([1], 'halt') })).rejects.toThrow(
      'flagNonFinite: flag must be one u32 element; got flag halt[1] f32',
    );
    await expect(flagNonFinite(gpu, { x: fake([4], 'loss'), weights: fake([3], 'w'), flag: fake([1], 'halt', 'u32') })).rejects.toThrow(
      'flagNonFinite',
    );
    await expect(flagNonFinite(gpu, { x: fake([4], 'ids', 'u32'), flag: fake([1], 'halt', 'u32') })).rejects.toThrow('flagNonFinite');
  });
});
