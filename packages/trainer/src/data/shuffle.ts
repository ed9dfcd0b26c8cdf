// The seeded shuffle of the training order, in a module of its own: it needs only the kernels' RNG, so Node code
// (the CLI's side of the classroom) can use it without loading WGSL.
import { mixSeed, seededRandom } from '@webtune/kernels/random';

/** A copy of `items` in an order fixed by (seed, epoch): the same pair always gives the same order. */
export function shuffled<T>(items: T[], seed: number, epoch: number): T[] {
  const out = items.slice();
  const next = seededRandom(mixSeed(seed, epoch));
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
