// Hugging Face `config.json` -> one typed ModelConfig for the decoder webtune implements. What each architecture
// does differently from Llama is read by its own module (arch/*.ts); the sizes, RoPE, token ids and dtype are read
// here, the same for all. Anything the forward pass would compute differently from transformers is refused, by
// field and value, rather than trained silently wrong.

import { ConfigError, ConfigFields, isObject, show } from './arch/fields.ts';
import { ARCHITECTURE_SPECS } from './arch/index.ts';
import type { ArchitectureSpec } from './arch/spec.ts';
import { refuseAbsurdSizes } from './config-size.ts';

export { ConfigError } from './arch/fields.ts';

export type Architecture =
  | 'LlamaForCausalLM'
  | 'Qwen2ForCausalLM'
  | 'Qwen3ForCausalLM'
  | 'MistralForCausalLM'
  | 'SmolLM3ForCausalLM'
  | 'Gemma3ForCausalLM';
export const SUPPORTED_ARCHITECTURES: readonly Architecture[] = ARCHITECTURE_SPECS.map((a) => a.architecture);
/** The same, by the names people know them by ("Llama", ..., "Gemma 3 (text)"), for the studio. */
export const SUPPORTED_FAMILIES: readonly string[] = ARCHITECTURE_SPECS.map((a) => a.family);

export type RopeScaling =
  | null
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number };

/** How one layer attends. */
export interface LayerAttention {
  /** RoPE on q and k (false on SmolLM3's NoPE layers). */
  rope: boolean;
  /** Sliding window: a query sees itself and the window - 1 keys before it; null for full causal attention. */
  window: number | null;
  /** Gemma 3's sliding layers rotate with their own base (ropeLocalTheta, plain RoPE); absent or false: rope_theta. */
  localRope?: boolean;
}

export interface ModelConfig {
  /** `architectures[0]`, or inferred from `model_type` when that list is absent. */
  architecture: Architecture;
  /** `hidden_size`: width of the residual stream. */
  hiddenSize: number;
  /** `intermediate_size`: width of the SwiGLU MLP. */
  intermediateSize: number;
  /** `num_hidden_layers`. */
  numLayers: number;
  /** `num_attention_heads`: query heads. */
  numHeads: number;
  /** `num_key_value_heads` (GQA); defaults to numHeads. */
  numKvHeads: number;
  /** `head_dim`; defaults to hiddenSize / numHeads (128 for Qwen3). Also the RoPE dimension. */
  headDim: number;
  /** `rms_norm_eps`. */
  rmsNormEps: number;
  /** `rope_theta`: the RoPE base. */
  ropeTheta: number;
  /** `rope_scaling`: null for plain RoPE. */
  ropeScaling: RopeScaling;
  /** `max_position_embeddings`. */
  maxPositionEmbeddings: number;
  /** `vocab_size`: rows of the embedding and of lm_head; may exceed the tokenizer's size. */
  vocabSize: number;
  /** `tie_word_embeddings`: lm_head reuses embed_tokens (no lm_head.weight needed). */
  tieWordEmbeddings: boolean;
  /** Which projections carry a bias: Qwen2 always q/k/v and never o; the others all four iff `attention_bias`. */
  attentionBias: { qkv: boolean; o: boolean };
  /** Qwen3: RMSNorm q_norm / k_norm over head_dim on each query and key head, before RoPE. */
  qkNorm: boolean;
  /** Per layer (numLayers entries): RoPE or NoPE, full or sliding-window attention. */
  layers: LayerAttention[];
  /** The MLP's gate activation: SwiGLU's "silu", or Gemma 3's GeGLU "gelu_tanh" (gelu_pytorch_tanh). */
  mlpActivation: 'silu' | 'gelu_tanh';
  /** Gemma 3: every RMSNorm (q/k norms and the final one included) multiplies by (1 + w), not w; folded in at upload. */
  normPlusOne: boolean;
  /**
   * Gemma 3's four norms per layer: x += post_attention_layernorm(attn(input_layernorm(x))), then
   * x += post_feedforward_layernorm(mlp(pre_feedforward_layernorm(x))). Otherwise post_attention_layernorm is the
   * MLP's pre-norm and the outputs are added unnormed.
   */
  sandwichNorms: boolean;
  /** Embeddings times this: 1, or Gemma 3's sqrt(hidden_size) rounded to the checkpoint's dtype (arch/gemma3.ts). */
  embedScale: number;
  /** Attention scores times this: 1/sqrt(head_dim), or Gemma 3's query_pre_attn_scalar ** -0.5. */
  attentionScale: number;
  /** RoPE base of the layers with `localRope` (Gemma 3's rope_local_base_freq), unscaled; null when none has it. */
  ropeLocalTheta: number | null;
  /** Gemma's `final_logit_softcapping`: logits = cap * tanh(logits / cap); null (every released Gemma 3) for none. */
  finalLogitSoftcap: number | null;
  /** `bos_token_id`, or null. */
  bosTokenId: number | null;
  /** `eos_token_id`, always as a list (HF allows a number or a list). */
  eosTokenIds: number[];
  /** `torch_dtype` (`dtype` in newer transformers): the dtype the weights were saved in, or null. */
  torchDtype: string | null;
}

