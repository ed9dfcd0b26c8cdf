// Float64 reference for attention, written with loops over (batch, head, position), independent
// of the strided matmul walks the op uses. Each result comes with a first-order bound on the
// error of a float32 evaluation, in the units of softmax.ref.ts (eps; one rounding counts the
// value rounded, a sum of n terms sqrt(n) times its magnitude).
import { softmaxBackwardRef, softmaxForwardRef } from '../softmax/softmax.ref.ts';
import type { AttentionShape } from './attention.ts';

/** Values and the bound on their float32 error (eps units). */
export interface WithBound {
  y: Float64Array;
  bound: Float64Array;
}

/**
 * Roundings, in units of the magnitude, of a sum of n terms computed as `parts` partial sums that
 * are each scaled by alpha and added up; alpha other than 1 also rounds once as a float32.
 */
const roundings = (n: number, parts: number, alpha: number) => Math.sqrt(n) + (parts - 1) + (alpha === 1 ? 0 : parts + 1);

/** Flat indices: x, q, out [B, Tq, nh, hd]; kv, k, v [B, Tk, nkv, hd]; w, scores [B, nh, Tq, Tk]. */
function indexing({ Tq, Tk, nh, nkv, hd }: AttentionShape) {
  return {
    xi: (b: number, t: number, h: number, d: number) => ((b * Tq + t) * nh + h) * hd + d,
    kvi: (b: number, t: number, h: number, d: number) => ((b * Tk + t) * nkv + h) * hd + d,
    wi: (b: number, h: number, i: number, j: number) => ((b * nh + h) * Tq + i) * Tk + j,
  };
}

/** [B, nh, Tq, Tk] = alpha * x kvᵀ per query head h and its kv head: S = scale Q Kᵀ, dP = dO Vᵀ. */
function queriesTimesKeys(s: AttentionShape, x: ArrayLike<number>, kv: ArrayLike<number>, alpha: number): WithBound {
  const { B, Tq, Tk, nh, nkv, hd } = s;
  const { xi, kvi, wi } = indexing(s);
  const y = new Float64Array(B * nh * Tq * Tk);
  const bound = new Float64Array(y.length);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < nh; h++)
      for (let i = 0; i < Tq; i++)
        for (let j = 0; j < Tk; j++) {
          let [sum, magnitude] = [0, 0];
          for (let d = 0; d < hd; d++) {
            const term = x[xi(b, i, h, d)] * kv[kvi(b, j, Math.floor(h / (nh / nkv)), d)];
            sum += term;
            magnitude += Math.abs(term);
          }
          y[wi(b, h, i, j)] = alpha * sum;
          bound[wi(b, h, i, j)] = Math.abs(alpha) * roundings(hd, 1, alpha) * magnitude;
        }
  return { y, bound };
}

/** [B, Tq, nh, hd] = alpha * w kv per query head, w with its error bound: out = P V, dQ = scale dS K. */
function weightsTimesValues(s: AttentionShape, w: WithBound, kv: ArrayLike<number>, alpha: number): WithBound {
  const { B, Tq, Tk, nh, nkv, hd } = s;
  const { xi, kvi, wi } = indexing(s);
  const y = new Float64Array(B * Tq * nh * hd);
  const bound = new Float64Array(y.length);
  for (let b = 0; b < B; b++)
    for (let i = 0; i < Tq; i++)
      for (let h = 0; h < nh; h++)
        for (let d = 0; d < hd; d++) {
          let [sum, magnitude, carried] = [0, 0, 0];
          for (let j = 0; j < Tk; j++) {
            const kvj = kv[kvi(b, j, Math.floor(h / (nh / nkv)), d)];
            sum += w.y[wi(b, h, i, j)] * kvj;
            magnitude += Math.abs(w.y[wi(b, h, i, j)] * kvj);
            carried += w.bound[wi(b, h, i, j)] * Math.abs(kvj);
          }
          y[xi(b, i, h, d)] = alpha * sum;
          bound[xi(b, i, h, d)] = Math.abs(alpha) * (roundings(Tk, 1, alpha) * magnitude + carried);
        }
  return { y, bound };
}

/**
 * [B, Tk, nkv, hd] = alpha * sum over the query heads h sharing kv head kvh of wᵀ x:
 * dK = scale dSᵀ Q, dV = Pᵀ dO. The GPU sums each group member's heads as a separate partial.
 */
function groupedKeyGrad(s: AttentionShape, w: WithBound, x: ArrayLike<number>, alpha: number): WithBound {
  const { B, Tq, Tk, nh, nkv, hd } = s;
  const group = nh / nkv;
  const { xi, kvi, wi } = indexing(s);
  const y = new Float64Array(B * Tk * nkv * hd);
  const bound = new Float64Array(y.length);
  for (let b = 0; b < B; b++)
    for (let j = 0; j < Tk; j++)
      for (let kvh = 0; kvh < nkv; kvh++)
        for (let d = 0; d < hd; d++) {
          let [sum, magnitude, carried] = [0, 0, 0];
          for (let h = kvh * group; h < (kvh + 1) * group; h++)
            for (let i = 0; i < Tq; i++) {
              const xd = x[xi(b, i, h, d)];
              sum += w.y[wi(b, h, i, j)] * xd;
              magnitude += Math.abs(w.y[wi(b, h, i, j)] * xd);
              carried += w.bound[wi(b, h, i, j)] * Math.abs(xd);
            }
          y[kvi(b, j, kvh, d)] = alpha * sum;
          bound[kvi(b, j, kvh, d)] = Math.abs(alpha) * (roundings(group * Tq, group, alpha) * magnitude + carried);
        }
  return { y, bound };
}

export interface AttentionRefOptions {
  /** 1/sqrt(hd) by default. */
  scale?: number;
  /** Tk - Tq by default. */
  offset?: number;
  /** Sliding window: keys a query sees, itself included; none by default. */
  window?: number;
}

/** out: [B, Tq, nh, hd]; probs: [B, nh, Tq, Tk], masked entries 0. */
export function attentionForwardRef(
  s: AttentionShape,
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  options: AttentionRefOptions = {},
): { out: WithBound; probs: WithBound } {
  const scores = queriesTimesKeys(s, q, k, options.scale ?? 1 / Math.sqrt(s.hd));
  const causal = { queries: s.Tq, offset: options.offset ?? s.Tk - s.Tq, window: options.window };
  const { p, bound } = softmaxForwardRef(scores.y, s.Tk, { causal }, scores.bound);
  const probs = { y: p, bound };
  return { out: weightsTimesValues(s, probs, v, 1), probs };
}

/** Gradients of dot(dout, attentionForwardRef(...).out) to q [B, Tq, nh, hd], k and v [B, Tk, nkv, hd]. */
export function attentionBackwardRef(
  s: AttentionShape,
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  dout: ArrayLike<number>,
  options: AttentionRefOptions = {},
): { dq: WithBound; dk: WithBound; dv: WithBound } {
  const scale = options.scale ?? 1 / Math.sqrt(s.hd);
  const { probs } = attentionForwardRef(s, q, k, v, options);
  const dprobs = queriesTimesKeys(s, dout, v, 1);
  const { dx, bound } = softmaxBackwardRef(probs.y, dprobs.y, s.Tk, probs.bound, dprobs.bound);
  const dscores = { y: dx, bound };
  return {
    dq: weightsTimesValues(s, dscores, k, scale),
    dk: groupedKeyGrad(s, dscores, q, scale),
    dv: groupedKeyGrad(s, probs, dout, 1),
  };
}
