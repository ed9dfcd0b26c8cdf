// Gemma 3 (Gemma3ForCausalLM) as llama.cpp's "gemma3" architecture. Written as convert_hf_to_gguf.py's Gemma3Model
// writes it (ggml-org/llama.cpp at 0024aa7417efd50a7c2a79e049dfbbbceb0beaaf) and as llama.cpp reads and runs it (the
// source node-llama-cpp 3.22.1 builds, its llama/gitRelease.bundle: src/models/gemma3.cpp, llama-arch.cpp,
// llama-hparams.cpp):
// - names: input_layernorm -> attn_norm, post_attention_layernorm -> post_attention_norm, pre_feedforward_layernorm
//   -> ffn_norm, post_feedforward_layernorm -> post_ffw_norm; the rest as Llama's and Qwen3's (q/k norms);
// - every norm weight is stored as 1 + w (Gemma3RMSNorm multiplies by 1 + w; llama.cpp by the weight);
// - NEOX (halves) RoPE, so q/k are written as they are; rope.freq_base is rope_theta (the full-attention layers,
//   with rope_scaling's linear factor), rope.freq_base_swa the sliding layers' rope_local_base_freq, unscaled;
// - attention.sliding_window and, where any layer slides, attention.sliding_window_pattern as one bool per layer
//   (the loader reads such an array before its default of every 6th layer full), so any layer_types is exact;
// - final_logit_softcapping when set; attention.key_length / value_length always (head_dim).
// llama.cpp multiplies embeddings by sqrtf(n_embd) in float32: what transformers does for float32 weights. For a bf16
// checkpoint transformers first rounds that scale to bf16 (model/arch/gemma3.ts), so the GGUF computes what the
// float32 merged model computes, as the converter's GGUF does. The converter also cuts token_embd to the tokenizer's
// size; webtune keeps every row, with a [PAD<i>] token for each row past the tokenizer, as llama.cpp needs one token
// per row.
// Refused, with the reason: a query_pre_attn_scalar other than head_dim (llama.cpp scales scores by 1/sqrt(head_dim),
// or 1/sqrt(hidden/heads) for the 62-layer 27B), attention biases (its gemma3 has no o_proj bias), and sliding
// layers that rotate with rope_theta or full ones with the local base (llama.cpp ties the base to the window).
import type { ModelConfig } from '../../model/config.ts';
import { ExportError } from '../files.ts';
import type { GgufValue } from './format.ts';

/**
 * Gemma 3's own layer-norm names (an HF name relative to the layer -> its GGUF name), tried before the shared ones
 * (ggufTensorName in model.ts): its post_attention_layernorm is not Llama's pre-MLP norm.
 */
export const GEMMA3_NORM_NAMES: [RegExp, string][] = [
  [/^post_attention_layernorm\.weight$/, 'post_attention_norm.weight'],
  [/^pre_feedforward_layernorm\.weight$/, 'ffn_norm.weight'],
  [/^post_feedforward_layernorm\.weight$/, 'post_ffw_norm.weight'],
];

/** Gemma3RMSNorm's 1 + w, as the converter stores every `*norm.weight`. */
export function gemma3Stored(hfName: string, data: Float32Array): Float32Array {
  return hfName.endsWith('norm.weight') ? data.map((w) => w + 1) : data;
}

/** Why llama.cpp's "gemma3" would compute another function than this Gemma 3, or null when it computes the same. */
export function gemma3Refusal(c: ModelConfig): string | null {
  const llamaScale = c.numLayers === 62 ? 1 / Math.sqrt(c.hiddenSize / c.numHeads) : 1 / Math.sqrt(c.headDim);
  if (Math.abs(c.attentionScale - llamaScale) > 1e-6 * llamaScale)
    return (
      `query_pre_attn_scalar is ${Math.round(c.attentionScale ** -2 * 1e6) / 1e6}, and llama.cpp's "gemma3" scales attention ` +
      `scores by 1/sqrt(${c.numLayers === 62 ? 'hidden_size / num_attention_heads' : 'head_dim'}) = 1/sqrt(${Math.round(llamaScale ** -2)})`
    );
  if (c.attentionBias.qkv || c.attentionBias.o) return 'attention_bias is true, and llama.cpp\'s "gemma3" has no o_proj bias';
  const odd = c.layers.findIndex((l) => (l.window !== null) !== (l.localRope === true));
  if (odd >= 0)
    return `layer ${odd} ${c.layers[odd].window === null ? 'attends to everything but rotates with rope_local_base_freq' : 'slides but rotates with rope_theta'}, and llama.cpp's "gemma3" ties the local RoPE base to the sliding window`;
  return null;
}

/** The gemma3.* keys llama.cpp reads beyond the shared ones. */
export function gemma3HyperParameters(c: ModelConfig): [string, GgufValue][] {
  const meta: [string, GgufValue][] = [
    ['gemma3.attention.key_length', { type: 'u32', value: c.headDim }],
    ['gemma3.attention.value_length', { type: 'u32', value: c.headDim }],
  ];
  if (c.finalLogitSoftcap !== null) meta.push(['gemma3.final_logit_softcapping', { type: 'f32', value: c.finalLogitSoftcap }]);
  const sliding = c.layers.map((l) => l.window !== null);
  const window = c.layers.find((l) => l.window !== null)?.window;
  if (window !== undefined && window !== null) {
    if (c.layers.some((l) => l.window !== null && l.window !== window))
      throw new ExportError('config.json: the sliding layers have different windows, and llama.cpp\'s "gemma3" has one');
    meta.push(
      ['gemma3.attention.sliding_window', { type: 'u32', value: window }],
      ['gemma3.attention.sliding_window_pattern', { type: 'bool[]', value: sliding }],
      ['gemma3.rope.freq_base_swa', { type: 'f32', value: c.ropeLocalTheta ?? 10000 }],
    );
  }
  return meta;
}
