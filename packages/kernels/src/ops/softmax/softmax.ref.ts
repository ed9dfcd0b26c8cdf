// Float64 reference for softmax.wgsl and softmax_backward.wgsl, with a first-order bound on the
// error of a float32 evaluation, from which GPU tests derive their tolerances.
//
// Bounds are absolute, per element, in units of F32_EPS (2^-24): one rounding counts 1 times the
// value rounded, a sum of n terms sqrt(n) times its magnitude (the convention of
// reductionTolerance), and exp what WGSL allows: 3 + 2|arg| ULP, one ULP being at most 2 eps.
// GPUs may flush results below the smallest normal float32 to 0: every result that is not an
// exact 0 may be off by that much too.
import type { CausalMask } from './softmax.ts';

/**
 * Columns row r sees, [first, end): all L, or j <= (r % queries) + offset under a causal mask, and of those only
 * the last `window` when it is set.
 */
export function visibleColumns(r: number, L: number, causal?: CausalMask): { first: number; end: number } {
  if (!causal) return { first: 0, end: L };
  const last = (r % causal.queries) + causal.offset;
  const window = causal.window ?? 0;
  return { first: window > 0 ? Math.max(0, last + 1 - window) : 0, end: Math.min(L, last + 1) };
}

const expError = (arg: number) => 2 * (3 + 2 * Math.abs(arg));
/** The smallest normal float32, 2^-126, in eps units. */
const UNDERFLOW = 2 ** -102;

/**
 * p = softmax(scale * x) per row of L, masked entries 0; x, p: [rows * L].
 * `xBound` is the error already in x (from the op that produced it), in the units of `bound`.
 */
export function softmaxForwardRef(
  x: ArrayLike<number>,
  L: number,
  options: { scale?: number; causal?: CausalMask } = {},
  xBound?: ArrayLike<number>,
): { p: Float64Array; bound: Float64Array } {
  const scale = options.scale ?? 1;
  const p = new Float64Array(x.length);
  const bound = new Float64Array(x.length);
  for (let r = 0; r < x.length / L; r++) {
    const { first, end } = visibleColumns(r, L, options.causal);
    const row = r * L + first;
    const seen = end - first;
    let max = Number.NEGATIVE_INFINITY;
    for (let j = row; j < row + seen; j++) max = Math.max(max, scale * x[j]);
    let sum = 0;
    for (let j = row; j < row + seen; j++) {
      p[j] = Math.exp(scale * x[j] - max);
      sum += p[j];
    }
    // Relative error of each term exp(v - max): v = scale*x (exact for scale 1, else the scale
    // and the product round once each), the shift, the error already in x, and exp itself.
    // Each of the sum's roundings may come with a rescale by exp (online max), and a term may
    // be rescaled by the exp of up to |v - max| in all.
    const termError = new Float64Array(seen);
    let sumError = 7 * Math.sqrt(seen);
    for (let j = 0; j < seen; j++) {
      const v = scale * x[row + j];
      const d = v - max;
      termError[j] = (scale === 1 ? 0 : 2 * Math.abs(v)) + Math.abs(d) + Math.abs(scale) * (xBound?.[row + j] ?? 0) + expError(d);
      p[row + j] /= sum;
      sumError += p[row + j] * (termError[j] + expError(d));
    }
    // + 6: the reciprocal of the sum (2.5 ULP) and the product with it.
    for (let j = 0; j < seen; j++) bound[row + j] = p[row + j] * (termError[j] + sumError + 6) + UNDERFLOW;
  }
  return { p, bound };
}

/**
 * dx = p * (dp - rowsum(p * dp)) per row of L; p, dp, dx: [rows * L]. `pBound` and `dpBound`
 * are the errors already in p and dp.
 */
export function softmaxBackwardRef(
  p: ArrayLike<number>,
  dp: ArrayLike<number>,
  L: number,
  pBound?: ArrayLike<number>,
  dpBound?: ArrayLike<number>,
): { dx: Float64Array; bound: Float64Array } {
  const dx = new Float64Array(p.length);
  const bound = new Float64Array(p.length);
  for (let row = 0; row < p.length; row += L) {
    let dot = 0;
    let magnitude = 0;
    let carried = 0;
    for (let j = row; j < row + L; j++) {
      dot += p[j] * dp[j];
      magnitude += Math.abs(p[j] * dp[j]);
      carried += (pBound?.[j] ?? 0) * Math.abs(dp[j]) + Math.abs(p[j]) * (dpBound?.[j] ?? 0);
    }
    const dotError = Math.sqrt(L) * magnitude + carried;
    for (let j = row; j < row + L; j++) {
      const diff = Math.abs(dp[j] - dot);
      const pError = pBound?.[j] ?? 0;
      dx[j] = p[j] * (dp[j] - dot);
      if (p[j] === 0 && pError === 0) continue; // masked: exactly 0
      // + 2 diff: the subtraction and the product round once each.
      bound[j] = pError * diff + Math.abs(p[j]) * ((dpBound?.[j] ?? 0) + dotError + 2 * diff) + UNDERFLOW;
    }
  }
  return { dx, bound };
}
