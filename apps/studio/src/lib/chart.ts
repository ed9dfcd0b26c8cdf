// The arithmetic behind the hand-rolled SVG charts: scales, "nice" ticks, downsampling, histogram bins.

export interface Point {
  x: number;
  y: number;
}

/** About `count` round tick values inside [lo, hi] (1, 2 or 5 times a power of ten apart). */
export function niceTicks(lo: number, hi: number, count = 4): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (lo === hi) return [lo];
  if (lo > hi) [lo, hi] = [hi, lo];
  // d3's rule: the round step (1, 2 or 5 times a power of ten) nearest to span / count on a log scale.
  const raw = (hi - lo) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const err = raw / power;
  const step = power * (err >= Math.sqrt(50) ? 10 : err >= Math.sqrt(10) ? 5 : err >= Math.sqrt(2) ? 2 : 1);
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return ticks;
}

/**
 * [min, max] of the finite values, or null when there are none. A loop: `Math.max(...values)` passes every value
 * as an argument and throws a RangeError past about 125k of them (a big dataset's lengths).
 */
export function span(values: readonly number[]): [number, number] | null {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo > hi ? null : [lo, hi];
}

/** [min, max] of the values, padded so a flat line sits mid-chart; [0, 1] when there is nothing. */
export function extent(values: number[], pad = 0.05): [number, number] {
  const s = span(values);
  if (!s) return [0, 1];
  const [lo, hi] = s;
  if (lo === hi) {
    const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    return [lo - d, hi + d];
  }
  const d = (hi - lo) * pad;
  return [lo - d, hi + d];
}

/**
 * At most `max` points that keep the line's shape: the series is cut into buckets and each keeps its first point
 * and its extremes, so spikes (a diverging loss) stay visible however long the run.
 */
export function downsample(points: Point[], max: number): Point[] {
  if (points.length <= max) return points;
  const buckets = Math.max(1, Math.floor(max / 3));
  const size = points.length / buckets;
  const out: Point[] = [];
  for (let b = 0; b < buckets; b++) {
    const from = Math.floor(b * size);
    const to = Math.min(points.length, Math.floor((b + 1) * size));
    let lo = points[from];
    let hi = points[from];
    for (let i = from; i < to; i++) {
      if (points[i].y < lo.y) lo = points[i];
      if (points[i].y > hi.y) hi = points[i];
    }
    const keep = [points[from], lo, hi].sort((a, c) => a.x - c.x);
    for (const p of keep) if (out.at(-1) !== p) out.push(p);
  }
  const last = points.at(-1) as Point;
  if (out.at(-1) !== last) out.push(last);
  return out;
}

/** An SVG path through the points; non-finite values break the line. */
export function linePath(points: Point[], sx: (x: number) => number, sy: (y: number) => number): string {
  let d = '';
  let pen = false;
  for (const p of points) {
    if (!Number.isFinite(p.y)) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`;
    pen = true;
  }
  return d;
}

export interface Bin {
  /** Inclusive lower and exclusive upper bound (the last bin includes its upper bound). */
  from: number;
  to: number;
  count: number;
  /** How many of `count` are at or above `cutFrom` (cut by the max length). */
  cut: number;
}

/** Equal-width integer bins from 0 to the larger of `end` and the largest value, about `count` of them. */
export function histogram(values: number[], end: number, count = 24, cutFrom = Number.POSITIVE_INFINITY): Bin[] {
  const top = Math.max(end, 1, span(values)?.[1] ?? 0);
  const width = Math.max(1, Math.ceil(top / count));
  const n = Math.max(1, Math.ceil(top / width));
  const bins: Bin[] = Array.from({ length: n }, (_, i) => ({ from: i * width, to: (i + 1) * width, count: 0, cut: 0 }));
  for (const v of values) {
    const b = bins[Math.min(n - 1, Math.floor(v / width))];
    b.count++;
    if (v >= cutFrom) b.cut++;
  }
  return bins;
}

/**
 * Where a length chart's axis ends: at the data's longest sequence, stretched to the max length when that is close
 * (within half again), so the bars never shrink into a sliver beside a far-off limit. `limitOnAxis` is false when
 * the max length lies past the end: the chart then points to it at the edge instead of drawing it to scale.
 */
export function lengthAxis(longest: number, maxLength: number): { end: number; limitOnAxis: boolean } {
  const data = Math.max(1, longest);
  if (maxLength <= data * 1.5) return { end: Math.max(data, maxLength), limitOnAxis: true };
  return { end: data, limitOnAxis: false };
}

/** Linear map from a domain to a range. */
export function scale(domain: [number, number], range: [number, number]): (v: number) => number {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}
