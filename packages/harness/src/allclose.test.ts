import { describe, expect, it } from 'vitest';
import { allclose, assertAllClose, F32_EPS, reductionTolerance } from './allclose.ts';

describe('allclose', () => {
  it('accepts values inside atol + rtol*|expected|', () => {
    expect(allclose([1.0, 100.5], [1.05, 100], { atol: 0.1, rtol: 0.005 }).ok).toBe(true);
  });

  it('names the tensor and the worst element when values differ', () => {
    const r = allclose([1, 2, 3.5, 4], [1, 2, 3, 4.01], { atol: 0.02, rtol: 0 }, 'logits');
    expect(r.ok).toBe(false);
    expect(r.mismatches).toBe(1);
    expect(r.message).toMatch(/^logits: 1\/4 elements differ; worst at \[2\]: got 3.5, expected 3/);
  });

  it('treats NaN as a mismatch (a NaN-producing kernel must not pass)', () => {
    const r = allclose([1, Number.NaN], [1, 2], { atol: 1, rtol: 1 });
    expect(r.ok).toBe(false);
    expect(r.message).toContain('got NaN');
  });

  it('requires infinities to match exactly', () => {
    expect(allclose([Number.NEGATIVE_INFINITY], [Number.NEGATIVE_INFINITY], { atol: 0, rtol: 0 }).ok).toBe(true);
    expect(allclose([1e30], [Number.POSITIVE_INFINITY], { atol: 0, rtol: 1 }).ok).toBe(false);
  });

  it('rejects a length mismatch', () => {
    expect(allclose([1, 2], [1, 2, 3], { atol: 1, rtol: 1 }, 'x').message).toBe('x: length 2, expected 3');
  });

  it('takes a per-element atol', () => {
    expect(allclose([1.5, 2.5], [1, 2], { atol: [0.6, 0.6], rtol: 0 }).ok).toBe(true);
    expect(allclose([1.5, 2.5], [1, 2], { atol: [0.6, 0.4], rtol: 0 }).ok).toBe(false);
  });

  it('assertAllClose throws with the report message', () => {
    expect(() => assertAllClose([0], [1], { atol: 0, rtol: 0 }, 'w')).toThrow(/^w: 1\/1 elements differ/);
  });
});

describe('reductionTolerance', () => {
  it('grows with the reduction length and scales with the magnitude', () => {
    const short = reductionTolerance(16, 1).atol as number;
    const long = reductionTolerance(1024, 1).atol as number;
    expect(long / short).toBeCloseTo(8, 10);
    expect(reductionTolerance(16, 10).atol as number).toBeCloseTo(short * 10, 15);
    expect(short).toBeCloseTo(8 * 4 * F32_EPS, 15);
  });

  it('gives one atol per element for per-element magnitudes', () => {
    const t = reductionTolerance(4, [1, 2]);
    expect(Array.from(t.atol as Float64Array)).toEqual([16 * F32_EPS, 32 * F32_EPS]);
  });
});
