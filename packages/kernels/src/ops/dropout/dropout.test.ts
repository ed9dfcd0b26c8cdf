import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../runtime/gpu.ts';
import { Tensor } from '../../runtime/tensor.ts';
import { dot, numericGrad } from '../../testing/gradcheck.ts';
import { uniform } from '../../testing/random.ts';
import { dropoutMaskRef, dropoutRef, dropoutThreshold, pcgHash } from './dropout.ref.ts';
import { dropout } from './dropout.ts';

const gpu = {} as Gpu; // shape checks run before any GPU work
const buffer = {} as GPUBuffer;
const fake = (shape: number[], label: string, offset = 0, buf = buffer) => new Tensor(buf, shape, 'f32', label, offset);
/** A tensor in a buffer of its own. */
const own = (shape: number[], label: string) => fake(shape, label, 0, {} as GPUBuffer);

/** Fraction of ones in a 0/1 array. */
const mean = (a: Uint8Array) => a.reduce((s, v) => s + v, 0) / a.length;

/** |observed - expected| for a Bernoulli(q) mean of n samples, in standard deviations. */
const sigmas = (observed: number, q: number, n: number) => Math.abs(observed - q) / Math.sqrt((q * (1 - q)) / n);

describe('dropout reference', () => {
  it('hashes as the published PCG hash (values from an independent big-integer computation)', () => {
    expect([0, 1, 2, 12345].map(pcgHash)).toEqual([129708002, 2831084092, 2055130248, 4099845390]);
  });

  it('keeps an element when its hash reaches p * 2^32', () => {
    expect([0, 0.25, 0.5].map(dropoutThreshold)).toEqual([0, 2 ** 30, 2 ** 31]);
    const seed = 7;
    const mask = dropoutMaskRef(64, 0.5, seed);
    for (let i = 0; i < 64; i++) expect(mask[i]).toBe(pcgHash((pcgHash(i) ^ seed) >>> 0) >= 2 ** 31 ? 1 : 0);
    expect(() => dropoutThreshold(1)).toThrow('dropout: p must be in [0, 1), got 1');
    expect(() => dropoutMaskRef(4, 0.5, -1)).toThrow('dropout: seed must be an integer in [0, 2^32), got -1');
  });

  it('keeps a fraction 1 - p of a big tensor, independently across neighbours and seeds', () => {
    const n = 1 << 20;
    for (const p of [0.1, 0.5, 0.9]) {
      const a = dropoutMaskRef(n, p, 1234);
      const b = dropoutMaskRef(n, p, 1235);
      const q = 1 - p;
      expect(sigmas(mean(a), q, n)).toBeLessThan(5);
      expect(sigmas(mean(a.map((v, i) => v & b[i])), q * q, n)).toBeLessThan(5);
      expect(sigmas(mean(a.subarray(1).map((v, i) => v & a[i])), q * q, n - 1)).toBeLessThan(5);
    }
  });

  it('p = 0 keeps everything unscaled', () => {
    const x = uniform(100, 1, 1000);
    expect(Array.from(dropoutRef(x, 0, 99))).toEqual(Array.from(x));
  });

  it('values: x / (1 - p) where kept, 0 where dropped', () => {
    const x = uniform(200, 2);
    const mask = dropoutMaskRef(200, 0.3, 5);
    const out = dropoutRef(x, 0.3, 5);
    for (let i = 0; i < 200; i++) expect(out[i]).toBe(mask[i] ? x[i] / 0.7 : 0);
  });

  it('backward: the same op with the same seed on the upstream gradient, by finite differences', () => {
    const [x, w] = [uniform(50, 3), uniform(50, 4)];
    const num = numericGrad((v) => dot(w, dropoutRef(v, 0.4, 11)), x);
    const dx = dropoutRef(w, 0.4, 11);
    for (let i = 0; i < 50; i++) expect(dx[i]).toBeCloseTo(num[i], 6);
  });
});

describe('dropout checks', () => {
  it('names the tensors when shapes differ or they share a buffer', async () => {
    await expect(dropout(gpu, fake([4, 3], 'h'), own([3, 4], 'x'), { p: 0.1, seed: 1 })).rejects.toThrow(
      'dropout: out, x must have the same shape; got out h[4, 3], x x[3, 4]',
    );
    await expect(dropout(gpu, fake([4, 3], 'h'), fake([4, 3], 'h'), { p: 0.1, seed: 1 })).rejects.toThrow(
      'dropout: out must not share a buffer with x; got out h[4, 3], x h[4, 3]',
    );
    // x is bound read-only and out writable: WebGPU rejects even disjoint views of one buffer.
    await expect(dropout(gpu, fake([4, 3], 'h'), fake([4, 3], 'x', 256), { p: 0.1, seed: 1 })).rejects.toThrow(
      'dropout: out must not share a buffer with x; got out h[4, 3], x x[4, 3]',
    );
  });

  it('rejects p outside [0, 1) and seeds that are not u32', async () => {
    await expect(dropout(gpu, fake([4], 'h'), own([4], 'x'), { p: -0.1, seed: 1 })).rejects.toThrow(
      'dropout: p must be in [0, 1), got -0.1',
    );
    await expect(dropout(gpu, fake([4], 'h'), own([4], 'x'), { p: 0.1, seed: 2 ** 32 })).rejects.toThrow(
      'dropout: seed must be an integer in [0, 2^32), got 4294967296',
    );
  });
});
