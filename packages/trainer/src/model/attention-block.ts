// The attention block of a decoder layer, forward and backward:
//   xmid = x + [post_attention_norm](o(attention(rope(qn(q(h))), rope(kn(k(h))), v(h)))),  h = input_norm(x),
// with the per-head norms qn / kn (qkNorm), RoPE (per layer: none, global or local tables), the sliding window, the
// KV cache when generating, and the output norm (sandwichNorms) only where the architecture has them.
import {
  add,
  attentionBackward,
  attentionForward,
  type Command,
  rmsnormBackward,
  rmsnormForward,
  rope,
  type Tensor,
} from '@webtune/kernels';
import { type Ctx, type LayerTensors, projectBackward, projectForward, throughOutputNorm } from './layer-context.ts';

/** The RoPE tables layer l rotates with: the local ones on Gemma 3's sliding layers, the global ones elsewhere. */
function ropeTable(ctx: Ctx, l: number) {
  const w = ctx.weights;
  const positions = ctx.pool.get('positions', [ctx.N], 'u32');
  if (!ctx.config.layers[l].localRope) return { positions, cos: w.ropeCos, sin: w.ropeSin };
  if (!w.ropeLocalCos || !w.ropeLocalSin)
    throw new Error(`internal: layer ${l} rotates with the local RoPE tables, which were not uploaded`);
  return { positions, cos: w.ropeLocalCos, sin: w.ropeLocalSin };
}

/** Appends the block's forward to `cmds`: writes a.xmid from a.x. */
export async function attentionBlockForward(ctx: Ctx, l: number, a: LayerTensors, cmds: Command[]): Promise<void> {
  const { gpu, config: c, N } = ctx;
  const w = ctx.weights.layers[l];
  const o = ctx.pool.get('o', [N, c.hiddenSize]);
  const kv = ctx.opts.kv;
  const keys = kv ? kv.capacity : ctx.T;
  const scores = ctx.pool.get('scores', [ctx.B, c.numHeads, ctx.T, keys]);
  const probs = kv ? ctx.pool.get('probs', [1, c.numHeads, ctx.T, keys]) : a.probs;
  const layer = c.layers[l];
  const attention = { scale: c.attentionScale, window: layer.window ?? undefined };
  const eps = { eps: c.rmsNormEps };
  const project = async (target: 'q_proj' | 'k_proj' | 'v_proj' | 'o_proj', out: Tensor, x: Tensor, W: Tensor, bias?: Tensor) =>
    cmds.push(...(await projectForward(ctx, l, target, out, x, W, bias)));

  cmds.push(...(await rmsnormForward(gpu, { y: a.h, rstd: a.rstd1, x: a.x, w: w.inputNorm }, eps)));
  if (a.qk && w.qNorm && w.kNorm) {
    // Qwen3, Gemma 3: project into q_raw / k_raw, then RMSNorm each head's hd values into q / k.
    const { qRaw, kRaw, rstdQ, rstdK } = a.qk;
    await project('q_proj', a.q2(qRaw), a.h, w.q, w.qBias);
    await project('k_proj', a.kv2(kRaw), a.h, w.k, w.kBias);
    const heads = (t: Tensor, n: number) => t.view([N * n, c.headDim]);
    cmds.push(...(await rmsnormForward(gpu, { y: heads(a.q, c.numHeads), rstd: rstdQ, x: heads(qRaw, c.numHeads), w: w.qNorm }, eps)));
    cmds.push(...(await rmsnormForward(gpu, { y: heads(a.k, c.numKvHeads), rstd: rstdK, x: heads(kRaw, c.numKvHeads), w: w.kNorm }, eps)));
  } else {
    await project('q_proj', a.q2(a.q), a.h, w.q, w.qBias);
    await project('k_proj', a.kv2(a.k), a.h, w.k, w.kBias);
  }
  await project('v_proj', a.kv2(a.v), a.h, w.v, w.vBias);
  if (layer.rope) {
    const table = ropeTable(ctx, l);
    cmds.push(...(await rope(gpu, { x: a.q.view([N, c.numHeads, c.headDim]), ...table })));
    cmds.push(...(await rope(gpu, { x: a.k.view([N, c.numKvHeads, c.headDim]), ...table })));
  }
  if (kv) {
    // New keys/values go to the cache rows [pos, pos + T); attention reads the whole cache, with
    // rows past pos + i masked by the causal offset (the cache is zeroed, so they are finite).
    const rows = ctx.T * c.numKvHeads * c.headDim;
    const at = kv.pos * c.numKvHeads * c.headDim;
    cmds.push({ label: `L${l} k cache`, copy: { src: a.k, dst: kv.k[l], elements: rows, srcOffset: 0, dstOffset: at } });
    cmds.push({ label: `L${l} v cache`, copy: { src: a.v, dst: kv.v[l], elements: rows, srcOffset: 0, dstOffset: at } });
    cmds.push(
      ...(await attentionForward(gpu, { q: a.q, k: kv.k[l], v: kv.v[l], out: a.att, scores, probs }, { ...attention, offset: kv.pos })),
    );
  } else {
    cmds.push(...(await attentionForward(gpu, { q: a.q, k: a.k, v: a.v, out: a.att, scores, probs }, attention)));
  }
  if (a.sw) {
    await project('o_proj', a.sw.o, a.q2(a.att), w.o, w.oBias);
    cmds.push(...(await rmsnormForward(gpu, { y: o, rstd: a.sw.rstdO, x: a.sw.o, w: w.postAttentionNorm }, eps)));
  } else {
    await project('o_proj', o, a.q2(a.att), w.o, w.oBias);
  }
  cmds.push(...(await add(gpu, a.xmid, a.x, o)));
}

