// Float64 reference for cross_entropy.wgsl (forward) and cross_entropy_backward.wgsl.
// logits: [N, V] row-major; targets: [N], a target >= V marks an ignored row.

export interface CrossEntropyRef {
  /** [N]: logits[i, t_i] - lse[i]; 0 for ignored rows. */
  logprobs: Float64Array;
  /** [N]: logsumexp(logits[i]), for every row. */
  lse: Float64Array;
  /**
   * [N]: the scale a row's float32 rounding errors grow with, 1 + sum_j p_ij |x_ij - max_i|: the
   * sum of exps has rounding of its own, and each exp's relative error grows with its argument.
   */
  magnitude: Float64Array;
}

export function crossEntropyForwardRef(logits: ArrayLike<number>, targets: ArrayLike<number>, V: number): CrossEntropyRef {
  const N = targets.length;
  const logprobs = new Float64Array(N);
  const lse = new Float64Array(N);
  const magnitude = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    let m = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < V; j++) m = Math.max(m, logits[i * V + j]);
    let s = 0;
    let spread = 0;
    for (let j = 0; j < V; j++) {
      const e = Math.exp(logits[i * V + j] - m);
      s += e;
      spread += e * (m - logits[i * V + j]);
    }
    lse[i] = m + Math.log(s);
    magnitude[i] = 1 + spread / s;
    if (targets[i] < V) logprobs[i] = logits[i * V + targets[i]] - lse[i];
  }
  return { logprobs, lse, magnitude };
}

/**
 * dlogits [N, V] of sum_i weights[i] * NLL_i: weights[i] * (softmax(logits[i]) - onehot(t_i)), 0 on ignored rows.
 * With `softcap`, the logits given are y = cap * tanh(z / cap) and the result is w.r.t. z: times 1 - (y / cap)^2.
 */
export function crossEntropyBackwardRef(
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  weights: ArrayLike<number>,
  V: number,
  softcap?: number,
): Float64Array {
  const { lse } = crossEntropyForwardRef(logits, targets, V);
  const d = new Float64Array(logits.length);
  for (let i = 0; i < targets.length; i++) {
    if (targets[i] >= V || weights[i] === 0) continue;
    for (let j = 0; j < V; j++) {
      const y = logits[i * V + j];
      const dy = weights[i] * (Math.exp(y - lse[i]) - (j === targets[i] ? 1 : 0));
      d[i * V + j] = softcap ? dy * (1 - (y / softcap) ** 2) : dy;
    }
  }
  return d;
}
