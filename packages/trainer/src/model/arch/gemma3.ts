// Gemma3ForCausalLM, the text model "gemma3_text" (transformers' models/gemma3/modeling_gemma3.py at commit
// 0018aa647bb13801f061e2d1027c326f531b59fb; configuration_gemma3.py at 008f5c8c29be84d4721dc6d1e0fcd72300580be4 for
// the older sliding_window_pattern layout). Llama, except:
// - MLP: gelu_pytorch_tanh(gate) * up (GeGLU), from `hidden_activation`;
// - every RMSNorm scales by (1 + w); four per layer: x += post_attention_layernorm(attn(input_layernorm(x))),
//   x += post_feedforward_layernorm(mlp(pre_feedforward_layernorm(x)));
// - q_norm / k_norm per head before RoPE, as Qwen3's;
// - embeddings times sqrt(hidden_size), that float32 scalar cast to the weights' dtype first
//   (Gemma3TextScaledWordEmbedding: bf16 makes sqrt(640) 25.25);
// - scores times query_pre_attn_scalar ** -0.5, not head_dim ** -0.5;
// - the layers `layer_types` marks "sliding_attention" (older configs: all but every `sliding_window_pattern`-th,
//   default 6) attend over `sliding_window` keys and rotate with `rope_local_base_freq` (plain RoPE); the others
//   with rope_theta and rope_scaling;
// - final_logit_softcapping, when set (null in every released Gemma 3): logits = cap * tanh(logits / cap).
// Refused by name: bidirectional attention (EmbeddingGemma) and rope_parameters per layer type (transformers v5's
// layout). attn_logit_softcapping
// is read by the attention module but never passed to its attention function at that commit, so it changes nothing
// in transformers and is ignored here too.
import { ConfigError, isObject } from './fields.ts';
import { type ArchitectureSpec, LAYER_TYPES } from './spec.ts';

/** x rounded to `bits` significand bits (bf16 8, f16 11), ties to even; x positive and normal (sqrt of a width). */
function roundSignificand(x: number, bits: number): number {
  const step = 2 ** (Math.floor(Math.log2(x)) - (bits - 1));
  const r = x / step;
  const down = Math.floor(r);
  const rest = r - down;
  const up = rest > 0.5 || (rest === 0.5 && down % 2 === 1);
  return (up ? down + 1 : down) * step;
}

/**
 * sqrt(hidden_size) as transformers multiplies by it: a float32 tensor (`torch.tensor(hidden_size ** 0.5)`) cast to
 * the weights' dtype, which is the checkpoint's torch_dtype when it is loaded as saved.
 */
export function gemmaEmbedScale(hiddenSize: number, dtype: string | null): number {
  const f32 = Math.fround(Math.sqrt(hiddenSize));
  if (dtype === 'bfloat16') return roundSignificand(f32, 8);
  if (dtype === 'float16') return roundSignificand(f32, 11);
  return f32;
}

export const gemma3: ArchitectureSpec = {
  architecture: 'Gemma3ForCausalLM',
  family: 'Gemma 3 (text)',
  modelType: 'gemma3_text',
  defaults: { maxPositionEmbeddings: 131072, bosTokenId: 2, eosTokenId: 1, ropeTheta: 1000000, tieWordEmbeddings: true, headDim: 256 },
  read(f, numLayers) {
    const act = f.c.hidden_activation ?? f.c.hidden_act ?? 'gelu_pytorch_tanh';
    if (act !== 'gelu_pytorch_tanh') {
      const field = f.has('hidden_activation') ? 'hidden_activation' : 'hidden_act';
      throw f.fail(`"${field}" is ${JSON.stringify(act)}; webtune implements Gemma 3's GeGLU MLP, "gelu_pytorch_tanh" only`);
    }
    if (f.bool('use_bidirectional_attention', false)) {
      throw f.fail('"use_bidirectional_attention" is true: that is an embedding model (EmbeddingGemma), not a causal LM webtune can train');
    }
    if (isObject(f.c.rope_parameters) && ('full_attention' in f.c.rope_parameters || 'sliding_attention' in f.c.rope_parameters)) {
      throw f.fail(
        '"rope_parameters" is given per layer type (transformers v5 layout): webtune reads rope_theta, rope_local_base_freq and rope_scaling; write those instead',
      );
    }
    // transformers >= 4.53 stores the pattern as "_sliding_window_pattern"; older configs as "sliding_window_pattern".
    const patternField = f.has('sliding_window_pattern') ? 'sliding_window_pattern' : '_sliding_window_pattern';
    const pattern = f.int(patternField, 6);
    const types =
      f.perLayer('layer_types', numLayers, LAYER_TYPES) ??
      Array.from({ length: numLayers }, (_, i) => ((i + 1) % pattern !== 0 ? 'sliding_attention' : 'full_attention'));
    const window = f.int('sliding_window', 4096);
    const bias = f.bool('attention_bias', false);
    const dtype = f.c.torch_dtype ?? f.c.dtype ?? null;
    if (dtype !== null && typeof dtype !== 'string')
      throw new ConfigError(f.file, `"torch_dtype" is ${JSON.stringify(dtype)}; expected a dtype name`);
    return {
      attentionBias: { qkv: bias, o: bias },
      qkNorm: true,
      layers: types.map((t) => (t === 'sliding_attention' ? { rope: true, window, localRope: true } : { rope: true, window: null })),
      block: {
        mlpActivation: 'gelu_tanh',
        normPlusOne: true,
        sandwichNorms: true,
        embedScale: gemmaEmbedScale(f.int('hidden_size'), dtype),
        attentionScale: f.positive('query_pre_attn_scalar', 256) ** -0.5,
        ropeLocalTheta: f.positive('rope_local_base_freq', 10000),
        finalLogitSoftcap: f.has('final_logit_softcapping') ? f.positive('final_logit_softcapping', 0) : null,
      },
    };
  },
};
