// The decoder of every architecture in arch/ on the kernels, written out per layer (llm.c style): each block has an
// explicit forward and backward, and a Step is the recorded list of dispatches for one
// (batch, length) shape, built once and replayed every micro-batch of that shape.
//
// Shapes: B sequences of T tokens, N = B*T rows; C hidden, I intermediate, V vocab,
// nh/nkv heads of hd dims, r LoRA rank.
//
// Llama is the base; the switches the other architectures set (ModelConfig, read by arch/*.ts) are:
// - qkNorm (Qwen3): q = q_norm(q_proj(h)), k = k_norm(k_proj(h)), RMSNorm over hd per head, before RoPE;
// - layers[l].rope false (SmolLM3's NoPE layers): q and k go to attention unrotated;
// - layers[l].window (Mistral, Qwen sliding layers): attention sees the last `window` keys only;
// - Gemma 3: embedScale, attentionScale, layers[l].localRope (the local RoPE tables), GeGLU (mlpActivation), and
//   sandwichNorms: the attention and MLP outputs go through their own RMSNorm before the residual add
//   (post_attention_layernorm, post_feedforward_layernorm) and the MLP's pre-norm is pre_feedforward_layernorm.
//   The (1 + w) of its norms is in the uploaded weights (weights.ts); finalLogitSoftcap caps the logits (head.ts).
import {
  add,
  attentionBackward,
  attentionForward,
  type Command,
  embeddingForward,
  type Gpu,
  gegluBackward,
  gegluForward,
  mixSeed,
  rmsnormBackward,
  rmsnormForward,
  rope,
  scale,
  softcap,
  swigluBackward,
  swigluForward,
  type Tensor,
} from '@webtune/kernels';
import type { ModelConfig } from './config.ts';
import { buildHead, logitsChunkRows } from './head.ts';
import { type LoraUse, linearBackward, linearForward, loraDropout } from './linear.ts';
import type { LoraAdapter, LoraTarget } from './lora.ts';
import type { ActivationPool } from './pool.ts';
import type { LayerWeights, ModelWeights } from './weights.ts';

export interface StepOptions {
  /** Adapters applied in order, all frozen (e.g. the SFT adapter under DPO). */
  frozen: LoraAdapter[];
  /** The adapter being trained, with its gradient buffer; absent for inference. */
  trainable?: { adapter: LoraAdapter; grads: Tensor };
  /** Keep activations and build the backward. */
  train: boolean;
  /**
   * Generation: append this step's keys and values to per-layer caches [1, capacity, nkv, hd] at
   * row `pos`, and attend over the cache (queries at positions pos..pos+T-1). B must be 1.
   */
  kv?: { k: Tensor[]; v: Tensor[]; pos: number; capacity: number };
  /** Rows of logits computed at once (head.ts); logitsChunkRows(V) by default. Tests set it to force chunking. */
  logitsChunkRows?: number;
}

/** One recorded step for a (B, T) shape. Fill the inputs, run `forward` (and `backward`). */
export interface Step {
  B: number;
  T: number;
  ids: Tensor; // [N] u32
  positions: Tensor; // [N] u32
  /** [N] u32: the token each row predicts (IGNORE_INDEX where nothing is learned). */
  targets: Tensor;
  /** [N] f32: dLoss/dNLL per row, read by the backward (written by the host or by DPO's kernel). */
  lossWeights: Tensor;
  /**
   * The logits of the last chunk of rows the forward computed (head.ts): [N, V] when N fits one chunk (always for
   * small vocabularies); [1, V] of the last position when generating (kv). Holds dlogits after the backward starts.
   */
  logits: Tensor;
  logprobs: Tensor; // [N]
  lse: Tensor; // [N]
  forward: Command[];
  backward: Command[];
  /** Set every dropout site's seed for the next replay (no-op without dropout). */
  reseed(seed: number): void;
  /** Pool version the step was built against: a different version means rebuild. */
  poolVersion: number;
}

interface Ctx {
  gpu: Gpu;
  config: ModelConfig;
  weights: ModelWeights;
  pool: ActivationPool;
  opts: StepOptions;
  B: number;
  T: number;
  N: number;
  /** Per-layer name when activations are kept for the backward, one shared name otherwise. */
  name(layer: number, what: string): string;
  seeds: ((seed: number) => void)[];
  /** LoRA uses by layer and target, shared by the forward and the backward (same dropout seeds). */
  uses: Map<string, LoraUse[]>;
}

