// Float64 reference for embedding.wgsl and embedding_backward.wgsl. table: [V, C]; ids: [N]; rows [N, C].

/** out[n] = table[ids[n]], zeros for ids >= V. */
export function embeddingForwardRef(table: ArrayLike<number>, ids: ArrayLike<number>, C: number): Float64Array {
  const V = table.length / C;
  const out = new Float64Array(ids.length * C);
  for (let n = 0; n < ids.length; n++) {
    const id = ids[n];
    if (id < V) for (let c = 0; c < C; c++) out[n * C + c] = table[id * C + c];
  }
  return out;
}

export interface EmbeddingBackwardRef {
  /** [V, C] */
  dtable: Float64Array;
  /** Per element, the sum of the absolute values of what was added (the prior value included). */
  magnitude: Float64Array;
}

/** dtable[ids[n]] += dout[n] in token order, from zeros or from `dtable0` (accumulate); ids >= V skipped. */
export function embeddingBackwardRef(
  dout: ArrayLike<number>,
  ids: ArrayLike<number>,
  V: number,
  dtable0?: ArrayLike<number>,
): EmbeddingBackwardRef {
  const C = dout.length / ids.length;
  const dtable = dtable0 ? Float64Array.from(dtable0) : new Float64Array(V * C);
  const magnitude = Float64Array.from(dtable, Math.abs);
  for (let n = 0; n < ids.length; n++) {
    const id = ids[n];
    if (id >= V) continue;
    for (let c = 0; c < C; c++) {
      dtable[id * C + c] += dout[n * C + c];
      magnitude[id * C + c] += Math.abs(dout[n * C + c]);
    }
  }
  return { dtable, magnitude };
}
