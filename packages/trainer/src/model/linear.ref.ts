// Float64 reference of linear.ts: a frozen projection y = x Wᵀ with LoRA adapters stacked on it, forward and backward,
// each adapter's dropout an explicit mask. What linear.gpu.test.ts holds the GPU's linearForward/linearBackward to, and
// linear.test.ts proves by finite differences.

/** One adapter on the projection: A [r, in], B [out, r], its scale, and its dropout mask over x [N*in] (0 or 1/(1-p)). */
export interface LoraRef {
  A: ArrayLike<number>;
  B: ArrayLike<number>;
  r: number;
  scale: number;
  mask: ArrayLike<number> | null;
}

export interface LinearShape {
  N: number;
  inF: number;
  outF: number;
}

/** c [m, n] = a [m, k] · b [k, n], with either operand read transposed as stored. */
function mm(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number, o: { ta?: boolean; tb?: boolean } = {}) {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += (o.ta ? a[p * m + i] : a[i * k + p]) * (o.tb ? b[j * k + p] : b[p * n + j]);
      c[i * n + j] = s;
    }
  return c;
}

const dropped = (x: ArrayLike<number>, mask: ArrayLike<number> | null) => (mask ? Float64Array.from(x, (v, i) => v * mask[i]) : x);

/** y [N, out] = x Wᵀ + Σ scale · (x ⊙ mask) Aᵀ Bᵀ. */
export function linearRef(x: ArrayLike<number>, W: ArrayLike<number>, loras: LoraRef[], { N, inF, outF }: LinearShape): Float64Array {
  const y = mm(x, W, N, inF, outF, { tb: true });
  for (const l of loras) {
    const z = mm(dropped(x, l.mask), l.A, N, inF, l.r, { tb: true });
    const t = mm(z, l.B, N, l.r, outF, { tb: true });
    for (let i = 0; i < y.length; i++) y[i] += l.scale * t[i];
  }
  return y;
}

/** Given dy [N, out]: dx [N, in], and each adapter's dA [r, in] and dB [out, r]. */
export function linearBackwardRef(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  W: ArrayLike<number>,
  loras: LoraRef[],
  { N, inF, outF }: LinearShape,
): { dx: Float64Array; grads: { dA: Float64Array; dB: Float64Array }[] } {
  const dx = mm(dy, W, N, outF, inF);
  const grads = loras.map((l) => {
    const xd = dropped(x, l.mask);
    const u = mm(dy, l.B, N, outF, l.r).map((v) => l.scale * v);
    const dB = mm(dy, mm(xd, l.A, N, inF, l.r, { tb: true }), outF, N, l.r, { ta: true }).map((v) => l.scale * v);
    const dA = mm(u, xd, l.r, N, inF, { ta: true });
    const back = mm(u, l.A, N, l.r, inF);
    for (let i = 0; i < dx.length; i++) dx[i] += (l.mask ? l.mask[i] : 1) * back[i];
    return { dA, dB };
  });
  return { dx, grads };
}
