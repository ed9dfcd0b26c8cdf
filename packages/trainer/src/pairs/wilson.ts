// The Wilson score interval for a binomial proportion (Wilson 1927; Newcombe 1998 method 3, no continuity
// correction): unlike the normal ("Wald") interval it stays inside [0, 1] and is not zero-width at 0 or n successes,
// which matters for the handful of prompts a person judges by hand.
import { PairsError } from './errors.ts';

/** The 0.975 quantile of the standard normal: a two-sided 95% interval. */
export const Z95 = 1.959963984540054;

export interface Interval {
  low: number;
  high: number;
}

/**
 * The interval for `successes` out of `n` trials. `successes` may be fractional (ties split as half a win each);
 * n = 0 has no information and gives [0, 1].
 */
export function wilsonInterval(successes: number, n: number, z = Z95): Interval {
  if (!Number.isFinite(n) || n < 0) throw new PairsError(`a Wilson interval needs n >= 0 trials (got ${n})`);
  if (!Number.isFinite(successes) || successes < 0 || successes > n)
    throw new PairsError(`a Wilson interval needs 0 <= successes <= n (got ${successes} of ${n})`);
  if (n === 0) return { low: 0, high: 1 };
  const p = successes / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // At p = 0 or 1 one bound is exactly 0 or 1 in exact arithmetic; clamp the rounding.
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}