/** Reads config.json, given as its text or as the parsed object. */
export function parseModelConfig(json: string | Record<string, unknown>, file = 'config.json'): ModelConfig {
  const fail = (problem: string) => new ConfigError(file, problem);
  let cfg: unknown = json;
  if (typeof json === 'string') {
    try {
      cfg = JSON.parse(json);
    } catch (e) {
      throw fail(`not valid JSON (${(e as Error).message})`);
    }
  }
  if (!isObject(cfg)) throw fail('not a JSON object');
  const c = cfg;
  const tokenId = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;

  const spec = readArchitecture(c, fail);
  const arch = spec.architecture;
  const f = new ConfigFields(c, file, `every ${arch} config.json`);
  const defaults = spec.defaults;
  const hiddenSize = f.int('hidden_size');
  const numHeads = f.int('num_attention_heads');
  const numKvHeads = f.int('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw fail(
      `"num_key_value_heads" is ${numKvHeads}, which does not divide "num_attention_heads" (${numHeads}); grouped-query attention needs it to`,
    );
  }
  if (!f.has('head_dim') && defaults.headDim === undefined && hiddenSize % numHeads !== 0) {
    throw fail(`"hidden_size" is ${hiddenSize}, not a multiple of "num_attention_heads" (${numHeads}), and there is no "head_dim"`);
  }
  const headDim = f.int('head_dim', defaults.headDim ?? hiddenSize / numHeads);
  if (headDim % 2 !== 0) throw f.bad('head_dim', 'an even number (RoPE rotates pairs of dimensions)');
  const numLayers = f.int('num_hidden_layers');
  const intermediateSize = f.int('intermediate_size');
  const vocabSize = f.int('vocab_size');
  refuseAbsurdSizes({ hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim, vocabSize }, f);

  const fields = spec.read(f, numLayers);
  const block = fields.block ?? {
    mlpActivation: 'silu',
    normPlusOne: false,
    sandwichNorms: false,
    embedScale: 1,
    attentionScale: 1 / Math.sqrt(headDim),
    ropeLocalTheta: null,
    finalLogitSoftcap: null,
  };
  if (!fields.block) {
    // Gemma 3 reads its own activation field (hidden_activation); the others have SwiGLU's.
    const act = c.hidden_act ?? 'silu';
    if (act !== 'silu') throw fail(`"hidden_act" is ${show(act)}; webtune implements the SwiGLU MLP of ${arch}, "silu" only`);
  }
  if (f.bool('mlp_bias', false))
    throw fail(`"mlp_bias" is true; webtune implements MLPs without biases (as ${arch} checkpoints ship them)`);
  if (f.has('attention_dropout') && c.attention_dropout !== 0) {
    throw f.bad('attention_dropout', `0 (webtune trains without attention dropout, as every released ${arch} does)`);
  }

  // transformers v5 moves rope_theta and the scaling into `rope_parameters`; read either layout.
  const ropeParams = isObject(c.rope_parameters) ? c.rope_parameters : null;
  const ropeTheta = f.has('rope_theta')
    ? f.positive('rope_theta', defaults.ropeTheta)
    : ropeParams
      ? positiveIn(ropeParams, 'rope_parameters', 'rope_theta', defaults.ropeTheta, fail)
      : defaults.ropeTheta;
  const maxPositionEmbeddings = f.int('max_position_embeddings', defaults.maxPositionEmbeddings);

  // The class default applies only to an absent key: an explicit null stays null, as in transformers.
  const bos = 'bos_token_id' in c ? c.bos_token_id : defaults.bosTokenId;
  if (bos !== null && !tokenId(bos)) throw f.bad('bos_token_id', 'a token id (a non-negative integer) or null');
  const eos = 'eos_token_id' in c ? c.eos_token_id : defaults.eosTokenId;
  const eosTokenIds = eos === null ? [] : Array.isArray(eos) ? eos : [eos];
  if (!eosTokenIds.every(tokenId)) throw f.bad('eos_token_id', 'a token id or a list of token ids');
  const dtype = c.torch_dtype ?? c.dtype ?? null;
  if (dtype !== null && typeof dtype !== 'string')
    throw f.bad(f.has('torch_dtype') ? 'torch_dtype' : 'dtype', 'a dtype name such as "bfloat16"');

  return {
    architecture: arch,
    hiddenSize,
    intermediateSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: f.positive('rms_norm_eps', 1e-6),
    ropeTheta,
    ropeScaling: readRopeScaling(
      f.has('rope_scaling') ? c.rope_scaling : ropeParams,
      f.has('rope_scaling') ? 'rope_scaling' : 'rope_parameters',
      fail,
    ),
    maxPositionEmbeddings,
    vocabSize,
    tieWordEmbeddings: f.bool('tie_word_embeddings', defaults.tieWordEmbeddings),
    attentionBias: fields.attentionBias,
    qkNorm: fields.qkNorm,
    layers: fields.layers,
    ...block,
    bosTokenId: bos as number | null,
    eosTokenIds: eosTokenIds as number[],
    torchDtype: dtype as string | null,
  };
}

