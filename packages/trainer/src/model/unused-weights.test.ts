// Tensors a checkpoint holds and the model does not use are named, as transformers' "weights not used" warning names
// them, with transformers' exceptions (old per-layer rotary inv_freq buffers, a tied model's lm_head.weight).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES_DIR } from '../../test/hub-fixtures.ts';
import { expectedTensors, parseModelConfig } from './config.ts';
import { unusedTensors, unusedWeightsWarning } from './unused-weights.ts';

const config = (name: string) => parseModelConfig(readFileSync(join(FIXTURES_DIR, name, 'config.json'), 'utf8'));

describe('unusedTensors', () => {
  it('names what the model takes no weight from, sorted; a checkpoint of exactly the model has none', () => {
    const c = config('llama-gqa-bf16');
    const exact = [...expectedTensors(c).keys()];
    expect(unusedTensors(c, exact)).toEqual([]);
    expect(unusedTensors(c, [...exact, 'vision_tower.patch_embed.weight', 'model.layers.9.mlp.up_proj.weight', 'score.weight'])).toEqual([
      'model.layers.9.mlp.up_proj.weight',
      'score.weight',
      'vision_tower.patch_embed.weight',
    ]);
  });

  it('leaves out the per-layer rotary_emb.inv_freq of old checkpoints, and lm_head.weight only when tied', () => {
    const tied = config('llama-tied-f32');
    expect(tied.tieWordEmbeddings).toBe(true);
    const extras = ['model.layers.0.self_attn.rotary_emb.inv_freq', 'lm_head.weight'];
    expect(unusedTensors(tied, [...expectedTensors(tied).keys(), ...extras])).toEqual([]);
    // Untied, lm_head.weight is expected; a layer's inv_freq is still dropped by name.
    const untied = config('llama-gqa-bf16');
    expect(unusedTensors(untied, [...expectedTensors(untied).keys(), ...extras])).toEqual([]);
    expect(unusedTensors(untied, ['model.rotary_emb.inv_freq_scale'])).toEqual(['model.rotary_emb.inv_freq_scale']);
  });
});

describe('unusedWeightsWarning', () => {
  it('says nothing when all are used; else how many, the first 8 by name, and what it means', () => {
    expect(unusedWeightsWarning('LlamaForCausalLM', [])).toBeNull();
    expect(unusedWeightsWarning('LlamaForCausalLM', ['score.weight'])).toBe(
      '1 weight(s) of the checkpoint were not used when initializing LlamaForCausalLM: score.weight. They are left out, as ' +
        'transformers leaves them out; if you expected them to be used, the checkpoint is not the model its config.json describes.',
    );
    const many = Array.from({ length: 11 }, (_, i) => `extra.${i}`);
    expect(unusedWeightsWarning('Qwen3ForCausalLM', many)).toContain(
      '11 weight(s) of the checkpoint were not used when initializing Qwen3ForCausalLM: extra.0, extra.1, extra.2, extra.3, extra.4, extra.5, extra.6, extra.7, and 3 more.',
    );
  });
});
