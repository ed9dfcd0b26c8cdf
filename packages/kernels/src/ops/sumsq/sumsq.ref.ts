// Float64 reference for sumsq.wgsl. Not differentiated: the gradient norm only scales the update.

/** sum of x[i]^2; every term is positive, so it is also the magnitude rounding errors grow with. */
export function sumOfSquaresRef(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return s;
}
