// Float64 reference for geglu.wgsl and geglu_backward.wgsl (gelu_pytorch_tanh, as torch's
// gelu(approximate="tanh")), written with Math.tanh: independent of the kernels' exp form. All arrays [N, I].

const C = Math.sqrt(2 / Math.PI);
const A = 0.044715;

/** u = sqrt(2/pi) (g + 0.044715 g^3), the argument of tanh. */
export const geluTanhArg = (g: number) => C * (g + A * g * g * g);

export function geluTanh(g: number): number {
  return 0.5 * g * (1 + Math.tanh(geluTanhArg(g)));
}

export function geluTanhSlope(g: number): number {
  const t = Math.tanh(geluTanhArg(g));
  return 0.5 * (1 + t) + 0.5 * g * (1 - t * t) * C * (1 + 3 * A * g * g);
}

export function gegluForwardRef(gate: ArrayLike<number>, up: ArrayLike<number>): Float64Array {
  return Float64Array.from(gate, (g, i) => geluTanh(g) * up[i]);
}

export interface GegluBackwardRef {
  dgate: Float64Array;
  dup: Float64Array;
  /** Per element of dgate, |dout * up| times the sum of its slope's two terms' magnitudes (they may cancel). */
  dgateMagnitude: Float64Array;
}

export function gegluBackwardRef(dout: ArrayLike<number>, gate: ArrayLike<number>, up: ArrayLike<number>): GegluBackwardRef {
  const n = gate.length;
  const dgate = new Float64Array(n);
  const dup = new Float64Array(n);
  const dgateMagnitude = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    const t = Math.tanh(geluTanhArg(g));
    dup[i] = dout[i] * geluTanh(g);
    dgate[i] = dout[i] * up[i] * geluTanhSlope(g);
    const terms = 0.5 * (1 + t) + Math.abs(0.5 * g * (1 - t * t) * C * (1 + 3 * A * g * g));
    dgateMagnitude[i] = Math.abs(dout[i] * up[i]) * terms;
  }
  return { dgate, dup, dgateMagnitude };
}
