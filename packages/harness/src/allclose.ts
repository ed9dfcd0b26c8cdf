// Elementwise closeness, |actual - expected| <= atol + rtol * |expected|, with a report that
// names the worst element. Pure: used by Node unit tests and by GPU tests in the page alike.

export interface Tolerance {
  /** Absolute tolerance: one number, or one per element (for per-element error bounds). */
  atol: number | ArrayLike<number>;
  rtol: number;
}

export interface CloseReport {
  ok: boolean;
  /** Why it failed, in one line that names the tensor and the worst element; '' when ok. */
  message: string;
  maxAbsError: number;
  mismatches: number;
}

/** Unit roundoff of float32: the relative error of one rounding. */
export const F32_EPS = 2 ** -24;

/**
 * Tolerance for a float32 reduction of `n` terms whose absolute values sum to `magnitude`
 * (per element or one number), compared against a float64 reference. Rounding errors of a
 * length-n sum grow like sqrt(n) for random data and n in the worst case; we allow
 * `slack * sqrt(n)` roundings of the magnitude, plus a few roundings of the result itself.
 */
export function reductionTolerance(n: number, magnitude: number | ArrayLike<number>, slack = 8): Tolerance {
  const k = slack * Math.sqrt(Math.max(1, n)) * F32_EPS;
  const atol = typeof magnitude === 'number' ? k * magnitude : Float64Array.from(magnitude as ArrayLike<number>, (m) => k * m);
  return { atol, rtol: 4 * F32_EPS };
}

export function allclose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, label = 'tensor'): CloseReport {
  if (actual.length !== expected.length) {
    return {
      ok: false,
      message: `${label}: length ${actual.length}, expected ${expected.length}`,
      maxAbsError: Number.POSITIVE_INFINITY,
      mismatches: Math.max(actual.length, expected.length),
    };
  }
  let mismatches = 0;
  let maxAbsError = 0;
  let worst = -1;
  let worstRatio = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const atol = typeof tol.atol === 'number' ? tol.atol : tol.atol[i];
    const allowed = atol + tol.rtol * Math.abs(e);
    const err = Math.abs(a - e);
    // NaN compares false everywhere, so test finiteness explicitly; infinities must match exactly.
    const bad = Number.isFinite(e) ? !(err <= allowed) : !Object.is(a, e);
    if (Number.isFinite(err)) maxAbsError = Math.max(maxAbsError, err);
    if (!bad) continue;
    mismatches++;
    const ratio = Number.isFinite(err) ? err / (allowed || Number.MIN_VALUE) : Number.POSITIVE_INFINITY;
    if (worst < 0 || ratio > worstRatio) {
      worst = i;
      worstRatio = ratio;
    }
  }
  if (mismatches === 0) return { ok: true, message: '', maxAbsError, mismatches };
  const a = actual[worst];
  const e = expected[worst];
  const atol = typeof tol.atol === 'number' ? tol.atol : tol.atol[worst];
  const message =
    `${label}: ${mismatches}/${actual.length} elements differ; worst at [${worst}]: got ${a}, expected ${e}, ` +
    `|diff|=${Math.abs(a - e).toExponential(3)} > atol ${atol.toExponential(3)} + rtol ${tol.rtol.toExponential(3)}*|expected|`;
  return { ok: false, message, maxAbsError, mismatches };
}

export class AllCloseError extends Error {
  override name = 'AllCloseError';
}

export function assertAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, label = 'tensor'): void {
  const report = allclose(actual, expected, tol, label);
  if (!report.ok) throw new AllCloseError(report.message);
}
