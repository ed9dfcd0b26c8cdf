// What the "gemma3" GGUF refuses beyond what model.test.ts covers: layers that llama.cpp's one window and one local
// RoPE base per model cannot express. config.json as webtune reads it today gives every sliding layer the same
// window and the local base (model/arch/gemma3.ts), so the layers are edited on the parsed config, as a reader of
// another layout could give them.
import { describe, expect, it } from 'vitest';
import { type LayerAttention, parseModelConfig } from '../../model/config.ts';
import { ExportError } from '../files.ts';
import type { Checkpoint } from '../merge.ts';
import { FIXTURE_ROOT, loadBase } from '../testing/node-fixtures.ts';
import { ggufArchitecture, ggufModelFile } from './model.ts';

/** The gemma3-sandwich-bf16 fixture as llama.cpp can run it (query_pre_attn_scalar = head_dim), its layers replaced. */
async function gemma3With(layers?: LayerAttention[]) {
  const { base, files } = await loadBase(`${FIXTURE_ROOT}/gemma3-sandwich-bf16`);
  const config = parseModelConfig({ ...base.configJson, query_pre_attn_scalar: 16 });
  const model: Checkpoint = { ...base, config: layers ? { ...config, layers } : config };
  const text = (n: string) => JSON.parse(new TextDecoder().decode(files.get(n)));
  return { model, tokenizer: { json: text('tokenizer.json'), config: text('tokenizer_config.json') } };
}

describe('gemma3 GGUF refusals', () => {
  it('refuses sliding layers with different windows (llama.cpp\'s "gemma3" has one)', async () => {
    const { model, tokenizer } = await gemma3With();
    // The fixture as it is: layer 0 slides over 4 keys, layer 1 attends to everything.
    expect(model.config.layers).toEqual([
      { rope: true, window: 4, localRope: true },
      { rope: true, window: null },
    ]);
    expect(ggufModelFile(model, { type: 'F32', name: 'g', tokenizer }).name).toBe('model.gguf');
    const both = await gemma3With([
      { rope: true, window: 4, localRope: true },
      { rope: true, window: 8, localRope: true },
    ]);
    expect(() => ggufModelFile(both.model, { type: 'F32', name: 'g', tokenizer })).toThrow(
      new ExportError('config.json: the sliding layers have different windows, and llama.cpp\'s "gemma3" has one'),
    );
  });

  it('refuses a sliding layer on rope_theta, and a full one on rope_local_base_freq, naming the layer', async () => {
    const tail =
      'and llama.cpp\'s "gemma3" ties the local RoPE base to the sliding window: a GGUF would answer differently. Export the merged model (safetensors) instead';
    const slidingGlobal = await gemma3With([
      { rope: true, window: 4, localRope: false },
      { rope: true, window: null },
    ]);
    expect(() => ggufArchitecture(slidingGlobal.model.config)).toThrow(
      new ExportError(`config.json: layer 0 slides but rotates with rope_theta, ${tail}`),
    );
    const fullLocal = await gemma3With([
      { rope: true, window: 4, localRope: true },
      { rope: true, window: null, localRope: true },
    ]);
    expect(() => ggufArchitecture(fullLocal.model.config)).toThrow(
      new ExportError(`config.json: layer 1 attends to everything but rotates with rope_local_base_freq, ${tail}`),
    );
  });
});
