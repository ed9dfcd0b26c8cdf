// attention: causal self-attention with grouped-query heads, composed from strided batched
// matmuls (one per product, heads walked through strides) and the row softmax.
import { requireDisjoint, requireShapes } from '../../runtime/checks.ts';
import { ShapeError } from '../../runtime/errors.ts';
import type { Dispatch, Gpu } from '../../runtime/gpu.ts';
import { shapeStr, type Tensor } from '../../runtime/tensor.ts';
import { type MatmulGeometry, matmul, type OperandLayout } from '../matmul/matmul.ts';
import { softmaxBackward, softmaxForward } from '../softmax/softmax.ts';

/** q, out: [B, Tq, nh, hd]; k, v: [B, Tk, nkv, hd]; scores, probs: [B, nh, Tq, Tk]. */
export interface AttentionShape {
  B: number;
  Tq: number;
  Tk: number;
  nh: number;
  nkv: number;
  hd: number;
}

export interface AttentionGeometry {
  /** [B, nh, Tq, Tk] = [B, Tq, nh, hd] x [B, Tk, nkv, hd]ᵀ per head: S = Q Kᵀ, dP = dO Vᵀ. */
  scores: MatmulGeometry;
  /** [B, Tq, nh, hd] = [B, nh, Tq, Tk] x [B, Tk, nkv, hd] per head: O = P V, dQ = dS K. */
  output: MatmulGeometry;
  /**
   * [B, Tk, nkv, hd] = [B, nh, Tq, Tk]ᵀ x [B, Tq, nh, hd] for query head kvh * group + j of
   * each kv head kvh: dK = dSᵀ Q, dV = Pᵀ dO, one member j of every group at a time.
   */
  kvGrad(j: number): MatmulGeometry;
}

/** The matmul walks of attention: heads are strided views, nothing is transposed or copied. */
export function attentionGeometry({ B, Tq, Tk, nh, nkv, hd }: AttentionShape): AttentionGeometry {
  const group = nh / nkv;
  // Where head h of batch b starts (batch index b * heads + h); rows of q and out are nh*hd
  // apart, rows of k and v nkv*hd.
  const qHeads: OperandLayout = { offset: 0, stride0: Tq * nh * hd, stride1: hd, div1: 1 };
  const kvHeads: OperandLayout = { offset: 0, stride0: Tk * nkv * hd, stride1: hd, div1: 1 };
  const sharedKv: OperandLayout = { ...kvHeads, div1: group }; // query head h reads kv head floor(h / group)
  const scoreHeads: OperandLayout = { offset: 0, stride0: nh * Tq * Tk, stride1: Tq * Tk, div1: 1 };
  return {
    scores: {
      M: Tq,
      N: Tk,
      K: hd,
      batch: B * nh,
      batch1: nh,
      transA: false,
      transB: true,
      lda: nh * hd,
      ldb: nkv * hd,
      ldc: Tk,
      a: qHeads,
      b: sharedKv,
      c: scoreHeads,
    },
    output: {
      M: Tq,
      N: hd,
      K: Tk,
      batch: B * nh,
      batch1: nh,
      transA: false,
      transB: false,
      lda: Tk,
      ldb: nkv * hd,
      ldc: nh * hd,
      a: scoreHeads,
      b: sharedKv,
      c: qHeads,
    },
    // Batch index b * nkv + kvh reads query head kvh * group + j.
    kvGrad: (j) => ({
      M: Tk,
      N: hd,
      K: Tq,
      batch: B * nkv,
      batch1: nkv,
      transA: true,
      transB: false,
      lda: Tk,
      ldb: nh * hd,
      ldc: nkv * hd,
      a: { offset: j * Tq * Tk, stride0: nh * Tq * Tk, stride1: group * Tq * Tk, div1: 1 },
      b: { offset: j * hd, stride0: Tq * nh * hd, stride1: group * hd, div1: 1 },
      c: kvHeads,
    }),
  };
}

