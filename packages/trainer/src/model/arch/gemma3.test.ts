// What arch/gemma3.ts reads from a Gemma 3 config.json: layer types (listed, or from the older pattern field), the two
// RoPE bases, the attention and embedding scales, the norms' tensors; and the refusals, each naming its field.
import { describe, expect, it } from 'vitest';
import { ConfigError, expectedTensors, parseModelConfig } from '../config.ts';
import { gemmaEmbedScale } from './gemma3.ts';

// google/gemma-3-270m's config.json, with 8 of its 18 layers.
const GEMMA3_270M = {
  _sliding_window_pattern: 6,
  architectures: ['Gemma3ForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  attn_logit_softcapping: null,
  bos_token_id: 2,
  eos_token_id: 1,
  final_logit_softcapping: null,
  head_dim: 256,
  hidden_activation: 'gelu_pytorch_tanh',
  hidden_size: 640,
  intermediate_size: 2048,
  layer_types: [
    'sliding_attention',
    'sliding_attention',
    'sliding_attention',
    'sliding_attention',
    'sliding_attention',
    'full_attention',
    'sliding_attention',
    'sliding_attention',
  ],
  max_position_embeddings: 32768,
  model_type: 'gemma3_text',
  num_attention_heads: 4,
  num_hidden_layers: 8,
  num_key_value_heads: 1,
  pad_token_id: 0,
  query_pre_attn_scalar: 256,
  rms_norm_eps: 1e-6,
  rope_local_base_freq: 10000.0,
  rope_scaling: null,
  rope_theta: 1000000.0,
  sliding_window: 512,
  torch_dtype: 'bfloat16',
  use_bidirectional_attention: false,
  vocab_size: 262144,
};

const err = (cfg: unknown) => {
  try {
    parseModelConfig(cfg as Record<string, unknown>);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
};
const sliding = { rope: true, window: 512, localRope: true };
const full = { rope: true, window: null };

describe('Gemma3ForCausalLM', () => {
  it("reads Gemma 3 270M's block: GeGLU, (1 + w) and sandwich norms, q/k norms, both scales, two RoPE bases", () => {
    const c = parseModelConfig(GEMMA3_270M);
    expect(c).toMatchObject({
      architecture: 'Gemma3ForCausalLM',
      headDim: 256,
      numKvHeads: 1,
      tieWordEmbeddings: true,
      qkNorm: true,
      attentionBias: { qkv: false, o: false },
      mlpActivation: 'gelu_tanh',
      normPlusOne: true,
      sandwichNorms: true,
      embedScale: 25.25, // sqrt(640) = 25.298 in bf16
      attentionScale: 1 / 16,
      ropeTheta: 1e6,
      ropeLocalTheta: 1e4,
      vocabSize: 262144,
      eosTokenIds: [1],
    });
    expect(c.layers).toEqual([sliding, sliding, sliding, sliding, sliding, full, sliding, sliding]);
  });

  it('without layer_types, slides all but every sliding_window_pattern-th layer (6 by default), as transformers', () => {
    const { layer_types: _, _sliding_window_pattern: __, ...older } = GEMMA3_270M;
    const types = (cfg: Record<string, unknown>) =>
      parseModelConfig(cfg)
        .layers.map((l) => (l.window === null ? 'F' : 'S'))
        .join('');
    expect(types(older)).toBe('SSSSSFSS');
    expect(types({ ...older, sliding_window_pattern: 2 })).toBe('SFSFSFSF');
    expect(types({ ...older, _sliding_window_pattern: 3 })).toBe('SSFSSFSS');
  });

  it('takes the config class defaults for omitted fields: head_dim 256, scalar 256, window 4096, tied', () => {
    const { head_dim: _, query_pre_attn_scalar: __, sliding_window: ___, ...bare } = GEMMA3_270M;
    const c = parseModelConfig({ ...bare, hidden_size: 64 });
    expect(c).toMatchObject({ headDim: 256, attentionScale: 1 / 16, tieWordEmbeddings: true });
    expect(c.layers[0].window).toBe(4096);
  });

  it('scales embeddings by sqrt(hidden_size) rounded to the checkpoint dtype, as transformers casts its float32 scalar', () => {
    expect(gemmaEmbedScale(640, 'bfloat16')).toBe(25.25);
    expect(gemmaEmbedScale(1152, 'bfloat16')).toBe(34); // sqrt(1152) = 33.94 (Gemma 3 1B)
    expect(gemmaEmbedScale(48, 'bfloat16')).toBe(6.9375); // the fixture's
    expect(gemmaEmbedScale(640, 'float16')).toBe(25.296875);
    expect(gemmaEmbedScale(640, 'float32')).toBe(Math.fround(Math.sqrt(640)));
    expect(gemmaEmbedScale(640, null)).toBe(Math.fround(Math.sqrt(640)));
    // Ties to even: 1 + 1/256 lies half-way between bf16 neighbours 1 and 1 + 1/128, and rounds to 1.
    expect(gemmaEmbedScale((1 + 1 / 256) ** 2, 'bfloat16')).toBe(1);
  });

  it('lists the four norms per layer and q/k norms; no lm_head when tied', () => {
    const t = expectedTensors(parseModelConfig(GEMMA3_270M));
    for (const n of ['input_layernorm', 'post_attention_layernorm', 'pre_feedforward_layernorm', 'post_feedforward_layernorm'])
      expect(t.get(`model.layers.7.${n}.weight`)).toEqual([640]);
    expect(t.get('model.layers.0.self_attn.q_norm.weight')).toEqual([256]);
    expect(t.get('model.layers.0.self_attn.q_proj.weight')).toEqual([1024, 640]);
    expect(t.has('lm_head.weight')).toBe(false);
  });

  it('reads final_logit_softcapping: null (every Gemma 3) as none, a number as the cap', () => {
    expect(parseModelConfig(GEMMA3_270M).finalLogitSoftcap).toBeNull();
    expect(parseModelConfig({ ...GEMMA3_270M, final_logit_softcapping: 30 }).finalLogitSoftcap).toBe(30);
  });

  it('refuses, by field and value: another activation, a bad cap, bidirectional attention, per-type rope_parameters', () => {
    expect(err({ ...GEMMA3_270M, hidden_activation: 'gelu' })).toBe(
      `config.json: "hidden_activation" is "gelu"; webtune implements Gemma 3's GeGLU MLP, "gelu_pytorch_tanh" only`,
    );
    expect(err({ ...GEMMA3_270M, final_logit_softcapping: -30 })).toBe(
      'config.json: "final_logit_softcapping" is -30; expected a positive number',
    );
    expect(err({ ...GEMMA3_270M, use_bidirectional_attention: true })).toMatch(/"use_bidirectional_attention" is true: .*EmbeddingGemma/);
    const v5 = { ...GEMMA3_270M, rope_parameters: { full_attention: { rope_type: 'default', rope_theta: 1e6 } } };
    expect(err(v5)).toMatch(/"rope_parameters" is given per layer type/);
    expect(err({ ...GEMMA3_270M, layer_types: ['sliding_attention'] })).toMatch(
      /"layer_types" is \["sliding_attention"\]; expected a list of 8/,
    );
    expect(err({ ...GEMMA3_270M, query_pre_attn_scalar: 0 })).toBe('config.json: "query_pre_attn_scalar" is 0; expected a positive number');
  });

  it('ignores attn_logit_softcapping, which transformers reads but never applies to Gemma 3 attention', () => {
    expect(parseModelConfig({ ...GEMMA3_270M, attn_logit_softcapping: 50 }).attentionScale).toBe(1 / 16);
  });

  it('refuses a Gemma3ForConditionalGeneration folder, saying what to load instead', () => {
    const multimodal = { architectures: ['Gemma3ForConditionalGeneration'], model_type: 'gemma3', text_config: GEMMA3_270M };
    const msg = err(multimodal);
    expect(msg).toMatch(/^config\.json: this is a Gemma3ForConditionalGeneration \(image \+ text\) checkpoint/);
    expect(msg).toMatch(/google\/gemma-3-270m/);
    expect(msg).toMatch(/"text_config"/);
    expect(err({ model_type: 'gemma3', text_config: GEMMA3_270M })).toMatch(/Gemma3ForConditionalGeneration/);
  });
});
