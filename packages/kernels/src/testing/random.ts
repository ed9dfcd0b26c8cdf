// Seeded test data, so a failing case can be replayed exactly.

/** mulberry32: a small, fast, seedable PRNG returning floats in [0, 1). The index exports it as seededRandom. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Mixes integers into one 32-bit seed (murmur3's finaliser per 32-bit half), e.g. (seed, epoch)
 * for a shuffle or (seed, step, micro-batch) for dropout, so derived streams do not repeat.
 */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const v of parts) {
    for (const w of [v >>> 0, Math.floor(v / 2 ** 32) >>> 0]) {
      h = Math.imul(h ^ w, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
    }
  }
  return h >>> 0;
}

/** n values uniform in [-scale, scale), rounded to float32 (what the GPU will see). */
export function uniform(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (2 * r() - 1) * scale);
}

/** n standard-normal values times scale (Box-Muller), as float32. */
export function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(r(), 1e-12);
    const v = r();
    const rad = Math.sqrt(-2 * Math.log(u));
    out[i] = rad * Math.cos(2 * Math.PI * v) * scale;
    if (i + 1 < n) out[i + 1] = rad * Math.sin(2 * Math.PI * v) * scale;
  }
  return out;
}

/** n integers in [0, max). */
export function randint(n: number, seed: number, max: number): Uint32Array {
  const r = rng(seed);
  return Uint32Array.from({ length: n }, () => Math.floor(r() * max));
}