/**
 * Given dx = dLoss/dxmid (in place), leave dx = dLoss/dx: the block's gradient is accumulated into it (the residual
 * path's share is already there). dh, dLoss/dh [N, C], is the caller's scratch.
 */
export async function attentionBlockBackward(ctx: Ctx, l: number, a: LayerTensors, dx: Tensor, dh: Tensor, cmds: Command[]): Promise<void> {
  const { gpu, config: c, N, B, T } = ctx;
  const w = ctx.weights.layers[l];
  const p = ctx.pool;
  const datt = p.get('datt', [B, T, c.numHeads, c.headDim]);
  const dq = p.get('dq', [B, T, c.numHeads, c.headDim]);
  const dk = p.get('dk', [B, T, c.numKvHeads, c.headDim]);
  const dv = p.get('dv', [B, T, c.numKvHeads, c.headDim]);
  const dprobs = p.get('dprobs', [B, c.numHeads, T, T]);
  const dscores = p.get('dscores', [B, c.numHeads, T, T]);
  const project = async (
    target: 'q_proj' | 'k_proj' | 'v_proj' | 'o_proj',
    dIn: Tensor,
    dOut: Tensor,
    x: Tensor,
    W: Tensor,
    accumulate: boolean,
  ) => cmds.push(...(await projectBackward(ctx, l, target, dIn, dOut, x, W, accumulate)));

  const layer = c.layers[l];
  const dattOut = a.sw ? await throughOutputNorm(ctx, cmds, dx, a.sw.o, w.postAttentionNorm, a.sw.rstdO) : dx;
  await project('o_proj', a.q2(datt), dattOut, a.q2(a.att), w.o, false);
  cmds.push(
    ...(await attentionBackward(
      gpu,
      { dout: datt, q: a.q, k: a.k, v: a.v, probs: a.probs, dprobs, dscores, dq, dk, dv },
      { scale: c.attentionScale, window: layer.window ?? undefined },
    )),
  );
  if (layer.rope) {
    const table = ropeTable(ctx, l);
    cmds.push(...(await rope(gpu, { x: dq.view([N, c.numHeads, c.headDim]), ...table }, { inverse: true })));
    cmds.push(...(await rope(gpu, { x: dk.view([N, c.numKvHeads, c.headDim]), ...table }, { inverse: true })));
  }
  let [dqIn, dkIn] = [dq, dk];
  if (a.qk && w.qNorm && w.kNorm) {
    // Through q_norm / k_norm per head: dq_raw, dk_raw from dq, dk.
    const { qRaw, kRaw, rstdQ, rstdK } = a.qk;
    dqIn = p.get('dq_raw', [B, T, c.numHeads, c.headDim]);
    dkIn = p.get('dk_raw', [B, T, c.numKvHeads, c.headDim]);
    const heads = (t: Tensor, n: number) => t.view([N * n, c.headDim]);
    const [nh, nkv] = [c.numHeads, c.numKvHeads];
    cmds.push(...(await rmsnormBackward(gpu, { dx: heads(dqIn, nh), dy: heads(dq, nh), x: heads(qRaw, nh), w: w.qNorm, rstd: rstdQ })));
    cmds.push(...(await rmsnormBackward(gpu, { dx: heads(dkIn, nkv), dy: heads(dk, nkv), x: heads(kRaw, nkv), w: w.kNorm, rstd: rstdK })));
  }
  await project('q_proj', dh, a.q2(dqIn), a.h, w.q, false);
  await project('k_proj', dh, a.kv2(dkIn), a.h, w.k, true);
  await project('v_proj', dh, a.kv2(dv), a.h, w.v, true);
  cmds.push(...(await rmsnormBackward(gpu, { dx, dy: dh, x: a.x, w: w.inputNorm, rstd: a.rstd1 }, { accumulate: true })));
}
