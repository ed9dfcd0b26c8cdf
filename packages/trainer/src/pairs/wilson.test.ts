// Wilson intervals against the values Newcombe (1998), "Two-sided confidence intervals for the single proportion:
// comparison of seven methods", Statistics in Medicine 17:857-872, Table I, method 3 (score, no continuity
// correction) publishes to four decimals.
import { describe, expect, it } from 'vitest';
import { PairsError } from './errors.ts';
import { wilsonInterval } from './wilson.ts';

const PUBLISHED: [successes: number, n: number, low: number, high: number][] = [
  [81, 263, 0.2553, 0.3662],
  [15, 148, 0.0624, 0.1605],
  [0, 20, 0, 0.1611],
  [1, 29, 0.0061, 0.1718],
];

describe('wilsonInterval', () => {
  it.each(PUBLISHED)('%i of %i is [%f, %f] (Newcombe 1998)', (k, n, low, high) => {
    const ci = wilsonInterval(k, n);
    expect(ci.low).toBeCloseTo(low, 4);
    expect(ci.high).toBeCloseTo(high, 4);
  });

  it('is symmetric: k of n mirrors n-k of n', () => {
    const a = wilsonInterval(3, 11);
    const b = wilsonInterval(8, 11);
    expect(a.low).toBeCloseTo(1 - b.high, 12);
    expect(a.high).toBeCloseTo(1 - b.low, 12);
  });

  it('takes half wins (ties split) and gives [0, 1] for no trials', () => {
    const ci = wilsonInterval(2.5, 5);
    expect(ci.low).toBeCloseTo(1 - ci.high, 12);
    expect(wilsonInterval(0, 0)).toEqual({ low: 0, high: 1 });
  });

  it('refuses counts that are not a proportion', () => {
    expect(() => wilsonInterval(6, 5)).toThrow(new PairsError('a Wilson interval needs 0 <= successes <= n (got 6 of 5)'));
    expect(() => wilsonInterval(-1, 5)).toThrow(PairsError);
    expect(() => wilsonInterval(1, Number.NaN)).toThrow(new PairsError('a Wilson interval needs n >= 0 trials (got NaN)'));
  });
});