/** LoRA uses of every adapter on a projection (frozen first, the trainable one last). */
async function loraUses(ctx: Ctx, layer: number, target: LoraTarget, x: Tensor): Promise<LoraUse[]> {
  const key = `${layer}.${target}`;
  const cached = ctx.uses.get(key);
  if (cached) return cached;
  const uses: LoraUse[] = [];
  ctx.uses.set(key, uses);
  const all = [...ctx.opts.frozen.map((adapter) => ({ adapter, grads: undefined })), ...(ctx.opts.trainable ? [ctx.opts.trainable] : [])];
  for (const [i, { adapter, grads }] of all.entries()) {
    const slot = adapter.slot(layer, target);
    if (!slot) continue;
    const z = ctx.pool.get(ctx.name(layer, `${target}.lora${i}.z`), [ctx.N, adapter.config.r]);
    const use: LoraUse = { adapter, slot, z, grads };
    const p = adapter.config.dropout;
    if (grads && ctx.opts.train && p > 0) {
      const shape = [ctx.N, slot.inF];
      const xd = ctx.pool.get(ctx.name(layer, `${target}.lora${i}.xd`), shape);
      const dxd = ctx.pool.get(`lora.dxd.${slot.inF}`, shape);
      const dxdDropped = ctx.pool.get(`lora.dxd_dropped.${slot.inF}`, shape);
      use.dropout = await loraDropout(ctx.gpu, p, x, xd, dxd, dxdDropped);
      const site = ctx.seeds.length;
      const d = use.dropout;
      ctx.seeds.push((seed) => {
        const s = mixSeed(seed, site);
        d.forward.setSeed(s);
        d.backward.setSeed(s);
      });
    }
    uses.push(use);
  }
  return uses;
}

/**
 * The residual stream entering layer l: kept per layer for the backward when training; otherwise
 * two buffers used alternately (layer l reads one and writes the other).
 */
function residual(pool: ActivationPool, train: boolean, l: number, N: number, C: number): Tensor {
  return pool.get(train ? `L${l}.x` : l % 2 === 0 ? 'x_even' : 'x_odd', [N, C]);
}

/** Saved activations of one layer (views from the pool). */
function layerTensors(ctx: Ctx, l: number) {
  const { N, B, T, config: c } = ctx;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const g = (what: string, shape: number[]) => ctx.pool.get(ctx.name(l, what), shape);
  return {
    x: residual(ctx.pool, ctx.opts.train, l, N, c.hiddenSize),
    h: g('h', [N, c.hiddenSize]),
    rstd1: g('rstd1', [N]),
    q: g('q', [B, T, c.numHeads, c.headDim]),
    k: g('k', [B, T, c.numKvHeads, c.headDim]),
    // qkNorm only: the projections before their per-head RMSNorm, and its 1/rms per (row, head).
    qk: c.qkNorm
      ? {
          qRaw: g('q_raw', [B, T, c.numHeads, c.headDim]),
          kRaw: g('k_raw', [B, T, c.numKvHeads, c.headDim]),
          rstdQ: g('rstd_q', [N * c.numHeads]),
          rstdK: g('rstd_k', [N * c.numKvHeads]),
        }
      : undefined,
    v: g('v', [B, T, c.numKvHeads, c.headDim]),
    probs: g('probs', [B, c.numHeads, T, T]),
    att: g('att', [B, T, c.numHeads, c.headDim]),
    xmid: g('xmid', [N, c.hiddenSize]),
    h2: g('h2', [N, c.hiddenSize]),
    rstd2: g('rstd2', [N]),
    gate: g('gate', [N, c.intermediateSize]),
    up: g('up', [N, c.intermediateSize]),
    act: g('act', [N, c.intermediateSize]),
    // sandwichNorms only: the attention and MLP outputs before their norms, and those norms' 1/rms per row.
    sw: c.sandwichNorms
      ? { o: g('o_raw', [N, c.hiddenSize]), rstdO: g('rstd_o', [N]), d: g('d_raw', [N, c.hiddenSize]), rstdD: g('rstd_d', [N]) }
      : undefined,
    // 2-D views of the head tensors for the projections.
    q2: (t: Tensor) => t.view([N, q]),
    kv2: (t: Tensor) => t.view([N, kv]),
  };
}

/** The RoPE tables layer l rotates with: the local ones on Gemma 3's sliding layers, the global ones elsewhere. */
function ropeTable(ctx: Ctx, l: number) {
  const w = ctx.weights;
  const positions = ctx.pool.get('positions', [ctx.N], 'u32');
  if (!ctx.config.layers[l].localRope) return { positions, cos: w.ropeCos, sin: w.ropeSin };
  if (!w.ropeLocalCos || !w.ropeLocalSin)
    throw new Error(`internal: layer ${l} rotates with the local RoPE tables, which were not uploaded`);
  return { positions, cos: w.ropeLocalCos, sin: w.ropeLocalSin };
}

