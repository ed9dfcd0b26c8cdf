import { describe, expect, it } from 'vitest';
import { downsample, extent, histogram, lengthAxis, linePath, niceTicks, scale, span } from './chart.ts';

describe('chart arithmetic', () => {
  it('nice ticks are round and cover the range', () => {
    const round = (ts: number[]) => ts.map((t) => Number(t.toFixed(6)));
    expect(round(niceTicks(0, 1, 4))).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 10, 5)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(round(niceTicks(0.62, 0.7, 4))).toEqual([0.62, 0.64, 0.66, 0.68, 0.7]);
    // A loss falling from 6.95 to 6.1 gets several ticks, not one.
    expect(round(niceTicks(6.1, 6.95, 4))).toEqual([6.2, 6.4, 6.6, 6.8]);
    expect(niceTicks(3, 3)).toEqual([3]);
    for (const t of niceTicks(-3.3, 17.9, 4)) expect(t).toBeGreaterThanOrEqual(-3.3);
  });

  it('extent pads and survives flat or empty series', () => {
    expect(extent([])).toEqual([0, 1]);
    expect(extent([2, 2])).toEqual([1.8, 2.2]);
    const [lo, hi] = extent([0, 10]);
    expect(lo).toBeLessThan(0);
    expect(hi).toBeGreaterThan(10);
  });

  it('downsampling keeps spikes, the first and the last point', () => {
    const pts = Array.from({ length: 10_000 }, (_, i) => ({ x: i, y: i === 5000 ? 100 : 1 }));
    const out = downsample(pts, 300);
    expect(out.length).toBeLessThanOrEqual(301);
    expect(out[0]).toBe(pts[0]);
    expect(out.at(-1)).toBe(pts.at(-1));
    expect(out.some((p) => p.y === 100)).toBe(true);
    for (let i = 1; i < out.length; i++) expect(out[i].x).toBeGreaterThan(out[i - 1].x);
  });

  it('paths break at non-finite values', () => {
    const d = linePath(
      [
        { x: 0, y: 0 },
        { x: 1, y: Number.NaN },
        { x: 2, y: 1 },
      ],
      (x) => x,
      (y) => y,
    );
    expect(d).toBe('M0.0,0.0M2.0,1.0');
  });

  it('histogram bins cover 0..end and count every value, and those from the cut on', () => {
    const bins = histogram([0, 5, 10, 63, 64], 64, 8);
    expect(bins[0].from).toBe(0);
    expect(bins.at(-1)?.to).toBeGreaterThanOrEqual(64);
    expect(bins.reduce((n, b) => n + b.count, 0)).toBe(5);
    expect(bins.reduce((n, b) => n + b.cut, 0)).toBe(0);
    // Max length 48 cuts sequences of 49 tokens and more: 63 and 64, not 48.
    const cut = histogram([10, 48, 63, 64], 64, 8, 49);
    expect(cut.reduce((n, b) => n + b.cut, 0)).toBe(2);
    expect(cut.at(-1)).toMatchObject({ count: 2, cut: 2 });
  });

  it('a length axis ends near the data, with the max length on it or pointed to past the end', () => {
    // The default max length (1024) beside sequences of at most 60 tokens: the axis stays at 60, not 1024.
    expect(lengthAxis(60, 1024)).toEqual({ end: 60, limitOnAxis: false });
    // A max length that cuts: the axis runs to the longest sequence, the limit inside it.
    expect(lengthAxis(120, 48)).toEqual({ end: 120, limitOnAxis: true });
    // A max length a little past the data is drawn to scale.
    expect(lengthAxis(60, 80)).toEqual({ end: 80, limitOnAxis: true });
    expect(lengthAxis(0, 4)).toEqual({ end: 1, limitOnAxis: false });
  });

  it('handles 200k values (a big dataset): no spread into Math.max, which overflows the stack', () => {
    const values = Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 3001);
    values[123_456] = 5000;
    expect(span(values)).toEqual([0, 5000]);
    expect(span([Number.NaN, 3, Number.POSITIVE_INFINITY, -2])).toEqual([-2, 3]);
    expect(span([])).toBeNull();
    const [lo, hi] = extent(values);
    expect(lo).toBeLessThan(0);
    expect(hi).toBeGreaterThan(5000);
    const bins = histogram(values, 1024, 20);
    expect(bins.at(-1)?.to).toBeGreaterThanOrEqual(5000);
    expect(bins.reduce((n, b) => n + b.count, 0)).toBe(200_000);
  });

  it('scale maps linearly', () => {
    const s = scale([0, 10], [100, 0]);
    expect(s(0)).toBe(100);
    expect(s(5)).toBe(50);
  });
});
