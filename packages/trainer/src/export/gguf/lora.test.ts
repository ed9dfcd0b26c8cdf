// The GGUF LoRA writer's layout: tensors layer by layer in the model's module order, whatever order the adapter
// lists its tensors in (a trained adapter and the same one read back from its PEFT folder list them differently).
import { describe, expect, it } from 'vitest';
import { fileBytes } from '../files.ts';
import { FIXTURE_ROOT, loadAdapter, loadBase } from '../testing/node-fixtures.ts';
import { ggufLoraFile } from './lora.ts';

describe('GGUF LoRA', () => {
  it('writes the same file for the same adapter, whatever the order of its tensors', async () => {
    const { base } = await loadBase(`${FIXTURE_ROOT}/llama-gqa-bf16`);
    const adapter = loadAdapter(`${FIXTURE_ROOT}/llama-gqa-bf16/adapter`);
    const shuffled = { ...adapter, tensors: [...adapter.tensors].reverse() };
    const a = await fileBytes(ggufLoraFile(base.config, [adapter], { name: 'a' }));
    const b = await fileBytes(ggufLoraFile(base.config, [shuffled], { name: 'a' }));
    expect(Buffer.compare(a, b)).toBe(0);
    const names = [...new TextDecoder('latin1').decode(a).matchAll(/blk\.(\d+)\.(\w+)\.weight\.lora_a/g)].map((m) => `${m[1]}.${m[2]}`);
    expect(names.slice(0, 3)).toEqual(['0.attn_q', '0.attn_k', '0.attn_v']);
    expect(names.map((n) => Number(n.split('.')[0]))).toEqual([...names.map((n) => Number(n.split('.')[0]))].sort((x, y) => x - y));
  });

  it('refuses an adapter that does not fit the model, as the merge does: its q/k rows would be permuted by the wrong heads', async () => {
    const { base } = await loadBase(`${FIXTURE_ROOT}/llama-tied-f32`);
    const { base: gqa } = await loadBase(`${FIXTURE_ROOT}/llama-gqa-bf16`);
    const adapter = loadAdapter(`${FIXTURE_ROOT}/llama-gqa-bf16/adapter`);
    expect(() => ggufLoraFile(base.config, [adapter], { name: 'a' })).toThrow(
      /the base model's is \[out \d+, in \d+\]: the adapter is for another model/,
    );
    expect(() => ggufLoraFile({ ...gqa.config, numLayers: 1 }, [adapter], { name: 'a' })).toThrow(
      /adapter ".*": module model\.layers\.1\.\w+\.\w+ is beyond the model's 1 layers/,
    );
  });
});
