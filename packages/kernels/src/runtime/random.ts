// Seeded randomness for the product (LoRA initialisation, shuffles, dropout seeds, sampling) and for the tests'
// data (testing/random.ts): the same seed gives the same numbers on every host.

/** mulberry32: a small, fast, seedable PRNG returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
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
