// Float64 reference for dropout.wgsl, with its mask computed bit for bit: the same PCG hash in
// 32-bit integer arithmetic (Math.imul and >>> 0 wrap as WGSL's u32 does).

/** One PCG hash of a u32 (RXS-M-XS output of one LCG step), as `pcg` in dropout.wgsl. */
export function pcgHash(v: number): number {
  const state = (Math.imul(v, 747796405) + 2891336453) >>> 0;
  const word = Math.imul((state >>> ((state >>> 28) + 4)) ^ state, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** The u32 an element's hash must reach to be kept: ceil(p * 2^32), so keep <=> hash >= p * 2^32. */
export function dropoutThreshold(p: number): number {
  if (!(p >= 0 && p < 1)) throw new RangeError(`dropout: p must be in [0, 1), got ${p}`);
  return Math.min(Math.ceil(p * 2 ** 32), 0xffffffff);
}

export function requireSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new RangeError(`dropout: seed must be an integer in [0, 2^32), got ${seed}`);
}

/** mask[i] = 1 where element i of a dropout with (p, seed) is kept, 0 where it is dropped. */
export function dropoutMaskRef(n: number, p: number, seed: number): Uint8Array {
  const threshold = dropoutThreshold(p);
  requireSeed(seed);
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = pcgHash((pcgHash(i) ^ seed) >>> 0) >= threshold ? 1 : 0;
  return mask;
}

/**
 * out = x * keep / (1 - p). Dropout is linear in x with a diagonal Jacobian, so the same call
 * on the upstream gradient dy (same p and seed) is the backward: dx = dropoutRef(dy, p, seed).
 */
export function dropoutRef(x: ArrayLike<number>, p: number, seed: number): Float64Array {
  const mask = dropoutMaskRef(x.length, p, seed);
  return Float64Array.from(x, (v, i) => (mask[i] ? v / (1 - p) : 0));
}
