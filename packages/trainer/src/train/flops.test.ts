import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../model/config.ts';
import { loraStepFlops } from './flops.ts';

// hidden 4, 2 heads of 2 (1 key/value head), MLP 6, vocab 10, 1 layer.
const config = parseModelConfig({
  architectures: ['LlamaForCausalLM'],
  hidden_size: 4,
  intermediate_size: 6,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  vocab_size: 10,
});

describe('loraStepFlops', () => {
  // Counted by hand for 1 sequence of 3 tokens, multiply-adds per token: q 4x4, k 4x2, v 4x2, o 4x4, gate 4x6,
  // up 4x6, down 6x4 = 120; head 4x10 = 40; attention per head QKᵀ 3x2 and PV 3x2 = 12, two heads: 24.
  const attention = 2 * 3 * 24;
  const forward = 2 * 3 * (120 + 40) + attention;
  it('counts a forward pass', () => {
    expect(loraStepFlops(config, { sequences: 1, length: 3, lora: { r: 1, targetModules: [] }, backward: false })).toBe(forward);
  });

  it('adds the adapters (twice over in the backward) and the backward of the frozen base (once)', () => {
    // q_proj with r = 1: A 4x1 and B 1x4, per token 4 + 4 multiply-adds.
    const adapter = 2 * 3 * (4 + 4);
    const flops = loraStepFlops(config, { sequences: 1, length: 3, lora: { r: 1, targetModules: ['q_proj'] }, backward: true });
    expect(flops).toBe(forward + adapter + (2 * 3 * (120 + 40) + 2 * adapter + 2 * attention));
  });

  it("counts the layers' forward a second time with gradient checkpointing, less the down projection, not the LM head's", () => {
    // down 6x4 = 24 multiply-adds a token, and with LoRA on down_proj (r = 1) its B term 1x4 = 4: not recomputed.
    const shape = { sequences: 1, length: 3, lora: { r: 1, targetModules: ['q_proj', 'down_proj'] }, backward: true };
    const adapter = 2 * 3 * (4 + 4 + 6 + 4);
    const layers = 2 * 3 * (120 - 24) + adapter - 2 * 3 * 4 + attention;
    expect(loraStepFlops(config, { ...shape, recompute: true }) - loraStepFlops(config, shape)).toBe(layers);
  });

  it('counts the down projection again with sandwich norms (Gemma 3), whose backward reads its output', () => {
    const gemma = { ...config, sandwichNorms: true };
    const shape = { sequences: 1, length: 3, lora: { r: 1, targetModules: ['q_proj'] }, backward: true };
    const layers = 2 * 3 * 120 + 2 * 3 * (4 + 4) + attention;
    expect(loraStepFlops(gemma, { ...shape, recompute: true }) - loraStepFlops(gemma, shape)).toBe(layers);
  });

  it('grows with the square of the length only in attention', () => {
    const at = (length: number) =>
      loraStepFlops(config, { sequences: 2, length, lora: { r: 4, targetModules: ['v_proj'] }, backward: true });
    expect(at(8) - 2 * at(4)).toBeGreaterThan(0);
    // Attention: 2 sequences x length² x 2 heads x head dim 2, two matmuls, 2 FLOPs each; forward and 2x backward.
    const onlyLinear = (length: number) => at(length) - 3 * (2 * 2 * 2 * length * length * 2 * 2);
    expect(onlyLinear(8)).toBeCloseTo(2 * onlyLinear(4), 6);
  });
});
