// Seeded test data, so a failing case can be replayed exactly.
import { seededRandom as rng } from '../runtime/random.ts';

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
