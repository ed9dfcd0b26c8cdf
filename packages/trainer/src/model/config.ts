// Hugging Face `config.json` -> one typed ModelConfig for the decoder webtune implements (Llama and Qwen2, which
// differ only in attention biases and defaults). Anything the forward pass would compute differently from
// transformers is refused here, by field and value, rather than trained silently wrong.

export type Architecture = 'LlamaForCausalLM' | 'Qwen2ForCausalLM';
export const SUPPORTED_ARCHITECTURES: readonly Architecture[] = ['LlamaForCausalLM', 'Qwen2ForCausalLM'];

export type RopeScaling =
  | null
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number };

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
  /** `head_dim`; defaults to hiddenSize / numHeads. Also the RoPE dimension. */
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
  /** Which projections carry a bias: Qwen2 always q/k/v and never o; Llama all four iff `attention_bias`. */
  attentionBias: { qkv: boolean; o: boolean };
  /** `bos_token_id`, or null. */
  bosTokenId: number | null;
  /** `eos_token_id`, always as a list (HF allows a number or a list). */
  eosTokenIds: number[];
  /** `torch_dtype` (`dtype` in newer transformers): the dtype the weights were saved in, or null. */
  torchDtype: string | null;
}

/** A config.json webtune cannot train: names the file, the field and its value. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

// transformers' class defaults, for fields a config.json may omit.
const DEFAULTS: Record<Architecture, { maxPositionEmbeddings: number; bosTokenId: number | null; eosTokenId: number | null }> = {
  LlamaForCausalLM: { maxPositionEmbeddings: 2048, bosTokenId: 1, eosTokenId: 2 },
  Qwen2ForCausalLM: { maxPositionEmbeddings: 32768, bosTokenId: null, eosTokenId: null },
};
const MODEL_TYPES: Record<string, Architecture> = { llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM' };

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
  const show = (v: unknown) => JSON.stringify(v) ?? String(v);
  const bad = (field: string, expected: string) => fail(`"${field}" is ${show(c[field])}; expected ${expected}`);
  const has = (field: string) => c[field] !== undefined && c[field] !== null;
  const int = (field: string, fallback?: number): number => {
    if (!has(field)) {
      if (fallback !== undefined) return fallback;
      throw fail(`"${field}" is missing; every Llama/Qwen2 config.json has it: is this the model's config.json?`);
    }
    const v = c[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw bad(field, 'a positive integer');
    return v;
  };
  const positive = (field: string, fallback: number): number => {
    if (!has(field)) return fallback;
    const v = c[field];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw bad(field, 'a positive number');
    return v;
  };
  const bool = (field: string, fallback: boolean): boolean => {
    if (!has(field)) return fallback;
    if (typeof c[field] !== 'boolean') throw bad(field, 'true or false');
    return c[field] as boolean;
  };
  const tokenId = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;

  const architecture = readArchitecture(c, fail);
  const defaults = DEFAULTS[architecture];
  const hiddenSize = int('hidden_size');
  const numHeads = int('num_attention_heads');
  const numKvHeads = int('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw fail(
      `"num_key_value_heads" is ${numKvHeads}, which does not divide "num_attention_heads" (${numHeads}); grouped-query attention needs it to`,
    );
  }
  if (!has('head_dim') && hiddenSize % numHeads !== 0) {
    throw fail(`"hidden_size" is ${hiddenSize}, not a multiple of "num_attention_heads" (${numHeads}), and there is no "head_dim"`);
  }
  const headDim = int('head_dim', hiddenSize / numHeads);

  const act = c.hidden_act ?? 'silu';
  if (act !== 'silu') throw fail(`"hidden_act" is ${show(act)}; webtune implements the SwiGLU MLP of Llama and Qwen2, "silu" only`);
  if (bool('mlp_bias', false)) throw fail('"mlp_bias" is true; webtune implements MLPs without biases (as Llama and Qwen2 ship them)');
  if (has('attention_dropout') && c.attention_dropout !== 0) {
    throw bad('attention_dropout', '0 (webtune trains without attention dropout, as every released Llama/Qwen2 does)');
  }
  if (architecture === 'Qwen2ForCausalLM' && bool('use_sliding_window', false)) {
    throw fail('"use_sliding_window" is true; webtune implements full causal attention only: set it to false if sequences fit the window');
  }
  const llamaBias = architecture === 'LlamaForCausalLM' && bool('attention_bias', false);

  // transformers v5 moves rope_theta and the scaling into `rope_parameters`; read either layout.
  const ropeParams = isObject(c.rope_parameters) ? c.rope_parameters : null;
  const ropeTheta = has('rope_theta')
    ? positive('rope_theta', 10000)
    : ropeParams
      ? positiveIn(ropeParams, 'rope_parameters', 'rope_theta', 10000, fail)
      : 10000;
  const maxPositionEmbeddings = int('max_position_embeddings', defaults.maxPositionEmbeddings);

  // The class default applies only to an absent key: an explicit null stays null, as in transformers.
  const bos = 'bos_token_id' in c ? c.bos_token_id : defaults.bosTokenId;
  if (bos !== null && !tokenId(bos)) throw bad('bos_token_id', 'a token id (a non-negative integer) or null');
  const eos = 'eos_token_id' in c ? c.eos_token_id : defaults.eosTokenId;
  const eosTokenIds = eos === null ? [] : Array.isArray(eos) ? eos : [eos];
  if (!eosTokenIds.every(tokenId)) throw bad('eos_token_id', 'a token id or a list of token ids');
  const dtype = c.torch_dtype ?? c.dtype ?? null;
  if (dtype !== null && typeof dtype !== 'string')
    throw bad(has('torch_dtype') ? 'torch_dtype' : 'dtype', 'a dtype name such as "bfloat16"');

  return {
    architecture,
    hiddenSize,
    intermediateSize: int('intermediate_size'),
    numLayers: int('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: positive('rms_norm_eps', 1e-6),
    ropeTheta,
    ropeScaling: readRopeScaling(
      has('rope_scaling') ? c.rope_scaling : ropeParams,
      has('rope_scaling') ? 'rope_scaling' : 'rope_parameters',
      fail,
    ),
    maxPositionEmbeddings,
    vocabSize: int('vocab_size'),
    tieWordEmbeddings: bool('tie_word_embeddings', false),
    attentionBias: architecture === 'Qwen2ForCausalLM' ? { qkv: true, o: false } : { qkv: llamaBias, o: llamaBias },
    bosTokenId: bos as number | null,
    eosTokenIds: eosTokenIds as number[],
    torchDtype: dtype as string | null,
  };
}

function readArchitecture(c: Record<string, unknown>, fail: (p: string) => ConfigError): Architecture {
  const supported = `webtune trains ${SUPPORTED_ARCHITECTURES.join(' and ')}`;
  const archs = c.architectures;
  if (Array.isArray(archs) && archs.length > 0) {
    const a = archs[0];
    if ((SUPPORTED_ARCHITECTURES as readonly unknown[]).includes(a)) return a as Architecture;
    throw fail(`architecture ${JSON.stringify(a)} (from "architectures") is not supported: ${supported}`);
  }
  if (archs !== undefined && archs !== null && !Array.isArray(archs)) throw fail(`"architectures" is ${JSON.stringify(archs)}, not a list`);
  const arch = typeof c.model_type === 'string' ? MODEL_TYPES[c.model_type] : undefined;
  if (arch) return arch;
  throw fail(`no "architectures", and "model_type" is ${JSON.stringify(c.model_type)}: ${supported} (model_type "llama" or "qwen2")`);
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
    t.set(`${p}.self_attn.o_proj.weight`, [h, q]);
    if (c.attentionBias.o) t.set(`${p}.self_attn.o_proj.bias`, [h]);
    t.set(`${p}.post_attention_layernorm.weight`, [h]);
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

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
