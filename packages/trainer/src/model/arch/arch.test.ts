// What each architecture module reads from config.json: Qwen3's q/k norms, head_dim and biases, Mistral's sliding
// window (its 4096 default and an explicit null), SmolLM3's NoPE layers, the Qwen sliding layers; and the refusals.
import { describe, expect, it } from 'vitest';
import { ConfigError, expectedTensors, parseModelConfig } from '../config.ts';

// Shaped like Qwen/Qwen3-0.6B's, mistralai/Mistral-7B-v0.1's and HuggingFaceTB/SmolLM3-3B's config.json (sizes cut).
const QWEN3 = {
  architectures: ['Qwen3ForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151645,
  head_dim: 128,
  hidden_act: 'silu',
  hidden_size: 1024,
  intermediate_size: 3072,
  max_position_embeddings: 40960,
  max_window_layers: 28,
  model_type: 'qwen3',
  num_attention_heads: 16,
  num_hidden_layers: 4,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000,
  sliding_window: null,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  use_sliding_window: false,
  vocab_size: 151936,
};
const MISTRAL = {
  architectures: ['MistralForCausalLM'],
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: 'silu',
  hidden_size: 4096,
  intermediate_size: 14336,
  max_position_embeddings: 32768,
  model_type: 'mistral',
  num_attention_heads: 32,
  num_hidden_layers: 2,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  sliding_window: 4096,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  vocab_size: 32000,
};
const SMOLLM3 = {
  architectures: ['SmolLM3ForCausalLM'],
  attention_bias: false,
  hidden_size: 2048,
  intermediate_size: 11008,
  model_type: 'smollm3',
  no_rope_layers: [1, 1, 1, 0, 1, 1, 1, 0],
  num_attention_heads: 16,
  num_hidden_layers: 8,
  num_key_value_heads: 4,
  rope_theta: 5000000.0,
  use_sliding_window: false,
  sliding_window: null,
  vocab_size: 128256,
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
const full = { rope: true, window: null };

describe('Qwen3ForCausalLM', () => {
  it('reads q/k norms, head_dim from the config (not hidden / heads), tied embeddings, full attention', () => {
    const c = parseModelConfig(QWEN3);
    expect(c).toMatchObject({ architecture: 'Qwen3ForCausalLM', headDim: 128, qkNorm: true, tieWordEmbeddings: true });
    expect(c.attentionBias).toEqual({ qkv: false, o: false });
    expect(c.layers).toEqual([full, full, full, full]);
    // The config class defaults head_dim to 128 even where hidden / heads says otherwise.
    const { head_dim: _, ...noHeadDim } = QWEN3;
    expect(parseModelConfig({ ...noHeadDim, hidden_size: 64, num_attention_heads: 4, num_key_value_heads: 2 }).headDim).toBe(128);
  });

  it('honours attention_bias on all four projections, and lists q_norm / k_norm [head_dim]', () => {
    const c = parseModelConfig({ ...QWEN3, attention_bias: true });
    expect(c.attentionBias).toEqual({ qkv: true, o: true });
    const t = expectedTensors(c);
    expect(t.get('model.layers.3.self_attn.q_norm.weight')).toEqual([128]);
    expect(t.get('model.layers.0.self_attn.k_norm.weight')).toEqual([128]);
    expect(t.get('model.layers.0.self_attn.q_proj.weight')).toEqual([2048, 1024]);
    expect(t.get('model.layers.0.self_attn.o_proj.bias')).toEqual([1024]);
    expect(t.has('lm_head.weight')).toBe(false);
  });

  it('slides the layers from max_window_layers on when use_sliding_window is true, or those layer_types marks', () => {
    const sliding = { rope: true, window: 64 };
    expect(parseModelConfig({ ...QWEN3, use_sliding_window: true, sliding_window: 64, max_window_layers: 2 }).layers).toEqual([
      full,
      full,
      sliding,
      sliding,
    ]);
    const types = ['sliding_attention', 'full_attention', 'sliding_attention', 'full_attention'];
    expect(parseModelConfig({ ...QWEN3, use_sliding_window: true, sliding_window: 64, layer_types: types }).layers).toEqual([
      sliding,
      full,
      sliding,
      full,
    ]);
    // use_sliding_window false: transformers sets sliding_window to None, whatever layer_types says.
    expect(parseModelConfig({ ...QWEN3, sliding_window: 64, layer_types: types }).layers).toEqual([full, full, full, full]);
    // The same rules for Qwen2.
    expect(
      parseModelConfig({ ...QWEN3, architectures: ['Qwen2ForCausalLM'], use_sliding_window: true, sliding_window: 8, max_window_layers: 3 })
        .layers[3],
    ).toEqual({ rope: true, window: 8 });
  });

  it('refuses bad layer_types and windows, by field and value', () => {
    expect(err({ ...QWEN3, layer_types: ['full_attention'] })).toBe(
      'config.json: "layer_types" is ["full_attention"]; expected a list of 4 (num_hidden_layers) entries, each "full_attention" or "sliding_attention"',
    );
    expect(err({ ...QWEN3, layer_types: ['full_attention', 'local', 'full_attention', 'full_attention'] })).toBe(
      'config.json: "layer_types"[1] is "local"; expected a list of 4 (num_hidden_layers) entries, each "full_attention" or "sliding_attention"',
    );
    expect(err({ ...QWEN3, use_sliding_window: true, sliding_window: 0 })).toBe(
      'config.json: "sliding_window" is 0; expected a positive integer',
    );
    expect(err({ ...QWEN3, head_dim: 7 })).toBe('config.json: "head_dim" is 7; expected an even number (RoPE rotates pairs of dimensions)');
  });
});

describe('MistralForCausalLM', () => {
  it('slides every layer over sliding_window keys; 4096 when the key is absent, none when it is null', () => {
    expect(parseModelConfig(MISTRAL).layers).toEqual([
      { rope: true, window: 4096 },
      { rope: true, window: 4096 },
    ]);
    const { sliding_window: _, ...absent } = MISTRAL;
    expect(parseModelConfig(absent).layers[0].window).toBe(4096);
    const noWindow = parseModelConfig({ ...MISTRAL, sliding_window: null });
    expect(noWindow.layers).toEqual([full, full]);
    // With no window, Mistral is Llama: every other field equal.
    const llama = parseModelConfig({ ...MISTRAL, sliding_window: null, architectures: ['LlamaForCausalLM'], model_type: 'llama' });
    expect({ ...noWindow, architecture: llama.architecture }).toEqual(llama);
  });

  it('takes the transformers defaults of MistralConfig, and refuses a bad window', () => {
    const c = parseModelConfig({
      model_type: 'mistral',
      hidden_size: 64,
      intermediate_size: 96,
      num_hidden_layers: 1,
      num_attention_heads: 4,
      vocab_size: 100,
    });
    expect(c).toMatchObject({
      architecture: 'MistralForCausalLM',
      maxPositionEmbeddings: 131072,
      bosTokenId: 1,
      eosTokenIds: [2],
      qkNorm: false,
    });
    expect(err({ ...MISTRAL, sliding_window: 2.5 })).toBe('config.json: "sliding_window" is 2.5; expected a positive integer');
  });
});

describe('SmolLM3ForCausalLM', () => {
  it('leaves RoPE out of the layers no_rope_layers marks 0', () => {
    const c = parseModelConfig(SMOLLM3);
    expect(c.layers.map((l) => l.rope)).toEqual([true, true, true, false, true, true, true, false]);
    expect(c.layers.every((l) => l.window === null)).toBe(true);
    expect(c).toMatchObject({ tieWordEmbeddings: true, ropeTheta: 5e6, bosTokenId: 128000, qkNorm: false });
  });

  it('without no_rope_layers, every no_rope_layer_interval-th layer is NoPE (4 by default)', () => {
    const { no_rope_layers: _, ...derived } = SMOLLM3;
    expect(parseModelConfig(derived).layers.map((l) => l.rope)).toEqual([true, true, true, false, true, true, true, false]);
    expect(parseModelConfig({ ...derived, no_rope_layer_interval: 2 }).layers.map((l) => l.rope)).toEqual([
      true,
      false,
      true,
      false,
      true,
      false,
      true,
      false,
    ]);
    expect(parseModelConfig({ ...derived, rope_theta: undefined }).ropeTheta).toBe(2e6);
  });

  it('slides the NoPE layers with use_sliding_window, and refuses a short or non-0/1 no_rope_layers', () => {
    const c = parseModelConfig({ ...SMOLLM3, use_sliding_window: true, sliding_window: 16 });
    expect(c.layers[3]).toEqual({ rope: false, window: 16 });
    expect(c.layers[2]).toEqual(full);
    expect(err({ ...SMOLLM3, no_rope_layers: [1, 0] })).toBe(
      'config.json: "no_rope_layers" is [1,0]; expected a list of at least 8 (num_hidden_layers) entries, each 0 or 1',
    );
    expect(err({ ...SMOLLM3, no_rope_layers: [1, 1, 1, 2, 1, 1, 1, 0] })).toBe(
      'config.json: "no_rope_layers"[3] is 2; expected a list of at least 8 (num_hidden_layers) entries, each 0 or 1',
    );
  });
});