/** The shape of an attention call from q and k. */
function attentionShape(op: string, q: Tensor, k: Tensor): AttentionShape {
  const got = `got q ${shapeStr(q)}, k ${shapeStr(k)}`;
  if (q.shape.length !== 4 || k.shape.length !== 4) throw new ShapeError(op, `q must be [B, Tq, nh, hd] and k [B, Tk, nkv, hd]; ${got}`);
  if ([...q.shape, ...k.shape].some((d) => d < 1)) throw new ShapeError(op, `sizes must be positive; ${got}`);
  const [B, Tq, nh, hd] = q.shape;
  const [Bk, Tk, nkv, hdk] = k.shape;
  if (Bk !== B || hdk !== hd) throw new ShapeError(op, `q and k must agree in batch and head size; ${got}`);
  if (nh % nkv !== 0) throw new ShapeError(op, `q's ${nh} heads must be a multiple of k's ${nkv}; ${got}`);
  if (Tk < Tq) throw new ShapeError(op, `k must have at least the ${Tq} positions of q; ${got}`);
  return { B, Tq, Tk, nh, nkv, hd };
}

/** WebGPU's aliasing rule per dispatch: `writes` maps each output to what its dispatch reads. */
function requireSeparate<T extends { [K in keyof T]: Tensor }>(op: string, t: T, writes: { [K in keyof T]?: (keyof T & string)[] }): void {
  for (const out of Object.keys(writes) as (keyof T & string)[]) {
    requireDisjoint(
      op,
      [[out, t[out]]],
      (writes[out] ?? []).map((read) => [read, t[read]]),
    );
  }
}

export interface AttentionForwardTensors {
  /** [B, Tq, nh, hd] */
  q: Tensor;
  /** [B, Tk, nkv, hd] */
  k: Tensor;
  /** [B, Tk, nkv, hd] */
  v: Tensor;
  /** [B, Tq, nh, hd] */
  out: Tensor;
  /** [B, nh, Tq, Tk] scratch: the scaled scores before the softmax. */
  scores: Tensor;
  /** [B, nh, Tq, Tk] the attention probabilities, kept for the backward. */
  probs: Tensor;
}

/**
 * What the forward and the backward must agree on. No default scale: a backward that fell back
 * to 1/sqrt(hd) after a forward with another scale would give wrong gradients silently, so the
 * caller passes one object to both (the backward ignores `offset`).
 */
export interface AttentionOptions {
  /** Multiplies the scores: `attentionScale(hd)` = 1/sqrt(hd) for Llama and Qwen2. */
  scale: number;
  /** Query i sees keys j <= i + offset; Tk - Tq by default (the queries are the last Tq keys). */
  offset?: number;
  /**
   * Sliding-window attention (Mistral, Gemma 3's local layers): query i sees only keys i + offset - window < j, the
   * last `window` positions itself included. Absent or 0: full causal attention. The backward needs no mask of its
   * own (masked probabilities are exactly 0), so it ignores this as it ignores `offset`.
   */
  window?: number;
}

/** The usual score scale, 1/sqrt(hd). */
export function attentionScale(hd: number): number {
  return 1 / Math.sqrt(hd);
}

function requireScale(op: string, scale: unknown): number {
  if (typeof scale !== 'number' || !Number.isFinite(scale)) {
    throw new ShapeError(op, `scale must be the forward's finite score scale (attentionScale(hd) = 1/sqrt(hd) usually), got ${scale}`);
  }
  return scale;
}

/**
 * Causal attention with grouped-query heads: query head h uses kv head floor(h / (nh / nkv)).
 * S = scale * Q Kᵀ, P = softmax(S) under the causal mask (and sliding window), out = P V, per (batch, head).
 */
export async function attentionForward(gpu: Gpu, t: AttentionForwardTensors, options: AttentionOptions): Promise<Dispatch[]> {
  const op = 'attention';
  const s = attentionShape(op, t.q, t.k);
  const { B, Tq, Tk, nh } = s;
  const scale = requireScale(op, options?.scale);
  const offset = options.offset ?? Tk - Tq;
  if (!Number.isInteger(offset) || offset < 0 || offset > Tk - Tq) {
    throw new ShapeError(op, `offset must be an integer in [0, Tk - Tq = ${Tk - Tq}], got ${offset}`);
  }
  requireShapes(op, [
    ['q', t.q, t.q.shape],
    ['k', t.k, t.k.shape],
    ['v', t.v, t.k.shape],
    ['out', t.out, t.q.shape],
    ['scores', t.scores, [B, nh, Tq, Tk]],
    ['probs', t.probs, [B, nh, Tq, Tk]],
  ]);
  requireSeparate(op, t, { scores: ['q', 'k'], probs: ['scores'], out: ['probs', 'v'] });
  const g = attentionGeometry(s);
  const parts = await Promise.all([
    matmul(gpu, t.scores, t.q, t.k, { geometry: g.scores, alpha: scale, label: `${op} scores` }),
    softmaxForward(gpu, t.probs, t.scores, { causal: { queries: Tq, offset, window: options.window }, label: `${op} softmax` }),
    matmul(gpu, t.out, t.probs, t.v, { geometry: g.output, label: `${op} output` }),
  ]);
  return parts.flat();
}

