import { describe, expect, it } from 'vitest';
import { ConfigError, checkCheckpointTensors, expectedTensors, type ModelConfig, parseModelConfig, ropeInvFreq } from './config.ts';
import { leastParameters } from './config-size.ts';

// Shaped like Qwen/Qwen2.5-0.5B-Instruct's and meta-llama/Llama-3.2-1B-Instruct's config.json.
const QWEN = {
  architectures: ['Qwen2ForCausalLM'],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151645,
  hidden_act: 'silu',
  hidden_size: 896,
  initializer_range: 0.02,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  max_window_layers: 21,
  model_type: 'qwen2',
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};
const LLAMA = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 128000,
  eos_token_id: [128001, 128008, 128009],
  head_dim: 64,
  hidden_act: 'silu',
  hidden_size: 2048,
  intermediate_size: 8192,
  max_position_embeddings: 131072,
  mlp_bias: false,
  model_type: 'llama',
  num_attention_heads: 32,
  num_hidden_layers: 16,
  num_key_value_heads: 8,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  rope_theta: 500000.0,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  vocab_size: 128256,
};
// The least a config can say.
const MINIMAL = {
  model_type: 'llama',
  hidden_size: 64,
  intermediate_size: 96,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  vocab_size: 100,
};

const err = (cfg: unknown, file?: string) => {
  try {
    parseModelConfig(cfg as Record<string, unknown>, file);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('parseModelConfig', () => {
  it('reads a Qwen2 config', () => {
    expect(parseModelConfig(JSON.stringify(QWEN))).toEqual({
      architecture: 'Qwen2ForCausalLM',
      hiddenSize: 896,
      intermediateSize: 4864,
      numLayers: 24,
      numHeads: 14,
      numKvHeads: 2,
      headDim: 64,
      rmsNormEps: 1e-6,
      ropeTheta: 1e6,
      ropeScaling: null,
      maxPositionEmbeddings: 32768,
      vocabSize: 151936,
      tieWordEmbeddings: true,
      attentionBias: { qkv: true, o: false },
      qkNorm: false,
      layers: Array.from({ length: 24 }, () => ({ rope: true, window: null })),
      mlpActivation: 'silu',
      normPlusOne: false,
      sandwichNorms: false,
      embedScale: 1,
      attentionScale: 1 / 8,
      ropeLocalTheta: null,
      finalLogitSoftcap: null,
      bosTokenId: 151643,
      eosTokenIds: [151645],
      torchDtype: 'bfloat16',
    } satisfies ModelConfig);
  });

  it('reads a Llama 3.2 config with llama3 RoPE scaling and a list of eos ids', () => {
    const c = parseModelConfig(LLAMA);
    expect(c).toMatchObject({
      architecture: 'LlamaForCausalLM',
      headDim: 64,
      numKvHeads: 8,
      rmsNormEps: 1e-5,
      eosTokenIds: [128001, 128008, 128009],
    });
    expect(c.attentionBias).toEqual({ qkv: false, o: false });
    expect(c.ropeScaling).toEqual({ type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
  });

  it('applies transformers defaults to what a config omits, and falls back to model_type', () => {
    expect(parseModelConfig(MINIMAL)).toEqual({
      architecture: 'LlamaForCausalLM',
      hiddenSize: 64,
      intermediateSize: 96,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 4,
      headDim: 16,
      rmsNormEps: 1e-6,
      ropeTheta: 10000,
      ropeScaling: null,
      maxPositionEmbeddings: 2048,
      vocabSize: 100,
      tieWordEmbeddings: false,
      attentionBias: { qkv: false, o: false },
      qkNorm: false,
      layers: [
        { rope: true, window: null },
        { rope: true, window: null },
      ],
      mlpActivation: 'silu',
      normPlusOne: false,
      sandwichNorms: false,
      embedScale: 1,
      attentionScale: 1 / 4,
      ropeLocalTheta: null,
      finalLogitSoftcap: null,
      bosTokenId: 1,
      eosTokenIds: [2],
      torchDtype: null,
    } satisfies ModelConfig);
    const q = parseModelConfig({ ...MINIMAL, model_type: 'qwen2', architectures: [] });
    expect(q).toMatchObject({
      architecture: 'Qwen2ForCausalLM',
      maxPositionEmbeddings: 32768,
      bosTokenId: null,
      eosTokenIds: [],
      tieWordEmbeddings: false,
    });
    expect(parseModelConfig({ ...MINIMAL, num_key_value_heads: null, head_dim: null, eos_token_id: null }).eosTokenIds).toEqual([]);
    expect(parseModelConfig({ ...MINIMAL, dtype: 'float16' }).torchDtype).toBe('float16');
  });

  it('honours head_dim, even when the heads do not divide hidden_size', () => {
    expect(parseModelConfig({ ...MINIMAL, hidden_size: 60, num_attention_heads: 8, head_dim: 16 }).headDim).toBe(16);
  });

  it('gives Llama with attention_bias a bias on all four projections, and Qwen2 on q/k/v only', () => {
    expect(parseModelConfig({ ...MINIMAL, attention_bias: true }).attentionBias).toEqual({ qkv: true, o: true });
    expect(parseModelConfig({ ...MINIMAL, model_type: 'qwen2', attention_bias: false }).attentionBias).toEqual({ qkv: true, o: false });
  });

  it('reads rope_scaling by rope_type or the older type, "default" as none, and the transformers v5 rope_parameters', () => {
    expect(parseModelConfig({ ...MINIMAL, rope_scaling: { type: 'linear', factor: 2 } }).ropeScaling).toEqual({
      type: 'linear',
      factor: 2,
    });
    expect(parseModelConfig({ ...MINIMAL, rope_scaling: { rope_type: 'default' } }).ropeScaling).toBeNull();
    const v5 = parseModelConfig({ ...MINIMAL, rope_parameters: { rope_type: 'linear', rope_theta: 5000, factor: 4 } });
    expect(v5.ropeTheta).toBe(5000);
    expect(v5.ropeScaling).toEqual({ type: 'linear', factor: 4 });
  });
});

describe('parseModelConfig refuses, naming config.json, the field and the value', () => {
  it('unsupported architectures, by name, with the supported ones', () => {
    expect(err({ ...MINIMAL, architectures: ['Phi3ForCausalLM'] })).toBe(
      'config.json: architecture "Phi3ForCausalLM" (from "architectures") is not supported: webtune trains LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, MistralForCausalLM, SmolLM3ForCausalLM, Gemma3ForCausalLM',
    );
    expect(err({ ...MINIMAL, architectures: ['LlamaForSequenceClassification'] })).toMatch(/"LlamaForSequenceClassification"/);
    expect(err({ ...MINIMAL, model_type: 'gpt2' })).toBe(
      'config.json: no "architectures", and "model_type" is "gpt2": webtune trains LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, MistralForCausalLM, SmolLM3ForCausalLM, Gemma3ForCausalLM (model_type "llama", "qwen2", "qwen3", "mistral", "smollm3", "gemma3_text")',
    );
    expect(err({ ...MINIMAL, architectures: 'LlamaForCausalLM' })).toBe('config.json: "architectures" is "LlamaForCausalLM", not a list');
  });

  it('text that is not a JSON object', () => {
    expect(err('{"hidden_size": ')).toMatch(/^config\.json: not valid JSON \(/);
    expect(err('[1]')).toBe('config.json: not a JSON object');
  });

  it('missing or non-positive-integer sizes', () => {
    const { hidden_size: _, ...noHidden } = MINIMAL;
    expect(err(noHidden, 'models/tiny/config.json')).toBe(
      'models/tiny/config.json: "hidden_size" is missing; every LlamaForCausalLM config.json has it: is this the model\'s config.json?',
    );
    for (const [field, v] of [
      ['hidden_size', 0],
      ['num_hidden_layers', -2],
      ['intermediate_size', 1.5],
      ['vocab_size', '100'],
      ['num_key_value_heads', 0],
      ['head_dim', 0],
      ['max_position_embeddings', true],
    ] as const) {
      expect(err({ ...MINIMAL, [field]: v })).toBe(`config.json: "${field}" is ${JSON.stringify(v)}; expected a positive integer`);
    }
  });

  it('sizes no browser GPU holds, from the config alone, with the memory they need (a 70B config, a typo in the layers)', () => {
    const llama70b = {
      ...LLAMA,
      hidden_size: 8192,
      intermediate_size: 28672,
      num_hidden_layers: 80,
      num_attention_heads: 64,
      head_dim: 128,
    };
    expect(err(llama70b)).toBe(
      'config.json: "hidden_size" 8192, "intermediate_size" 28672, "num_hidden_layers" 80 and "vocab_size" 128256 make a model of ' +
        'at least 6.95e+10 parameters, whose weights alone need 129.46 GiB in bfloat16; webtune fine-tunes models whose weights fit ' +
        'one GPU (at most 64.00 GiB). Check these fields, or pick a smaller model.',
    );
    // Refused before the per-layer lists are built (a billion layers would otherwise be a RangeError or hang).
    expect(err({ ...MINIMAL, num_hidden_layers: 1e9 }, 'my/config.json')).toMatch(
      /^my\/config\.json: .*"num_hidden_layers" 1000000000 .*need 64849\.85 GiB/,
    );
    expect(err({ ...MINIMAL, vocab_size: 2 ** 40 })).toMatch(/"vocab_size" 1099511627776 make a model of at least 7\.04e\+13 parameters/);
    // The largest models people fine-tune in a browser pass, and the bound is a lower one: it never exceeds the exact count.
    for (const cfg of [LLAMA, QWEN]) {
      const c = parseModelConfig(cfg);
      const exact = [...expectedTensors(c).values()].reduce((n, shape) => n + shape.reduce((a, b) => a * b, 1), 0);
      expect(leastParameters(c)).toBeLessThanOrEqual(exact);
      expect(leastParameters(c)).toBeGreaterThan(0.99 * exact);
    }
  });

  it('heads that do not fit together', () => {
    expect(err({ ...MINIMAL, num_key_value_heads: 3 })).toBe(
      'config.json: "num_key_value_heads" is 3, which does not divide "num_attention_heads" (4); grouped-query attention needs it to',
    );
    expect(err({ ...MINIMAL, num_attention_heads: 5, num_key_value_heads: 5 })).toBe(
      'config.json: "hidden_size" is 64, not a multiple of "num_attention_heads" (5), and there is no "head_dim"',
    );
  });

  it('non-positive epsilon or theta, and non-boolean flags', () => {
    expect(err({ ...MINIMAL, rms_norm_eps: 0 })).toBe('config.json: "rms_norm_eps" is 0; expected a positive number');
    expect(err({ ...MINIMAL, rope_theta: '1e4' })).toBe('config.json: "rope_theta" is "1e4"; expected a positive number');
    expect(err({ ...MINIMAL, tie_word_embeddings: 1 })).toBe('config.json: "tie_word_embeddings" is 1; expected true or false');
    expect(err({ ...MINIMAL, attention_bias: 'no' })).toBe('config.json: "attention_bias" is "no"; expected true or false');
  });

  it('a model webtune would compute differently: activation, MLP bias, attention dropout', () => {
    expect(err({ ...MINIMAL, hidden_act: 'gelu' })).toBe(
      'config.json: "hidden_act" is "gelu"; webtune implements the SwiGLU MLP of LlamaForCausalLM, "silu" only',
    );
    expect(err({ ...MINIMAL, mlp_bias: true })).toBe(
      'config.json: "mlp_bias" is true; webtune implements MLPs without biases (as LlamaForCausalLM checkpoints ship them)',
    );
    expect(err({ ...MINIMAL, attention_dropout: 0.1 })).toMatch(/^config\.json: "attention_dropout" is 0\.1; expected 0/);
  });

  it('bad token ids and dtype', () => {
    expect(err({ ...MINIMAL, bos_token_id: -1 })).toBe(
      'config.json: "bos_token_id" is -1; expected a token id (a non-negative integer) or null',
    );
    expect(err({ ...MINIMAL, eos_token_id: [2, 'x'] })).toBe(
      'config.json: "eos_token_id" is [2,"x"]; expected a token id or a list of token ids',
    );
    expect(err({ ...MINIMAL, torch_dtype: 16 })).toBe('config.json: "torch_dtype" is 16; expected a dtype name such as "bfloat16"');
  });

  it('RoPE scaling types other than linear and llama3, by name, and incomplete llama3 parameters', () => {
    for (const type of ['yarn', 'dynamic', 'longrope']) {
      expect(err({ ...MINIMAL, rope_scaling: { type, factor: 2 } })).toBe(
        `config.json: "rope_scaling" type "${type}" is not supported: webtune implements default, "linear" and "llama3" RoPE`,
      );
    }
    expect(err({ ...MINIMAL, rope_scaling: 'linear' })).toBe('config.json: "rope_scaling" is "linear"; expected an object or null');
    expect(err({ ...MINIMAL, rope_scaling: { type: 'linear' } })).toBe(
      'config.json: "rope_scaling.factor" is missing; expected a positive number',
    );
    const { low_freq_factor: _, ...noLow } = LLAMA.rope_scaling;
    expect(err({ ...LLAMA, rope_scaling: noLow })).toBe(
      'config.json: "rope_scaling.low_freq_factor" is missing; expected a positive number',
    );
    expect(err({ ...LLAMA, rope_scaling: { ...LLAMA.rope_scaling, original_max_position_embeddings: 8192.5 } })).toBe(
      'config.json: "rope_scaling.original_max_position_embeddings" is 8192.5; expected a positive integer',
    );
    expect(err({ ...LLAMA, rope_scaling: { ...LLAMA.rope_scaling, high_freq_factor: 1 } })).toBe(
      'config.json: "rope_scaling.high_freq_factor" (1) must be greater than "rope_scaling.low_freq_factor" (1)',
    );
    expect(err({ ...MINIMAL, rope_parameters: { rope_type: 'yarn', factor: 4 } })).toMatch(
      /"rope_parameters" type "yarn" is not supported/,
    );
  });
});

// Generated with torch 1.13 (Debian python3-torch) by transformers' formulas from modeling_rope_utils, verbatim:
//   def default(base, dim): return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
//   def linear(base, dim, factor): inv_freq = default(base, dim); inv_freq /= factor; return inv_freq
//   def llama3(base, dim, factor, low_freq_factor, high_freq_factor, old_context_len):
//       inv_freq = default(base, dim)
//       low_freq_wavelen = old_context_len / low_freq_factor; high_freq_wavelen = old_context_len / high_freq_factor
//       wavelen = 2 * math.pi / inv_freq
//       inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
//       smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
//       smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
//       is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
//       return torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)
// with the arguments in the test names below; printed as [float(x) for x in inv_freq].
const GOLDEN: Record<string, number[]> = {
  default_64_1e4: [
    1.0, 0.7498942017555237, 0.5623413324356079, 0.4216965138912201, 0.3162277638912201, 0.23713736236095428, 0.17782793939113617,
    0.1333521455526352, 0.10000000149011612, 0.07498941570520401, 0.05623412877321243, 0.04216964915394783, 0.03162277862429619,
    0.0237137358635664, 0.017782794311642647, 0.01333521492779255, 0.009999999776482582, 0.007498942315578461, 0.005623413249850273,
    0.0042169648222625256, 0.003162277862429619, 0.0023713738191872835, 0.0017782794311642647, 0.0013335214462131262, 0.0010000000474974513,
    0.0007498941849917173, 0.000562341301701963, 0.00042169648804701865, 0.0003162277862429619, 0.0002371373848291114,
    0.00017782794020604342, 0.0001333521504420787,
  ],
  default_64_1e6: [
    1.0, 0.6493816375732422, 0.4216965138912201, 0.2738419771194458, 0.17782793939113617, 0.11547820270061493, 0.07498941570520401,
    0.04869675263762474, 0.03162277862429619, 0.02053525112569332, 0.01333521492779255, 0.00865964312106371, 0.005623413249850273,
    0.003651741426438093, 0.0023713738191872835, 0.0015399265103042126, 0.0010000000474974513, 0.0006493816617876291,
    0.00042169648804701865, 0.00027384195709601045, 0.00017782794020604342, 0.00011547819303814322, 7.498942431993783e-5,
    4.869675467489287e-5, 3.162277425872162e-5, 2.0535249859676696e-5, 1.333521413471317e-5, 8.659643754072022e-6, 5.62341347176698e-6,
    3.651741280918941e-6, 2.3713737391517498e-6, 1.5399265294036013e-6,
  ],
  linear_16_1e4_x4: [
    0.25, 0.07905694097280502, 0.02500000037252903, 0.007905694656074047, 0.0024999999441206455, 0.0007905694656074047,
    0.0002500000118743628, 7.905694656074047e-5,
  ],
  llama3_64_5e5: [
    1.0, 0.663601279258728, 0.44036662578582764, 0.2922278344631195, 0.193922758102417, 0.12868738174438477, 0.08539710193872452,
    0.05666961893439293, 0.03760603070259094, 0.02495540864765644, 0.016560440883040428, 0.010989529080688953, 0.00729266507551074,
    0.00483942124992609, 0.0032114461064338684, 0.0012905480107292533, 0.000429556705057621, 9.708286233944818e-5, 1.9461638657958247e-5,
    1.291476746700937e-5, 8.570255886297673e-6, 5.687232260243036e-6, 3.7740544485131977e-6, 2.504467147446121e-6, 1.6619674170215148e-6,
    1.1028836297555245e-6, 7.318749339901842e-7, 4.856731266045244e-7, 3.2229328894572973e-7, 2.1387423032592778e-7, 1.4192720243499934e-7,
    9.418306490260875e-8,
  ],
  llama3_32_odd: [
    1.0, 0.4805962145328522, 0.23097270727157593, 0.11100459843873978, 0.053348392248153687, 0.025639034807682037, 0.012322022579610348,
    0.005921917501837015, 0.0008614094695076346, 0.00017097516683861613, 8.217000868171453e-5, 3.9490594645030797e-5, 1.897902984637767e-5,
    9.121249604504555e-6, 4.383638042781968e-6, 2.106759666276048e-6,
  ],
};

describe('ropeInvFreq', () => {
  const cfg = (headDim: number, theta: number, rope_scaling: unknown) =>
    parseModelConfig({ ...MINIMAL, hidden_size: headDim * 4, rope_theta: theta, rope_scaling });
  const cases: [string, ModelConfig][] = [
    ['default_64_1e4', cfg(64, 1e4, null)],
    ['default_64_1e6', cfg(64, 1e6, null)],
    ['linear_16_1e4_x4', cfg(16, 1e4, { type: 'linear', factor: 4 })],
    ['llama3_64_5e5', parseModelConfig(LLAMA)],
    [
      'llama3_32_odd',
      cfg(32, 123456.7, {
        rope_type: 'llama3',
        factor: 8,
        low_freq_factor: 1.5,
        high_freq_factor: 3.25,
        original_max_position_embeddings: 4096,
      }),
    ],
  ];
  for (const [name, c] of cases) {
    it(`matches transformers' float32 inv_freq bit for bit: ${name}`, () => {
      expect(Array.from(ropeInvFreq(c))).toEqual(GOLDEN[name]);
    });
  }

  it('llama3 leaves high frequencies alone, divides low ones by factor, and blends between', () => {
    const c = parseModelConfig(LLAMA);
    const plain = ropeInvFreq({ ...c, ropeScaling: null });
    const scaled = ropeInvFreq(c);
    expect(scaled[0]).toBe(plain[0]);
    expect(scaled[31]).toBe(Math.fround(plain[31] / 32));
    const mid = scaled.findIndex((x, i) => x !== plain[i] && x !== Math.fround(plain[i] / 32));
    expect(mid).toBeGreaterThan(0);
    expect(scaled[mid]).toBeLessThan(plain[mid]);
    expect(scaled[mid]).toBeGreaterThan(plain[mid] / 32);
  });
});

describe('expectedTensors', () => {
  it('lists a Qwen2 layer with q/k/v biases, GQA shapes, and no lm_head when tied', () => {
    const t = expectedTensors(parseModelConfig(QWEN));
    expect(t.size).toBe(1 + 24 * 12 + 1);
    expect(t.get('model.embed_tokens.weight')).toEqual([151936, 896]);
    expect(t.get('model.layers.0.self_attn.q_proj.weight')).toEqual([896, 896]);
    expect(t.get('model.layers.0.self_attn.k_proj.weight')).toEqual([128, 896]);
    expect(t.get('model.layers.23.self_attn.v_proj.bias')).toEqual([128]);
    expect(t.get('model.layers.0.self_attn.q_proj.bias')).toEqual([896]);
    expect(t.has('model.layers.0.self_attn.o_proj.bias')).toBe(false);
    expect(t.get('model.layers.0.mlp.down_proj.weight')).toEqual([896, 4864]);
    expect(t.get('model.layers.0.mlp.gate_proj.weight')).toEqual([4864, 896]);
    expect(t.get('model.norm.weight')).toEqual([896]);
    expect(t.has('lm_head.weight')).toBe(false);
  });

  it('lists Llama without biases, with head_dim-based projections, and lm_head when untied', () => {
    const t = expectedTensors(
      parseModelConfig({ ...MINIMAL, hidden_size: 60, head_dim: 16, num_key_value_heads: 2, num_attention_heads: 4 }),
    );
    expect(t.size).toBe(1 + 2 * 9 + 2);
    expect(t.get('model.layers.1.self_attn.q_proj.weight')).toEqual([64, 60]);
    expect(t.get('model.layers.1.self_attn.k_proj.weight')).toEqual([32, 60]);
    expect(t.get('model.layers.1.self_attn.o_proj.weight')).toEqual([60, 64]);
    expect([...t.keys()].some((k) => k.endsWith('.bias'))).toBe(false);
    expect(t.get('lm_head.weight')).toEqual([100, 60]);
  });

  it('gives Llama with attention_bias all four biases', () => {
    const t = expectedTensors(parseModelConfig({ ...MINIMAL, attention_bias: true }));
    for (const p of ['q', 'k', 'v']) expect(t.get(`model.layers.0.self_attn.${p}_proj.bias`)).toEqual([64]);
    expect(t.get('model.layers.0.self_attn.o_proj.bias')).toEqual([64]);
  });
});

describe('checkCheckpointTensors', () => {
  const c = parseModelConfig(MINIMAL);
  const full = () => new Map([...expectedTensors(c)].map(([k, shape]) => [k, { shape }]));

  it('accepts a complete checkpoint, ignoring extras such as rotary_emb.inv_freq', () => {
    const found = full();
    found.set('model.layers.0.self_attn.rotary_emb.inv_freq', { shape: [8] });
    expect(() => checkCheckpointTensors(c, found, 'model.safetensors')).not.toThrow();
  });

  it('accepts a tied model that also ships lm_head.weight', () => {
    const tied = parseModelConfig({ ...MINIMAL, tie_word_embeddings: true });
    const found = new Map([...expectedTensors(tied)].map(([k, shape]) => [k, { shape }]));
    found.set('lm_head.weight', { shape: [100, 64] });
    expect(() => checkCheckpointTensors(tied, found, 'model.safetensors')).not.toThrow();
  });

  it('lists missing tensors and wrong shapes by name', () => {
    const found = full();
    found.delete('lm_head.weight');
    found.delete('model.layers.1.mlp.up_proj.weight');
    found.set('model.layers.0.self_attn.k_proj.weight', { shape: [64, 32] });
    found.set('model.norm.weight', { shape: [64, 1] });
    const msg = (() => {
      try {
        checkCheckpointTensors(c, found, 'model.safetensors');
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
    })();
    expect(msg).toBe(
      'model.safetensors: 2 missing tensor(s): model.layers.1.mlp.up_proj.weight; lm_head.weight. ' +
        '2 with the wrong shape: model.layers.0.self_attn.k_proj.weight is [64, 32], expected [64, 64]; model.norm.weight is [64, 1], expected [64]. ' +
        'the checkpoint does not match its config.json: check both come from the same model',
    );
  });

  it('shortens long lists, and recognises a LoRA adapter passed as a checkpoint', () => {
    const adapter = new Map([['base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', { shape: [8, 64] }]]);
    expect(() => checkCheckpointTensors(c, adapter, 'adapter_model.safetensors')).toThrow(
      /^adapter_model\.safetensors: 21 missing tensor\(s\): model\.embed_tokens\.weight; .*; and 9 more\. this looks like a LoRA adapter, not a base model/,
    );
  });
});
