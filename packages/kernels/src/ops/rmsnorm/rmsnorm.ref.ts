// Float64 reference for rmsnorm.wgsl and its backward (rmsnorm_backward.wgsl, rmsnorm_dw.wgsl).
// Rows are x's [N, C] with C = w.length.

export interface RmsnormForwardRef {
  /** [N, C] */
  y: Float64Array;
  /** [N]: 1 / sqrt(mean(x^2) + eps) */
  rstd: Float64Array;
}

export interface RmsnormBackwardRef {
  /** [N, C]: the gradient, plus dx0 when given (accumulate). */
  dx: Float64Array;
  /** [C] */
  dw: Float64Array;
  /** Per element of dx, the sum of the absolute values of the terms it adds: the scale its rounding errors grow with. */
  dxMagnitude: Float64Array;
  /** Per element of dw, sum_n |dy * x * rstd|. */
  dwMagnitude: Float64Array;
}

export function rmsnormForwardRef(x: ArrayLike<number>, w: ArrayLike<number>, eps: number): RmsnormForwardRef {
  const C = w.length;
  const N = x.length / C;
  const y = new Float64Array(N * C);
  const rstd = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    let sumSq = 0;
    for (let c = 0; c < C; c++) sumSq += x[n * C + c] ** 2;
    const r = 1 / Math.sqrt(sumSq / C + eps);
    rstd[n] = r;
    for (let c = 0; c < C; c++) y[n * C + c] = x[n * C + c] * r * w[c];
  }
  return { y, rstd };
}

/**
 * With g = dy * w: dx = rstd * (g - x * rstd^2 * sum(g * x) / C) (+ dx0), dw = sum_n dy * x * rstd.
 * `rstd` is the forward's (its float32 copy in GPU tests, so both sides start from the same values).
 */
export function rmsnormBackwardRef(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  rstd: ArrayLike<number>,
  dx0?: ArrayLike<number>,
): RmsnormBackwardRef {
  const C = w.length;
  const N = x.length / C;
  const dx = new Float64Array(N * C);
  const dxMagnitude = new Float64Array(N * C);
  const dw = new Float64Array(C);
  const dwMagnitude = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    const r = rstd[n];
    let gx = 0;
    let gxAbs = 0;
    for (let c = 0; c < C; c++) {
      gx += dy[n * C + c] * w[c] * x[n * C + c];
      gxAbs += Math.abs(dy[n * C + c] * w[c] * x[n * C + c]);
    }
    for (let c = 0; c < C; c++) {
      const i = n * C + c;
      const g = dy[i] * w[c];
      const prior = dx0 ? dx0[i] : 0;
      dx[i] = r * (g - (x[i] * r * r * gx) / C) + prior;
      dxMagnitude[i] = r * Math.abs(g) + (r ** 3 * Math.abs(x[i]) * gxAbs) / C + Math.abs(prior);
      dw[c] += dy[i] * x[i] * r;
      dwMagnitude[c] += Math.abs(dy[i] * x[i] * r);
    }
  }
  return { dx, dw, dxMagnitude, dwMagnitude };
}
