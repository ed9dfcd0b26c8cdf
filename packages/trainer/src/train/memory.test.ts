import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../model/config.ts';
import { logitsChunkRows } from '../model/head.ts';
import { estimateMemory } from './memory.ts';

// Qwen/Qwen3-0.6B's sizes: 28 layers, hidden 1024, 16 / 8 heads of 128, vocabulary 151,936, tied.
const QWEN3_06B = parseModelConfig({
  architectures: ['Qwen3ForCausalLM'],
  head_dim: 128,
  hidden_size: 1024,
  intermediate_size: 3072,
  num_attention_heads: 16,
  num_hidden_layers: 28,
  num_key_value_heads: 8,
  tie_word_embeddings: true,
  vocab_size: 151936,
});
const run = (maxLength: number) => ({
  method: 'sft' as const,
  batchSize: 1,
  maxLength,
  lora: { r: 8, targetModules: ['q_proj', 'v_proj'] },
});

describe('estimateMemory', () => {
  it('counts one chunk of logits (64 rows at this vocabulary), not [N, V]', () => {
    const V = QWEN3_06B.vocabSize;
    expect(logitsChunkRows(V)).toBe(64);
    const doubled = { ...QWEN3_06B, vocabSize: 2 * V };
    const [a, b] = [estimateMemory(QWEN3_06B, 6e8, run(1024)), estimateMemory(doubled, 6e8, run(1024))];
    expect(b.activations - a.activations).toBe(64 * V * 4); // not 1024 * V * 4
    // Shorter than a chunk: all rows at once.
    const [c, d] = [estimateMemory(QWEN3_06B, 6e8, run(40)), estimateMemory(doubled, 6e8, run(40))];
    expect(d.activations - c.activations).toBe(40 * V * 4);
  });

  it("counts Qwen3's q/k norm activations", () => {
    const noNorm = { ...QWEN3_06B, qkNorm: false };
    const [a, b] = [estimateMemory(QWEN3_06B, 6e8, run(256)), estimateMemory(noNorm, 6e8, run(256))];
    const c = QWEN3_06B;
    const kept = 256 * (c.numHeads * c.headDim + c.numKvHeads * c.headDim + c.numHeads + c.numKvHeads);
    const scratch = 256 * (c.numHeads + c.numKvHeads) * c.headDim;
    expect(a.activations - b.activations).toBe((c.numLayers * kept + scratch) * 4);
  });
});