/** Gemma 3 4B and up ship as image-text models; their text tower is a Gemma3ForCausalLM under other tensor names. */
const GEMMA3_MULTIMODAL =
  'this is a Gemma3ForConditionalGeneration (image + text) checkpoint; webtune trains the text-only Gemma3ForCausalLM. ' +
  'Load a text-only Gemma 3 (google/gemma-3-270m or google/gemma-3-1b-pt / -it), or a text-only export of this one: ' +
  'a config.json holding its "text_config" with "architectures": ["Gemma3ForCausalLM"], and the language model\'s ' +
  'tensors saved under "model.*" (transformers: Gemma3ForCausalLM.from_pretrained(...).save_pretrained(...))';

function readArchitecture(c: Record<string, unknown>, fail: (p: string) => ConfigError): ArchitectureSpec {
  const supported = `webtune trains ${SUPPORTED_ARCHITECTURES.join(', ')}`;
  const archs = c.architectures;
  if (Array.isArray(archs) && archs.length > 0) {
    const a = archs[0];
    const spec = ARCHITECTURE_SPECS.find((s) => s.architecture === a);
    if (spec) return spec;
    if (a === 'Gemma3ForConditionalGeneration') throw fail(GEMMA3_MULTIMODAL);
    throw fail(`architecture ${JSON.stringify(a)} (from "architectures") is not supported: ${supported}`);
  }
  if (archs !== undefined && archs !== null && !Array.isArray(archs)) throw fail(`"architectures" is ${JSON.stringify(archs)}, not a list`);
  const spec = ARCHITECTURE_SPECS.find((s) => s.modelType === c.model_type);
  if (spec) return spec;
  if (c.model_type === 'gemma3') throw fail(GEMMA3_MULTIMODAL);
  const types = ARCHITECTURE_SPECS.map((s) => JSON.stringify(s.modelType)).join(', ');
  throw fail(`no "architectures", and "model_type" is ${JSON.stringify(c.model_type)}: ${supported} (model_type ${types})`);
}