/** The norm before the MLP: pre_feedforward_layernorm with sandwichNorms, post_attention_layernorm otherwise. */
function mlpNorm(c: ModelConfig, w: LayerWeights): Tensor {
  if (!c.sandwichNorms) return w.postAttentionNorm;
  if (!w.preFeedforwardNorm) throw new Error('internal: sandwichNorms without pre_feedforward_layernorm weights');
  return w.preFeedforwardNorm;
}

/** The output norm of a sandwich block (post_attention / post_feedforward layernorm), present with sandwichNorms. */
function outputNorm(w: Tensor | undefined, name: string): Tensor {
  if (!w) throw new Error(`internal: sandwichNorms without ${name} weights`);
  return w;
}

/** x_{l+1} = x_l + attention(rmsnorm(x_l)), then + mlp(rmsnorm(·)). Writes `next`: [N, C]. */
async function layerForward(ctx: Ctx, l: number, next: Tensor): Promise<Command[]> {
  const { gpu, config: c, weights, N } = ctx;
  const w = weights.layers[l];
  const a = layerTensors(ctx, l);
  const o = ctx.pool.get('o', [N, c.hiddenSize]);
  const d = ctx.pool.get('d', [N, c.hiddenSize]);
  const kv = ctx.opts.kv;
  const keys = kv ? kv.capacity : ctx.T;
  const scores = ctx.pool.get('scores', [ctx.B, c.numHeads, ctx.T, keys]);
  const probs = kv ? ctx.pool.get('probs', [1, c.numHeads, ctx.T, keys]) : a.probs;
  const layer = c.layers[l];
  const attention = { scale: c.attentionScale, window: layer.window ?? undefined };
  const cmds: Command[] = [];
  const lin = async (label: string, target: LoraTarget, out: Tensor, x: Tensor, W: Tensor, bias?: Tensor) =>
    cmds.push(...(await linearForward(gpu, `L${l}.${label}`, out, x, W, bias, await loraUses(ctx, l, target, x))));

  // attention block
  cmds.push(...(await rmsnormForward(gpu, { y: a.h, rstd: a.rstd1, x: a.x, w: w.inputNorm }, { eps: c.rmsNormEps })));
  if (a.qk && w.qNorm && w.kNorm) {
    // Qwen3: project into q_raw / k_raw, then RMSNorm each head's hd values into q / k.
    const { qRaw, kRaw, rstdQ, rstdK } = a.qk;
    await lin('q_proj', 'q_proj', a.q2(qRaw), a.h, w.q, w.qBias);
    await lin('k_proj', 'k_proj', a.kv2(kRaw), a.h, w.k, w.kBias);
    const heads = (t: Tensor, n: number) => t.view([N * n, c.headDim]);
    const eps = { eps: c.rmsNormEps };
    cmds.push(...(await rmsnormForward(gpu, { y: heads(a.q, c.numHeads), rstd: rstdQ, x: heads(qRaw, c.numHeads), w: w.qNorm }, eps)));
    cmds.push(...(await rmsnormForward(gpu, { y: heads(a.k, c.numKvHeads), rstd: rstdK, x: heads(kRaw, c.numKvHeads), w: w.kNorm }, eps)));
  } else {
    await lin('q_proj', 'q_proj', a.q2(a.q), a.h, w.q, w.qBias);
    await lin('k_proj', 'k_proj', a.kv2(a.k), a.h, w.k, w.kBias);
  }
  await lin('v_proj', 'v_proj', a.kv2(a.v), a.h, w.v, w.vBias);
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
  const eps = { eps: c.rmsNormEps };
  if (a.sw) {
    await lin('o_proj', 'o_proj', a.sw.o, a.q2(a.att), w.o, w.oBias);
    cmds.push(...(await rmsnormForward(gpu, { y: o, rstd: a.sw.rstdO, x: a.sw.o, w: w.postAttentionNorm }, eps)));
  } else {
    await lin('o_proj', 'o_proj', o, a.q2(a.att), w.o, w.oBias);
  }
  cmds.push(...(await add(gpu, a.xmid, a.x, o)));

  // MLP block
  cmds.push(...(await rmsnormForward(gpu, { y: a.h2, rstd: a.rstd2, x: a.xmid, w: mlpNorm(c, w) }, eps)));
  await lin('gate_proj', 'gate_proj', a.gate, a.h2, w.gate);
  await lin('up_proj', 'up_proj', a.up, a.h2, w.up);
  const gated = c.mlpActivation === 'gelu_tanh' ? gegluForward : swigluForward;
  cmds.push(...(await gated(gpu, { out: a.act, gate: a.gate, up: a.up })));
  if (a.sw) {
    await lin('down_proj', 'down_proj', a.sw.d, a.act, w.down);
    const norm = outputNorm(w.postFeedforwardNorm, 'post_feedforward_layernorm');
    cmds.push(...(await rmsnormForward(gpu, { y: d, rstd: a.sw.rstdD, x: a.sw.d, w: norm }, eps)));
  } else {
    await lin('down_proj', 'down_proj', d, a.act, w.down);
  }
  cmds.push(...(await add(gpu, next, a.xmid, d)));
  return cmds;
}

