// How much GPU memory a run needs, counted from the buffers the decoder step allocates
// (decoder.ts): weights as the GPU holds them (bf16/f16 matrices packed two to a word: the caller's byte count) and the
// float32 RoPE tables, the activations the backward reads (every layer's, or with gradient checkpointing each layer's
// input and one layer's set), scratch, logits, the adapter with its gradient and two AdamW moments (float32), and the
// rest the runtime holds (memory-other.ts: read-back staging, split-K partials, uniforms). An estimate for the user
// ("will this fit?"), not an allocator.
import type { ModelConfig } from '../model/config.ts';
import { logitsChunkRows } from '../model/head.ts';
import { loraLayout } from '../model/lora.ts';
import { LORA_TARGETS, type LoraTarget, targetShape } from '../model/lora-config.ts';
import { formatBytes } from '../model/source.ts';
import { INITIAL_ROPE_POSITIONS } from '../model/weights.ts';
import { dataKindOf, type TrainMethod } from './config.ts';
import { otherBytes } from './memory-other.ts';

export interface MemoryEstimate {
  weights: number;
  activations: number;
  adapter: number;
  /** What the runtime holds besides (memory-other.ts): the adapter's state read back, split-K partials, uniforms. */
  other: number;
  total: number;
  /** Why the run would not fit (fitProblems): a buffer past the device's limits, the total past the user's budget. */
  problems: string[];
}

/** The run a memory estimate is for: TrainConfig's fields that size it (api.ts MemoryRequest adds the budget). */
export interface MemoryRun {
  method: TrainMethod;
  batchSize: number;
  maxLength: number;
  /** TrainConfig's lora; `dropout` absent: none. */
  lora: { r: number; targetModules: string[]; dropout?: number };
  /** TrainConfig's gradientCheckpointing: the backward recomputes each layer's activations from its input. */
  gradientCheckpointing: boolean;
  /** The run also evaluates a validation split (forward-only passes). */
  evaluates?: boolean;
  /** TrainConfig's lossType (KTO's apo_zero_unpaired has no KL rows). */
  lossType?: string;
  /**
   * TrainConfig's saveSteps, saveMinutes and maxSteps: whether the run checkpoints (a run of one step never does).
   * Absent: it does, as the defaults make it.
   */
  saveSteps?: number;
  saveMinutes?: number;
  maxSteps?: number;
}

/** What a run must fit in: the device's buffer limits, and the budget the user set (bytes; none when absent or 0). */
export interface MemoryFit {
  /** The checkpoint's largest tensor as the GPU holds it (a buffer of its own). */
  largestWeight: { name: string; bytes: number };
  limits: Pick<GPUSupportedLimits, 'maxBufferSize' | 'maxStorageBufferBindingSize'>;
  budgetBytes?: number;
}

/**
 * `weightBytes`: the checkpoint's tensors as held on the GPU (Model.weightBytes once loaded: bf16/f16 matrices at 2
 * bytes a value, the rest at 4), RoPE tables not included.
 */
