// The advice the trainer adds to the kernels' out-of-memory errors (their own message names only the work and sizes).
import { GpuOutOfMemoryError, GpuValidationError } from '@webtune/kernels';
import { describe, expect, it } from 'vitest';
import { advised, withMemoryAdvice } from './advice.ts';

describe('out-of-memory advice', () => {
  it('adds what to shrink to an out-of-memory error, once, keeping its class', async () => {
    const err = await advised(Promise.reject(new GpuOutOfMemoryError('training step 3', 'Not enough memory left'))).catch((e) => e);
    expect(err).toBeInstanceOf(GpuOutOfMemoryError);
    expect(err.name).toBe('GpuOutOfMemoryError');
    expect(err.message).toBe(
      'Out of GPU memory during training step 3 (Not enough memory left). Use a smaller batch size or max length, ' +
        'a smaller LoRA rank, or a smaller model; closing other GPU-heavy tabs and apps also frees memory.',
    );
    expect(withMemoryAdvice(err).message).toBe(err.message);
  });

  it('leaves other errors and results as they are', async () => {
    const other = new GpuValidationError('loading weights', 'Buffer is destroyed');
    expect(withMemoryAdvice(other).message).toBe('WebGPU validation error during loading weights: Buffer is destroyed');
    expect(await advised(Promise.resolve(7))).toBe(7);
  });
});
