// The decoder of every architecture in arch/ on the kernels, written out per layer (llm.c style): each block has an
// explicit forward and backward (attention-block.ts, mlp-block.ts, sharing layer-context.ts; the LM head and loss in
// head.ts), and a Step is the recorded list of dispatches for one (batch, length) shape, built once and replayed
// every micro-batch of that shape.
//
// Training keeps what the backward reads either for every layer at once, or, with `recompute` (gradient checkpointing),
// only each layer's input x_l: the backward runs layer l's forward again from x_l into one shared set of buffers (all of
// it but what makes x_{l+1}, which is kept), then its backward. The same kernels on the same inputs (and the same dropout
// seeds) give the same values, so the gradients do not change; the step costs one more forward of the layers, less
// their down projections.
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
import { type Command, embeddingForward, type Gpu, rmsnormBackward, rmsnormForward, scale, softcap, type Tensor } from '@webtune/kernels';
import { attentionBlockBackward, attentionBlockForward } from './attention-block.ts';
import type { ModelConfig } from './config.ts';
import { buildHead, logitsChunkRows } from './head.ts';
import { type Ctx, layerTensors, residual, type StepOptions } from './layer-context.ts';
import { linearForward } from './linear.ts';
import { mlpBlockBackward, mlpBlockForward } from './mlp-block.ts';
import { ActivationPool, type PoolRequest } from './pool.ts';
import type { ModelWeights } from './weights.ts';

export type { StepOptions } from './layer-context.ts';

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

/**
 * x_{l+1} = x_l + attention block, then + MLP block (attention-block.ts, mlp-block.ts). Writes `next`: [N, C]; without
 * it, gradient checkpointing's recomputation: only what the backward reads (mlp-block.ts).
 */
async function layerForward(ctx: Ctx, l: number, next: Tensor | undefined): Promise<Command[]> {
  const a = layerTensors(ctx, l);
  const cmds: Command[] = [];
  await attentionBlockForward(ctx, l, a, cmds);
  await mlpBlockForward(ctx, l, a, next, cmds);
  return cmds;
}

/** Given dx = dLoss/dx_{l+1} (in place), leave dx = dLoss/dx_l. */
async function layerBackward(ctx: Ctx, l: number, dx: Tensor): Promise<Command[]> {
  const a = layerTensors(ctx, l);
  const dh = ctx.pool.get('dh', [ctx.N, ctx.config.hiddenSize]);
  const cmds: Command[] = [];
  await mlpBlockBackward(ctx, l, a, dx, dh, cmds);
  await attentionBlockBackward(ctx, l, a, dx, dh, cmds);
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

/**
 * Compile every pipeline of the step buildStep(B, T, opts) would record, allocating nothing (Gpu.compileOnly): through
 * a pool of its own, whose buffers are stand-ins. Returns the pool buffers the step asks for, to reserve at once.
 */
export async function compileStep(
  gpu: Gpu,
  config: ModelConfig,
  weights: ModelWeights,
  B: number,
  T: number,
  opts: StepOptions,
): Promise<PoolRequest> {
  const compiling = gpu.compileOnly();
  const pool = new ActivationPool(compiling);
  await build(compiling, config, weights, pool, B, T, opts);
  return pool.wanted;
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
    name: (l, what) => (opts.train && !opts.recompute ? `L${l}.${what}` : what),
  };
  const ids = pool.get('ids', [N], 'u32');
  const positions = pool.get('positions', [N], 'u32');
  const targets = pool.get('targets', [N], 'u32');
  const lossWeights = pool.get('loss_weights', [N]);
  const logprobs = pool.get('logprobs', [N]);
  const lse = pool.get('lse', [N]);
  const L = config.numLayers;
  const x = (l: number) => residual(pool, opts.train, l, N, config);
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
    for (let l = L - 1; l >= 0; l--) {
      // Recomputed: what layer l's backward reads, not x_{l+1} (kept, and read by nothing any more).
      if (opts.recompute) backward.push(...(await layerForward(ctx, l, undefined)));
      backward.push(...(await layerBackward(ctx, l, dx)));
    }
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
