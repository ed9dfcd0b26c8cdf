// Float64 reference for matmul.wgsl, on the same geometry (strides, batch mapping, alpha/beta).
import type { MatmulGeometry } from './geometry.ts';

export interface MatmulRefResult {
  /** C after the update. */
  C: Float64Array;
  /** Per element of the product, sum_k |a_mk * b_kn|: the scale rounding errors grow with. */
  magnitude: Float64Array;
}

function batchOffset(o: MatmulGeometry['a'], batch1: number, bt: number): number {
  return o.offset + Math.floor(bt / batch1) * o.stride0 + Math.floor((bt % batch1) / o.div1) * o.stride1;
}

/** `C` holds the output buffer's contents before the call (read only when beta != 0). */
export function matmulRef(
  g: MatmulGeometry,
  A: ArrayLike<number>,
  B: ArrayLike<number>,
  C: ArrayLike<number>,
  alpha = 1,
  beta = 0,
): MatmulRefResult {
  const out = Float64Array.from(C);
  const magnitude = new Float64Array(out.length);
  for (let bt = 0; bt < g.batch; bt++) {
    const ab = batchOffset(g.a, g.batch1, bt);
    const bb = batchOffset(g.b, g.batch1, bt);
    const cb = batchOffset(g.c, g.batch1, bt);
    for (let m = 0; m < g.M; m++) {
      for (let n = 0; n < g.N; n++) {
        let s = 0;
        let mag = 0;
        for (let k = 0; k < g.K; k++) {
          const a = A[ab + (g.transA ? k * g.lda + m : m * g.lda + k)];
          const b = B[bb + (g.transB ? n * g.ldb + k : k * g.ldb + n)];
          s += a * b;
          mag += Math.abs(a * b);
        }
        const i = cb + m * g.ldc + n;
        out[i] = alpha * s + (beta !== 0 ? beta * out[i] : 0);
        magnitude[i] = Math.abs(alpha) * mag + Math.abs(beta * (beta !== 0 ? C[i] : 0));
      }
    }
  }
  return { C: out, magnitude };
}
