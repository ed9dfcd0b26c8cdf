// Central finite differences, to prove each backward reference against its forward reference.

/**
 * d f / d x[i] for every i, by (f(x + h e_i) - f(x - h e_i)) / 2h in float64.
 * `f` must not keep references to its argument between calls.
 */
export function numericGrad(f: (x: Float64Array) => number, x: ArrayLike<number>, h = 1e-6): Float64Array {
  const xs = Float64Array.from(x);
  const grad = new Float64Array(xs.length);
  for (let i = 0; i < xs.length; i++) {
    const orig = xs[i];
    xs[i] = orig + h;
    const plus = f(xs);
    xs[i] = orig - h;
    const minus = f(xs);
    xs[i] = orig;
    grad[i] = (plus - minus) / (2 * h);
  }
  return grad;
}

/** sum_i w[i] * y[i]: turns a vector function into a scalar loss with a known upstream gradient w. */
export function dot(w: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += w[i] * y[i];
  return s;
}