export interface AttentionBackwardTensors {
  /** [B, Tq, nh, hd] the gradient of the output. */
  dout: Tensor;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  /** [B, nh, Tq, Tk] from the forward. */
  probs: Tensor;
  /** [B, nh, Tq, Tk] scratch. */
  dprobs: Tensor;
  /** [B, nh, Tq, Tk] scratch. */
  dscores: Tensor;
  /** [B, Tq, nh, hd], overwritten. */
  dq: Tensor;
  /** [B, Tk, nkv, hd], overwritten. */
  dk: Tensor;
  /** [B, Tk, nkv, hd], overwritten. */
  dv: Tensor;
}

/**
 * Gradients of attentionForward, given the forward's options (their scale): dP = dO Vᵀ,
 * dS = softmax backward (masked entries have P = 0, so the mask needs no offset here),
 * dQ = scale dS K, dK = scale dSᵀ Q, dV = Pᵀ dO.
 */
export async function attentionBackward(gpu: Gpu, t: AttentionBackwardTensors, options: AttentionOptions): Promise<Dispatch[]> {
  const op = 'attention backward';
  const s = attentionShape(op, t.q, t.k);
  const { B, Tq, Tk, nh, nkv } = s;
  const scale = requireScale(op, options?.scale);
  requireShapes(op, [
    ['q', t.q, t.q.shape],
    ['k', t.k, t.k.shape],
    ['v', t.v, t.k.shape],
    ['dout', t.dout, t.q.shape],
    ['probs', t.probs, [B, nh, Tq, Tk]],
    ['dprobs', t.dprobs, [B, nh, Tq, Tk]],
    ['dscores', t.dscores, [B, nh, Tq, Tk]],
    ['dq', t.dq, t.q.shape],
    ['dk', t.dk, t.k.shape],
    ['dv', t.dv, t.k.shape],
  ]);
  requireSeparate(op, t, {
    dprobs: ['dout', 'v'],
    dscores: ['probs', 'dprobs'],
    dq: ['dscores', 'k'],
    dk: ['dscores', 'q'],
    dv: ['probs', 'dout'],
  });
  const g = attentionGeometry(s);
  // dK and dV sum over the nh / nkv query heads that share a kv head. One matmul per group member
  // j writes every (batch, kv head) exactly once, so the members accumulate in order without races
  // or scratch: the first overwrites (beta = 0 never reads the old gradient), the rest add.
  const members = Array.from({ length: nh / nkv }, (_, j) => j);
  const parts = await Promise.all([
    matmul(gpu, t.dprobs, t.dout, t.v, { geometry: g.scores, label: `${op} dprobs` }),
    softmaxBackward(gpu, t.dscores, t.probs, t.dprobs, { label: `${op} softmax` }),
    matmul(gpu, t.dq, t.dscores, t.k, { geometry: g.output, alpha: scale, label: `${op} dq` }),
    ...members.map((j) =>
      matmul(gpu, t.dk, t.dscores, t.q, {
        geometry: g.kvGrad(j),
        alpha: scale,
        beta: j === 0 ? 0 : 1,
        label: `${op} dk (head ${j} of each group)`,
      }),
    ),
    ...members.map((j) =>
      matmul(gpu, t.dv, t.probs, t.dout, { geometry: g.kvGrad(j), beta: j === 0 ? 0 : 1, label: `${op} dv (head ${j} of each group)` }),
    ),
  ]);
  return parts.flat();
}
