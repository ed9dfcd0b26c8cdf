// Float64 reference for swiglu.wgsl and swiglu_backward.wgsl. All arrays [N, I], flattened.

/** Stable for any |g|: exp only of a non-positive number. */
export function sigmoid(g: number): number {
  const e = Math.exp(-Math.abs(g));
  return g >= 0 ? 1 / (1 + e) : e / (1 + e);
}

export function swigluForwardRef(gate: ArrayLike<number>, up: ArrayLike<number>): Float64Array {
  return Float64Array.from(gate, (g, i) => g * sigmoid(g) * up[i]);
}

export interface SwigluBackwardRef {
  dgate: Float64Array;
  dup: Float64Array;
  /** Per element of dgate, |dout * up| * s * (1 + |g| * (1 - s)): its terms' scale, for tolerances (1 + g(1 - s) may cancel). */
  dgateMagnitude: Float64Array;
}

export function swigluBackwardRef(dout: ArrayLike<number>, gate: ArrayLike<number>, up: ArrayLike<number>): SwigluBackwardRef {
  const n = gate.length;
  const dgate = new Float64Array(n);
  const dup = new Float64Array(n);
  const dgateMagnitude = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    const s = sigmoid(g);
    const sc = sigmoid(-g); // 1 - s without cancellation
    dup[i] = dout[i] * g * s;
    dgate[i] = dout[i] * up[i] * s * (1 + g * sc);
    dgateMagnitude[i] = Math.abs(dout[i] * up[i]) * s * (1 + Math.abs(g) * sc);
  }
  return { dgate, dup, dgateMagnitude };
}