/** Given dx = dLoss/dx_{l+1} (in place), leave dx = dLoss/dx_l. */
async function layerBackward(ctx: Ctx, l: number, dx: Tensor): Promise<Command[]> {
  const { gpu, config: c, weights, N, B, T } = ctx;
  const w = weights.layers[l];
  const a = layerTensors(ctx, l);
  const p = ctx.pool;
  const dh = p.get('dh', [N, c.hiddenSize]);
  const dact = p.get('dact', [N, c.intermediateSize]);
  const dgate = p.get('dgate', [N, c.intermediateSize]);
  const dup = p.get('dup', [N, c.intermediateSize]);
  const datt = p.get('datt', [B, T, c.numHeads, c.headDim]);
  const dq = p.get('dq', [B, T, c.numHeads, c.headDim]);
  const dk = p.get('dk', [B, T, c.numKvHeads, c.headDim]);
  const dv = p.get('dv', [B, T, c.numKvHeads, c.headDim]);
  const dprobs = p.get('dprobs', [B, c.numHeads, T, T]);
  const dscores = p.get('dscores', [B, c.numHeads, T, T]);
  const cmds: Command[] = [];
  const lin = async (label: string, target: LoraTarget, dIn: Tensor, dOut: Tensor, x: Tensor, W: Tensor, accumulate: boolean) => {
    const uses = await loraUses(ctx, l, target, x);
    // Scratch per rank: a frozen SFT adapter and the trainable one on top may have different ranks.
    const u = (r: number) => p.get(`lora.u.${r}`, [N, r]);
    cmds.push(...(await linearBackward(gpu, `L${l}.${label}`, dIn, dOut, x, W, uses, u, accumulate)));
  };

  // With sandwichNorms an output norm sits between each block and the residual: dLoss/d(block output) goes through it.
  const throughOutputNorm = async (x: Tensor, w: Tensor, rstd: Tensor) => {
    const dout = p.get('dblock', [N, c.hiddenSize]);
    cmds.push(...(await rmsnormBackward(gpu, { dx: dout, dy: dx, x, w, rstd })));
    return dout;
  };

  // MLP block: x_{l+1} = xmid + [norm](down(act(gate(h2), up(h2)))), h2 = rmsnorm(xmid)
  const ddown = a.sw ? await throughOutputNorm(a.sw.d, outputNorm(w.postFeedforwardNorm, 'post_feedforward_layernorm'), a.sw.rstdD) : dx;
  await lin('down_proj', 'down_proj', dact, ddown, a.act, w.down, false);
  const gated = c.mlpActivation === 'gelu_tanh' ? gegluBackward : swigluBackward;
  cmds.push(...(await gated(gpu, { dgate, dup, dout: dact, gate: a.gate, up: a.up })));
  await lin('gate_proj', 'gate_proj', dh, dgate, a.h2, w.gate, false);
  await lin('up_proj', 'up_proj', dh, dup, a.h2, w.up, true);
  cmds.push(...(await rmsnormBackward(gpu, { dx, dy: dh, x: a.xmid, w: mlpNorm(c, w), rstd: a.rstd2 }, { accumulate: true })));

  // attention block: xmid = x_l + o(attention(rope(qn(q(h))), rope(kn(k(h))), v(h))), h = rmsnorm(x_l),
  // rope and the per-head norms qn / kn only where the layer and the architecture have them
  const layer = c.layers[l];
  const dattOut = a.sw ? await throughOutputNorm(a.sw.o, w.postAttentionNorm, a.sw.rstdO) : dx;
  await lin('o_proj', 'o_proj', a.q2(datt), dattOut, a.q2(a.att), w.o, false);
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
  await lin('q_proj', 'q_proj', dh, a.q2(dqIn), a.h, w.q, false);
  await lin('k_proj', 'k_proj', dh, a.kv2(dkIn), a.h, w.k, true);
  await lin('v_proj', 'v_proj', dh, a.kv2(dv), a.h, w.v, true);
  cmds.push(...(await rmsnormBackward(gpu, { dx, dy: dh, x: a.x, w: w.inputNorm, rstd: a.rstd1 }, { accumulate: true })));
  return cmds;
}

