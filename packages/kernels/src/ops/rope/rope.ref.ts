// Float64 reference for rope.wgsl, out of place, from the same cos/sin tables.

export interface RopeRef {
  /** [N, heads, hd]: x rotated (by -angle when inverse). */
  y: Float64Array;
  /** Per element, |x[i] * c| + |x[partner] * s|: the scale its rounding errors grow with. */
  magnitude: Float64Array;
}

/** x: [N, heads, hd]; positions: [N]; cos, sin: [P, hd/2]. Rows with a position >= P are copied unchanged. */
export function ropeRef(
  x: ArrayLike<number>,
  positions: ArrayLike<number>,
  cos: ArrayLike<number>,
  sin: ArrayLike<number>,
  hd: number,
  inverse = false,
): RopeRef {
  const half = hd / 2;
  const N = positions.length;
  const heads = x.length / (N * hd);
  const P = cos.length / half;
  const y = Float64Array.from(x);
  const magnitude = Float64Array.from(x, Math.abs);
  for (let n = 0; n < N; n++) {
    const pos = positions[n];
    if (pos >= P) continue;
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < half; i++) {
        const c = cos[pos * half + i];
        const s = (inverse ? -1 : 1) * sin[pos * half + i];
        const lo = (n * heads + h) * hd + i;
        const hi = lo + half;
        y[lo] = x[lo] * c - x[hi] * s;
        y[hi] = x[hi] * c + x[lo] * s;
        magnitude[lo] = Math.abs(x[lo] * c) + Math.abs(x[hi] * s);
        magnitude[hi] = Math.abs(x[hi] * c) + Math.abs(x[lo] * s);
      }
    }
  }
  return { y, magnitude };
}
