// Seeded bf16 / f16 test data: random 16-bit patterns and the exact values they stand for, so a
// kernel that widens packed halves can be checked against a float64 reference on the same values.

import { seededRandom as rng } from '../runtime/random.ts';
import type { HalfDType } from '../runtime/tensor.ts';

/** The value of one bf16 pattern: the top half of a float32. */
export function bf16Value(bits: number): number {
  const f = new Float32Array(new Uint32Array([bits << 16]).buffer);
  return f[0];
}

/** The value of one f16 pattern (IEEE binary16: 1 sign, 5 exponent, 10 mantissa bits). */
export function f16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f;
  const m = bits & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/**
 * n random halves of magnitude about 2^-6..2 (random sign and mantissa), one in eight exactly zero:
 * a zero beside a value packs to a word that read as a float32 is a subnormal, which some GPUs
 * flush, so a kernel that loads packed words as f32 instead of u32 fails on it.
 */
export function randomHalves(n: number, dtype: HalfDType, seed: number): { bits: Uint16Array; values: Float32Array } {
  const r = rng(seed);
  const bits = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    if (r() < 0.125) continue;
    const sign = r() < 0.5 ? 0x8000 : 0;
    const exp = Math.floor(r() * 8); // 2^-6 .. 2^1
    bits[i] =
      dtype === 'bf16'
        ? sign | ((121 + exp) << 7) | Math.floor(r() * 128) // bf16: 8 exponent bits (bias 127), 7 mantissa
        : sign | ((9 + exp) << 10) | Math.floor(r() * 1024); // f16: 5 exponent bits (bias 15), 10 mantissa
  }
  const decode = dtype === 'bf16' ? bf16Value : f16Value;
  return { bits, values: Float32Array.from(bits, decode) };
}