function readRopeScaling(raw: unknown, field: string, fail: (p: string) => ConfigError): RopeScaling {
  if (raw === null || raw === undefined) return null;
  if (!isObject(raw)) throw fail(`"${field}" is ${JSON.stringify(raw)}; expected an object or null`);
  // transformers reads `rope_type`, falling back to the older `type`, then to "default".
  const type = raw.rope_type ?? raw.type ?? 'default';
  if (type === 'default') return null;
  const factor = positiveIn(raw, field, 'factor', undefined, fail);
  if (type === 'linear') return { type, factor };
  if (type === 'llama3') {
    const lowFreqFactor = positiveIn(raw, field, 'low_freq_factor', undefined, fail);
    const highFreqFactor = positiveIn(raw, field, 'high_freq_factor', undefined, fail);
    const originalMaxPositionEmbeddings = positiveIn(raw, field, 'original_max_position_embeddings', undefined, fail);
    if (!Number.isInteger(originalMaxPositionEmbeddings)) {
      throw fail(`"${field}.original_max_position_embeddings" is ${originalMaxPositionEmbeddings}; expected a positive integer`);
    }
    // The smoothing divides by (high - low): equal or reversed factors make every medium frequency NaN.
    if (highFreqFactor <= lowFreqFactor) {
      throw fail(`"${field}.high_freq_factor" (${highFreqFactor}) must be greater than "${field}.low_freq_factor" (${lowFreqFactor})`);
    }
    return { type, factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings };
  }
  throw fail(`"${field}" type ${JSON.stringify(type)} is not supported: webtune implements default, "linear" and "llama3" RoPE`);
}

function positiveIn(
  o: Record<string, unknown>,
  field: string,
  key: string,
  fallback: number | undefined,
  fail: (p: string) => ConfigError,
): number {
  const v = o[key];
  if ((v === undefined || v === null) && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
    throw fail(`"${field}.${key}" is ${JSON.stringify(v) ?? 'missing'}; expected a positive number`);
  return v;
}

/**
 * RoPE inverse frequencies, one per rotated pair (headDim / 2), as transformers computes them
 * (`_compute_default_rope_parameters`, `_compute_linear_scaling_rope_parameters`, `_compute_llama3_parameters`).
 * torch does this in float32 tensors, scalars cast to float32, and `s / t` as `t.reciprocal() * s`; each step is
 * rounded the same way here (Math.fround) so the values are the ones in HF's inv_freq buffer, except where torch's
 * vectorised pow is itself 1 ulp off the correctly rounded result.
 */
export function ropeInvFreq(c: ModelConfig): Float64Array {
  const f = Math.fround;
  const dim = c.headDim;
  const base = f(c.ropeTheta);
  const inv = new Float64Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) inv[i] = f(1 / f(base ** f((2 * i) / dim)));
  const s = c.ropeScaling;
  if (s === null) return inv;
  const factor = f(s.factor);
  if (s.type === 'linear') return inv.map((x) => f(x / factor));

  const oldCtx = s.originalMaxPositionEmbeddings;
  const lowFreqWavelen = f(oldCtx / s.lowFreqFactor); // python floats, cast to f32 when compared with the tensor
  const highFreqWavelen = f(oldCtx / s.highFreqFactor);
  const twoPi = f(2 * Math.PI);
  const low = f(s.lowFreqFactor);
  const span = f(s.highFreqFactor - s.lowFreqFactor);
  return inv.map((x) => {
    const wavelen = f(f(1 / x) * twoPi);
    const scaled = wavelen > lowFreqWavelen ? f(x / factor) : x; // low frequencies: divided by factor
    if (wavelen < highFreqWavelen || wavelen > lowFreqWavelen) return scaled; // high frequencies: unchanged
    const smooth = f(f(f(f(1 / wavelen) * f(oldCtx)) - low) / span);
    return f(f(f(f(1 - smooth) * scaled) / factor) + f(smooth * scaled));
  });
}

