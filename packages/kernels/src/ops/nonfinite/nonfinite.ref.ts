// Float64 reference for nonfinite.wgsl.

/** Whether some x[i] (where w[i] != 0, when weights are given) is NaN or an infinity. */
export function hasNonFiniteRef(x: ArrayLike<number>, w?: ArrayLike<number>): boolean {
  for (let i = 0; i < x.length; i++) if (w?.[i] !== 0 && !Number.isFinite(x[i])) return true;
  return false;
}
