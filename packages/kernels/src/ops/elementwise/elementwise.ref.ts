// Float64 references for elementwise.wgsl and bias_grad.wgsl. The backward of each op:
//   add:      out = a + b          da = db = dout
//   axpy:     y' = y + alpha * x   dy = dy',  dx = alpha * dy'    (scaleRef)
//   scale:    x' = s * x           dx = s * dx'                   (scaleRef)
//   addBias:  y' = y + bias        dy = dy',  dbias = sum over rows of dy'   (biasGradRef)

export function addRef(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  return Float64Array.from(a, (v, i) => v + b[i]);
}

export function axpyRef(y: ArrayLike<number>, x: ArrayLike<number>, alpha: number): Float64Array {
  return Float64Array.from(y, (v, i) => v + alpha * x[i]);
}

export function scaleRef(x: ArrayLike<number>, s: number): Float64Array {
  return Float64Array.from(x, (v) => s * v);
}

/** cap * tanh(x / cap); its derivative, 1 - tanh^2 = 1 - (y / cap)^2, is in crossEntropyBackwardRef. */
export function softcapRef(x: ArrayLike<number>, cap: number): Float64Array {
  return Float64Array.from(x, (v) => cap * Math.tanh(v / cap));
}

/** y: [rows, D] + bias: [D] on every row. */
export function addBiasRef(y: ArrayLike<number>, bias: ArrayLike<number>): Float64Array {
  return Float64Array.from(y, (v, i) => v + bias[i % bias.length]);
}

export interface BiasGradRefResult {
  /** [D]: initial + the column sums of dy. */
  dbias: Float64Array;
  /** [D]: the sum of the absolute values of the terms: the scale rounding errors grow with. */
  magnitude: Float64Array;
}

/** dbias = initial + sum over rows of dy: [rows, D]; `initial` is dbias before an accumulating call. */
export function biasGradRef(dy: ArrayLike<number>, D: number, initial: ArrayLike<number> = new Float64Array(D)): BiasGradRefResult {
  const dbias = Float64Array.from(initial);
  const magnitude = Float64Array.from(initial, Math.abs);
  for (let i = 0; i < dy.length; i++) {
    dbias[i % D] += dy[i];
    magnitude[i % D] += Math.abs(dy[i]);
  }
  return { dbias, magnitude };
}