/**
 * Build the step for B sequences of T tokens. The pool may grow while building; if it did, the
 * first build bound replaced buffers, so build once more (now everything fits).
 */
export async function buildStep(
  gpu: Gpu,
  config: ModelConfig,
  weights: ModelWeights,
  pool: ActivationPool,
  B: number,
  T: number,
  opts: StepOptions,
): Promise<Step> {
  const first = await build(gpu, config, weights, pool, B, T, opts);
  if (first.poolVersion === pool.version) return first;
  return build(gpu, config, weights, pool, B, T, opts);
}

async function build(
  gpu: Gpu,
  config: ModelConfig,
  weights: ModelWeights,
  pool: ActivationPool,
  B: number,
  T: number,
  opts: StepOptions,
): Promise<Step> {
  // The rope kernel leaves a position past its tables unrotated, silently: refuse to build such a step.
  const reach = opts.kv ? opts.kv.capacity : T;
  if (reach > weights.ropePositions)
    throw new Error(
      `internal: a step over ${reach} positions, but the RoPE tables cover ${weights.ropePositions}; Model.coverPositions(${reach}) must come first`,
    );
  const startVersion = pool.version;
  const N = B * T;
  const C = config.hiddenSize;
  const V = config.vocabSize;
  const ctx: Ctx = {
    gpu,
    config,
    weights,
    pool,
    opts,
    B,
    T,
    N,
    seeds: [],
    uses: new Map(),
    name: (l, what) => (opts.train ? `L${l}.${what}` : what),
  };
  const ids = pool.get('ids', [N], 'u32');
  const positions = pool.get('positions', [N], 'u32');
  const targets = pool.get('targets', [N], 'u32');
  const lossWeights = pool.get('loss_weights', [N]);
  const logprobs = pool.get('logprobs', [N]);
  const lse = pool.get('lse', [N]);
  const L = config.numLayers;
  const x = (l: number) => residual(pool, opts.train, l, N, C);
  const hf = pool.get('hf', [N, C]);
  const rstdf = pool.get('rstdf', [N]);

  const forward: Command[] = [...(await embeddingForward(gpu, { out: x(0), table: weights.embed, ids }))];
  if (config.embedScale !== 1) forward.push(...(await scale(gpu, x(0), config.embedScale)));
  for (let l = 0; l < L; l++) forward.push(...(await layerForward(ctx, l, x(l + 1))));
  forward.push(...(await rmsnormForward(gpu, { y: hf, rstd: rstdf, x: x(L), w: weights.norm }, { eps: config.rmsNormEps })));
  let logits: Tensor;
  const backward: Command[] = [];
  const dhf = opts.train ? pool.get('dhf', [N, C]) : undefined;
  if (opts.kv) {
    // Generation needs the next token's logits only: lm_head on the last row, no cross-entropy.
    const last = pool.get('hf_last', [1, C]);
    logits = pool.get('logits', [1, V]);
    forward.push({ label: 'last row', copy: { src: hf, dst: last, elements: C, srcOffset: (N - 1) * C, dstOffset: 0 } });
    forward.push(...(await linearForward(gpu, 'lm_head', logits, last, weights.lmHead, undefined, [])));
    if (config.finalLogitSoftcap !== null) forward.push(...(await softcap(gpu, logits, config.finalLogitSoftcap)));
  } else {
    const rows = opts.logitsChunkRows ?? logitsChunkRows(V);
    const head = await buildHead(
      gpu,
      pool,
      { h: hf, W: weights.lmHead, targets, logprobs, lse, lossWeights, dh: dhf, softcap: config.finalLogitSoftcap },
      rows,
    );
    logits = head.logits;
    forward.push(...head.forward);
    backward.push(...head.backward);
  }
  if (dhf) {
    const dx = pool.get('dx', [N, C]);
    backward.push(...(await rmsnormBackward(gpu, { dx, dy: dhf, x: x(L), w: weights.norm, rstd: rstdf })));
    for (let l = L - 1; l >= 0; l--) backward.push(...(await layerBackward(ctx, l, dx)));
  }
  const seeds = ctx.seeds;
  return {
    B,
    T,
    ids,
    positions,
    targets,
    lossWeights,
    logits,
    logprobs,
    lse,
    forward,
    backward,
    reseed: (seed) => {
      for (const s of seeds) s(seed);
    },
    poolVersion: pool.version === startVersion ? startVersion : -1,
  };
}