export function estimateMemory(c: ModelConfig, weightBytes: number, r: MemoryRun, fit?: MemoryFit): MemoryEstimate {
  const f = 4;
  // Preference pairs run as 2 rows each; KTO's KL rows go through a forward of their own, not beside the others.
  const B = dataKindOf(r.method) === 'pairs' ? 2 * r.batchSize : r.batchSize;
  const N = B * r.maxLength;
  const C = c.hiddenSize;
  const I = c.intermediateSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const scores = B * c.numHeads * r.maxLength * r.maxLength;
  const targets = LORA_TARGETS.filter((t) => r.lora.targetModules.includes(t)) as LoraTarget[];
  const loraZ = targets.length * N * r.lora.r;
  // LoRA dropout (the trainable adapter's, in the training step and KTO's KL rows' forward: layer-context.ts loraUses)
  // keeps each projection's dropped input [N, in] with the layer's set, and shares the gradient through it and its
  // dropped copy by width.
  const dropout = (r.lora.dropout ?? 0) > 0;
  const inWidths = targets.map((t) => targetShape(c, t).inF);
  const loraXd = dropout ? N * inWidths.reduce((s, w) => s + w, 0) : 0;
  const loraDxd = dropout ? 2 * N * [...new Set(inWidths)].reduce((s, w) => s + w, 0) : 0;
  // Qwen3's q/k norms keep the projections before the norm and a 1/rms per head (and need dq, dk scratch for them).
  const qkNorm = c.qkNorm ? N * (q + kv + c.numHeads + c.numKvHeads) : 0;
  // Gemma 3's sandwich norms keep the attention and MLP outputs before their norms and a 1/rms row for each.
  const sandwich = c.sandwichNorms ? N * (2 * C + 2) : 0;
  // Kept per layer: x, h, q, k, v, probs, att, xmid, h2, gate, up, act (+ two rstd rows), and LoRA z (and x_d).
  const layerKept = N * (4 * C + 2 * q + 2 * kv + 3 * I + 2) + scores + qkNorm + sandwich;
  const perLayer = layerKept + loraZ + loraXd;
  // DPO's and KTO's reference log-probs (and KTO's KL rows) and a validation split run forward-only steps of the same
  // shape: those use one layer's set of buffers for every layer, with the residual in two buffers taking turns
  // (layer-context.ts residual), kept by the pool for the whole run.
  const forwardOnlyPasses = r.method === 'dpo' || r.method === 'kto' || r.evaluates === true;
  // KTO's KL rows' forward (loss type kto; apo_zero_unpaired has no KL rows) draws LoRA dropout (kto.ts): each
  // projection's dropped input joins that set; with checkpointing, those are the recomputation's own (same names).
  const klRows = r.method === 'kto' && r.lossType !== 'apo_zero_unpaired';
  const klXd = klRows && !r.gradientCheckpointing ? loraXd : 0;
  // Kept for the backward. Without checkpointing: every layer's set, and the forward-only set apart from them. With it:
  // each layer's input x and the last layer's output, and one set that each layer's recomputation fills in turn (its
  // buffers are the forward-only steps' own: same names in the pool).
  const kept = r.gradientCheckpointing
    ? c.numLayers * N * C + perLayer + N * C + (forwardOnlyPasses ? 2 * N * C : 0)
    : c.numLayers * perLayer + (forwardOnlyPasses ? layerKept + N * C : 0) + klXd;
  // Shared scratch: scores, dprobs, dscores, backward temporaries, one chunk of logits (head.ts) and the final norm.
  const logits = Math.min(N, logitsChunkRows(c.vocabSize)) * c.vocabSize;
  const qkScratch = c.qkNorm ? N * (q + kv) : 0;
  const sandwichScratch = c.sandwichNorms ? N * C : 0; // the gradient through an output norm
  const scratch = 3 * scores + N * (3 * C + 3 * I + 2 * q + 2 * kv) + qkScratch + sandwichScratch + logits + N * (C + 8) + loraDxd;
  // RoPE cos/sin tables [P, hd/2] (weights.ts), a second pair for Gemma 3's local layers; grown in steps of 1024.
  const ropePositions = Math.max(Math.min(c.maxPositionEmbeddings, INITIAL_ROPE_POSITIONS), Math.ceil(r.maxLength / 1024) * 1024);
  const ropeTables = (c.layers.some((l) => l.localRope) ? 2 : 1) * 2 * ropePositions * (c.headDim / 2);
  const adapterParams = loraLayout(c, r.lora).size; // every A and B, each 256-byte aligned, in one buffer
  const weights = weightBytes + ropeTables * f;
  const activations = (kept + scratch) * f;
  const adapter = adapterParams * 4 * f; // parameters, gradient, AdamW m and v
  // A run checkpoints every saveSteps or saveMinutes (either 0 turns that off), never after its last step.
  const checkpoints = r.maxSteps !== 1 && ((r.saveSteps ?? 1) > 0 || (r.saveMinutes ?? 1) > 0);
  const parts = otherBytes(c, {
    rows: B,
    length: r.maxLength,
    lora: r.lora,
    recompute: r.gradientCheckpointing,
    forwardOnly: forwardOnlyPasses,
    klRows,
    adapterParams,
    checkpoints,
  });
  const other = parts.readback + parts.partials + parts.uniforms;
  const total = weights + activations + adapter + other;
  const buffers: RunBuffer[] = [
    {
      what: `one layer's attention scores [${B} sequences, ${c.numHeads} heads, ${r.maxLength}, ${r.maxLength}]`,
      bytes: scores * f,
      lower: 'lower the batch size or max length (they grow with its square)',
    },
    { what: `one layer's MLP activations [${N} tokens, ${I}]`, bytes: N * I * f, lower: 'lower the batch size or max length' },
    {
      what: `a chunk of logits [${logits / c.vocabSize} tokens, ${c.vocabSize}]`,
      bytes: logits * f,
      lower: 'lower the batch size or max length',
    },
    {
      what: `the adapter's parameters (${adapterParams} in one buffer, and as many for its gradient and each AdamW moment)`,
      bytes: adapterParams * f,
      lower: 'lower LoRA r or target fewer modules',
    },
  ];
  return { weights, activations, adapter, other, total, problems: fit ? fitProblems(total, buffers, fit) : [] };
}

/** One buffer a run allocates whole, and what the user can lower to shrink it. */
export interface RunBuffer {
  what: string;
  bytes: number;
  lower: string;
}

/**
 * Why a run of `total` bytes with these largest buffers would not fit: each buffer past maxBufferSize or
 * maxStorageBufferBindingSize (every buffer is bound as storage), named with its size and what to lower; the total
 * past the user's budget. Empty when it fits.
 */
export function fitProblems(total: number, buffers: RunBuffer[], fit: MemoryFit): string[] {
  const weight: RunBuffer = {
    what: `the checkpoint's tensor ${fit.largestWeight.name}`,
    bytes: fit.largestWeight.bytes,
    lower: 'no run setting shrinks it: use a smaller model, or a browser and GPU with larger limits',
  };
  const out: string[] = [];
  for (const b of [weight, ...buffers]) {
    const over = (['maxStorageBufferBindingSize', 'maxBufferSize'] as const).filter((k) => b.bytes > fit.limits[k]);
    if (over.length === 0) continue;
    const limit = Math.min(...over.map((k) => fit.limits[k]));
    out.push(`${b.what} takes ${formatBytes(b.bytes)}, more than this GPU's ${over.join(' and ')} (${formatBytes(limit)}): ${b.lower}.`);
  }
  if (fit.budgetBytes && total > fit.budgetBytes)
    out.push(
      `The run needs about ${formatBytes(total)} of GPU memory, more than the budget of ${formatBytes(fit.budgetBytes)}: lower the batch size, ` +
        'max length or LoRA r (the weights alone are fixed by the model), or raise the budget.',
    );
  return out;
}
