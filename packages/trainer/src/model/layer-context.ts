// What the blocks of one recorded step share (decoder.ts builds it; attention-block.ts and mlp-block.ts use it): the
// step's options and shapes, the LoRA uses of each projection, the residual buffers, each layer's saved activations,
// and the LoRA-adapted projections forward and backward.
//
// Shapes: B sequences of T tokens, N = B*T rows; C hidden, I intermediate, nh/nkv heads of hd dims, r LoRA rank.
import { type Command, type Gpu, mixSeed, rmsnormBackward, type Tensor } from '@webtune/kernels';
import type { ModelConfig } from './config.ts';
import { type LoraUse, linearBackward, linearForward, loraDropout, loraInputs } from './linear.ts';
import type { LoraAdapter, LoraTarget } from './lora.ts';
import type { ActivationPool } from './pool.ts';
import type { ModelWeights } from './weights.ts';

export interface StepOptions {
  /** Adapters applied in order, all frozen (e.g. the SFT adapter under DPO). */
  frozen: LoraAdapter[];
  /** The adapter being trained, with its gradient buffer; absent for inference. */
  trainable?: { adapter: LoraAdapter; grads: Tensor };
  /** Keep activations and build the backward. */
  train: boolean;
  /**
   * Without train: draw the trainable adapter's LoRA dropout all the same (seeded by Step.reseed). A forward under
   * no_grad in train mode, as TRL runs KTO's KL rows; with train, dropout is drawn anyway.
   */
  drawDropout?: boolean;
  /**
   * With train: keep only each layer's input (the residual stream) and run the layer's forward again just before its
   * backward (TRL's gradient_checkpointing), so one layer's activations are alive at a time instead of every layer's.
   */
  recompute?: boolean;
  /**
   * Generation: append this step's keys and values to per-layer caches [1, capacity, nkv, hd] at
   * row `pos`, and attend over the cache (queries at positions pos..pos+T-1). B must be 1.
   */
  kv?: { k: Tensor[]; v: Tensor[]; pos: number; capacity: number };
  /** Rows of logits computed at once (head.ts); logitsChunkRows(V) by default. Tests set it to force chunking. */
  logitsChunkRows?: number;
}

export interface Ctx {
  gpu: Gpu;
  config: ModelConfig;
  weights: ModelWeights;
  pool: ActivationPool;
  opts: StepOptions;
  B: number;
  T: number;
  N: number;
  /** Per-layer name when every layer's activations are kept for the backward, one shared name otherwise. */
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
    if (grads && (ctx.opts.train || ctx.opts.drawDropout) && p > 0) {
      const shape = [ctx.N, slot.inF];
      const xd = ctx.pool.get(ctx.name(layer, `${target}.lora${i}.xd`), shape);
      // The gradient through the mask, and its dropped copy: only a step with a backward needs them.
      const back = ctx.opts.train
        ? { dxd: ctx.pool.get(`lora.dxd.${slot.inF}`, shape), dxdDropped: ctx.pool.get(`lora.dxd_dropped.${slot.inF}`, shape) }
        : undefined;
      use.dropout = await loraDropout(ctx.gpu, p, x, xd, back);
      const site = ctx.seeds.length;
      const d = use.dropout;
      ctx.seeds.push((seed) => {
        const s = mixSeed(seed, site);
        d.forward.setSeed(s);
        d.backward?.dispatch.setSeed(s);
      });
    }
    uses.push(use);
  }
  return uses;
}

/** out = x W^T (+ bias) + every adapter's LoRA term, for projection `target` of layer l. */
export async function projectForward(
  ctx: Ctx,
  l: number,
  target: LoraTarget,
  out: Tensor,
  x: Tensor,
  W: Tensor,
  bias?: Tensor,
): Promise<Command[]> {
  return linearForward(ctx.gpu, `L${l}.${target}`, out, x, W, bias, await loraUses(ctx, l, target, x));
}

/** Only the LoRA inputs of projection `target` (linear.ts loraInputs): a recomputed forward whose output nothing reads. */
export async function projectLoraInputs(ctx: Ctx, l: number, target: LoraTarget, x: Tensor): Promise<Command[]> {
  return loraInputs(ctx.gpu, `L${l}.${target}`, x, await loraUses(ctx, l, target, x));
}

/** dIn (+)= dOut W, and the trainable adapter's gradients, for projection `target` of layer l. */
export async function projectBackward(
  ctx: Ctx,
  l: number,
  target: LoraTarget,
  dIn: Tensor,
  dOut: Tensor,
  x: Tensor,
  W: Tensor,
  accumulate: boolean,
): Promise<Command[]> {
  const uses = await loraUses(ctx, l, target, x);
  // Scratch per rank: a frozen SFT adapter and the trainable one on top may have different ranks.
  const u = (r: number) => ctx.pool.get(`lora.u.${r}`, [ctx.N, r]);
  return linearBackward(ctx.gpu, `L${l}.${target}`, dIn, dOut, x, W, uses, u, accumulate);
}

/**
 * The residual stream entering layer l (l = numLayers: the final norm's input): kept per layer for the backward when
 * training, as slots of one buffer (ActivationPool.slots says why); otherwise two buffers used alternately (layer l reads
 * one and writes the other).
 */
export function residual(pool: ActivationPool, train: boolean, l: number, N: number, config: ModelConfig): Tensor {
  const C = config.hiddenSize;
  if (!train) return pool.get(l % 2 === 0 ? 'x_even' : 'x_odd', [N, C]);
  const labels = Array.from({ length: config.numLayers + 1 }, (_, i) => `L${i}.x`);
  return pool.slots('residual stream', [N, C], labels)[l];
}

/** Saved activations of one layer (views from the pool). */
export function layerTensors(ctx: Ctx, l: number) {
  const { N, B, T, config: c } = ctx;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const g = (what: string, shape: number[]) => ctx.pool.get(ctx.name(l, what), shape);
  return {
    x: residual(ctx.pool, ctx.opts.train, l, N, c),
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

export type LayerTensors = ReturnType<typeof layerTensors>;

/** The output norm of a sandwich block (post_attention / post_feedforward layernorm), present with sandwichNorms. */
export function outputNorm(w: Tensor | undefined, name: string): Tensor {
  if (!w) throw new Error(`internal: sandwichNorms without ${name} weights`);
  return w;
}

/**
 * With sandwichNorms an output norm sits between a block and the residual: dLoss/d(block output) from dx, the
 * gradient of the residual after it, through that norm. Writes a shared [N, C] buffer and returns it.
 */
export async function throughOutputNorm(ctx: Ctx, cmds: Command[], dx: Tensor, x: Tensor, w: Tensor, rstd: Tensor): Promise<Tensor> {
  const dout = ctx.pool.get('dblock', [ctx.N, ctx.config.hiddenSize]);
  cmds.push(...(await rmsnormBackward(ctx.gpu, { dx: dout, dy: dx, x, w, rstd })));
  return dout;
}