/** Every tensor a checkpoint must hold, by its HF name, with its shape (Linear weights are [out, in]). */
export function expectedTensors(c: ModelConfig): Map<string, number[]> {
  const h = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const t = new Map<string, number[]>([['model.embed_tokens.weight', [c.vocabSize, h]]]);
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}`;
    t.set(`${p}.input_layernorm.weight`, [h]);
    for (const [proj, out] of [
      ['q_proj', q],
      ['k_proj', kv],
      ['v_proj', kv],
    ] as const) {
      t.set(`${p}.self_attn.${proj}.weight`, [out, h]);
      if (c.attentionBias.qkv) t.set(`${p}.self_attn.${proj}.bias`, [out]);
    }
    if (c.qkNorm) {
      t.set(`${p}.self_attn.q_norm.weight`, [c.headDim]);
      t.set(`${p}.self_attn.k_norm.weight`, [c.headDim]);
    }
    t.set(`${p}.self_attn.o_proj.weight`, [h, q]);
    if (c.attentionBias.o) t.set(`${p}.self_attn.o_proj.bias`, [h]);
    t.set(`${p}.post_attention_layernorm.weight`, [h]);
    if (c.sandwichNorms) {
      t.set(`${p}.pre_feedforward_layernorm.weight`, [h]);
      t.set(`${p}.post_feedforward_layernorm.weight`, [h]);
    }
    t.set(`${p}.mlp.gate_proj.weight`, [c.intermediateSize, h]);
    t.set(`${p}.mlp.up_proj.weight`, [c.intermediateSize, h]);
    t.set(`${p}.mlp.down_proj.weight`, [h, c.intermediateSize]);
  }
  t.set('model.norm.weight', [h]);
  if (!c.tieWordEmbeddings) t.set('lm_head.weight', [c.vocabSize, h]);
  return t;
}

/**
 * Checks a checkpoint's tensors against the config: every expected tensor present with its shape. Extra tensors
 * (rotary_emb.inv_freq, or lm_head.weight in a tied model) are ignored, as transformers ignores them.
 */
export function checkCheckpointTensors(c: ModelConfig, found: Map<string, { shape: number[] }>, file: string): void {
  const missing: string[] = [];
  const wrong: string[] = [];
  for (const [name, shape] of expectedTensors(c)) {
    const t = found.get(name);
    if (!t) missing.push(name);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      wrong.push(`${name} is [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
  }
  if (missing.length === 0 && wrong.length === 0) return;
  const list = (items: string[]) => items.slice(0, 12).join('; ') + (items.length > 12 ? `; and ${items.length - 12} more` : '');
  const parts: string[] = [];
  if (missing.length > 0) parts.push(`${missing.length} missing tensor(s): ${list(missing)}`);
  if (wrong.length > 0) parts.push(`${wrong.length} with the wrong shape: ${list(wrong)}`);
  const adapter = [...found.keys()].some((k) => k.includes('lora_A'));
  const hint = adapter
    ? 'this looks like a LoRA adapter, not a base model: load the base checkpoint and import the adapter separately'
    : 'the checkpoint does not match its config.json: check both come from the same model';
  throw new ConfigError(file, `${parts.join('. ')}. ${hint}`);
}
