// What the GGUF writer refuses, with the reason: architectures it does not write, and features llama.cpp's
// architecture lacks (it would compute another function than the checkpoint).
import { describe, expect, it } from 'vitest';
import { type ModelConfig, parseModelConfig } from '../../model/config.ts';
import { ExportError } from '../files.ts';
import { FIXTURE_ROOT, readFolder } from '../testing/node-fixtures.ts';
import { ggufArchitecture, ggufTensorName } from './model.ts';

const configOf = (fixture: string, edits: Record<string, unknown> = {}) => {
  const files = readFolder(`${FIXTURE_ROOT}/${fixture}`);
  return parseModelConfig({ ...JSON.parse(new TextDecoder().decode(files.get('config.json'))), ...edits });
};

describe('GGUF architectures', () => {
  it('writes Qwen3 as "qwen3" with its q/k norms, and Mistral as "llama" (as the converter registers it)', () => {
    expect(ggufArchitecture(configOf('qwen3-qknorm-bf16', { use_sliding_window: false, attention_bias: false })).name).toBe('qwen3');
    expect(ggufArchitecture(configOf('mistral-window-f32', { sliding_window: null }))).toEqual({ name: 'llama', permuteQK: true });
    expect(ggufTensorName('model.layers.3.self_attn.q_norm.weight')).toBe('blk.3.attn_q_norm.weight');
    expect(ggufTensorName('model.layers.3.self_attn.k_norm.weight')).toBe('blk.3.attn_k_norm.weight');
  });

  it('refuses sliding-window attention, naming the layer and the window', () => {
    expect(() => ggufArchitecture(configOf('mistral-window-f32'))).toThrow(ExportError);
    expect(() => ggufArchitecture(configOf('mistral-window-f32'))).toThrow(
      /layer 0 uses sliding-window attention \(window 4\), which llama\.cpp's "llama" does not do/,
    );
    expect(() => ggufArchitecture(configOf('qwen3-qknorm-bf16', { attention_bias: false }))).toThrow(
      /window 4\), which llama\.cpp's "qwen3"/,
    );
  });

  it('refuses Qwen3 attention biases, and the architectures it does not write, by name', () => {
    expect(() => ggufArchitecture(configOf('qwen3-qknorm-bf16', { use_sliding_window: false }))).toThrow(
      /attention_bias is true, and llama\.cpp's "qwen3" has no attention bias tensors/,
    );
    // config.json reads only architectures the writer has today, so one it lacks is put on a parsed config by hand:
    // what an architecture added to model/config.ts before its GGUF writer would meet.
    const phi = { ...configOf('llama-tied-f32'), architecture: 'PhiForCausalLM' as ModelConfig['architecture'] };
    expect(() => ggufArchitecture(phi)).toThrow(
      new ExportError(
        'config.json: webtune does not write GGUF for PhiForCausalLM yet (it writes LlamaForCausalLM, MistralForCausalLM, ' +
          'Qwen2ForCausalLM, Qwen3ForCausalLM, SmolLM3ForCausalLM, Gemma3ForCausalLM)',
      ),
    );
  });

  it('writes SmolLM3 as "smollm3" when its NoPE layers are llama.cpp\'s every 4th, and refuses another pattern by layer', () => {
    expect(ggufArchitecture(configOf('smollm3-nope-f16', { num_hidden_layers: 4, no_rope_layers: [1, 1, 1, 0] }))).toEqual({
      name: 'smollm3',
      permuteQK: true,
    });
    expect(() => ggufArchitecture(configOf('smollm3-nope-f16'))).toThrow(
      /layer 1 leaves out RoPE, and llama\.cpp's "smollm3" leaves it out of every 4th layer \(4, 8, \.\.\.\) only/,
    );
    expect(() =>
      ggufArchitecture(configOf('smollm3-nope-f16', { num_hidden_layers: 4, no_rope_layers: [1, 1, 1, 0], attention_bias: true })),
    ).toThrow(/attention_bias is true, and llama\.cpp's "smollm3" has no o_proj bias/);
  });

  it('writes Gemma 3 as "gemma3" with its sliding layers, and refuses what its llama.cpp twin computes differently', () => {
    expect(ggufArchitecture(configOf('gemma3-sandwich-bf16', { query_pre_attn_scalar: 16 })).name).toBe('gemma3');
    expect(() => ggufArchitecture(configOf('gemma3-sandwich-bf16'))).toThrow(
      /query_pre_attn_scalar is 24, and llama\.cpp's "gemma3" scales attention scores by 1\/sqrt\(head_dim\) = 1\/sqrt\(16\)/,
    );
    expect(() => ggufArchitecture(configOf('gemma3-sandwich-bf16', { query_pre_attn_scalar: 16, attention_bias: true }))).toThrow(
      /attention_bias is true, and llama\.cpp's "gemma3" has no o_proj bias/,
    );
    const names = ['input_layernorm', 'post_attention_layernorm', 'pre_feedforward_layernorm', 'post_feedforward_layernorm'];
    expect(names.map((n) => ggufTensorName(`model.layers.2.${n}.weight`, true))).toEqual([
      'blk.2.attn_norm.weight',
      'blk.2.post_attention_norm.weight',
      'blk.2.ffn_norm.weight',
      'blk.2.post_ffw_norm.weight',
    ]);
    expect(ggufTensorName('model.layers.2.post_attention_layernorm.weight')).toBe('blk.2.ffn_norm.weight');
  });
});
