// Fingerprints name contents, not ids: the DPO reference cache must tell two checkpoints apart whenever their weights,
// config or tokenizer differ by one byte, and must find a checkpoint again whatever it is called or however it is cut.
import { describe, expect, it } from 'vitest';
import type { AdapterRecord } from '../store/db.ts';
import { adapterFingerprint, type ModelContent, modelFingerprint } from './fingerprint.ts';
import { bytesWeightFiles } from './weight-file.ts';

function model(weights: number[] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]): ModelContent {
  return {
    config: '{"architectures":["LlamaForCausalLM"]}',
    tokenizerJson: '{"model":{}}',
    tokenizerConfig: '{"eos_token":"</s>"}',
    safetensors: bytesWeightFiles(new Map([['model.safetensors', Uint8Array.from(weights)]])),
  };
}

describe('modelFingerprint', () => {
  it('is the same for the same files, also when they are hashed in pieces', async () => {
    const whole = await modelFingerprint(model());
    expect(whole).toMatch(/^[0-9a-f]{64}$/);
    expect(await modelFingerprint(model())).toBe(whole);
    // 3-byte pieces (10 bytes: 4 pieces, the last one short). The piece size is a constant of the format: hashes
    // made with another one are a different fingerprint of the same files.
    expect(await modelFingerprint(model(), 3)).toBe(await modelFingerprint(model(), 3));
    expect(await modelFingerprint(model(), 3)).not.toBe(whole);
  });

  it('changes with one weight byte anywhere, also in a later chunk', async () => {
    const base = await modelFingerprint(model(), 4);
    const changed = model([1, 2, 3, 4, 5, 6, 7, 8, 9, 11]);
    expect(await modelFingerprint(changed, 4)).not.toBe(base);
  });

  it('changes with the config, either tokenizer file, a shard name or a shard split', async () => {
    const base = await modelFingerprint(model());
    const variants: ModelContent[] = [
      { ...model(), config: '{"architectures":["Qwen2ForCausalLM"]}' },
      { ...model(), tokenizerJson: '{"model":{"x":1}}' },
      { ...model(), tokenizerConfig: '{"eos_token":"<|im_end|>"}' },
      {
        ...model(),
        safetensors: bytesWeightFiles(new Map([['model-00001-of-00001.safetensors', Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])]])),
      },
      {
        ...model(),
        safetensors: bytesWeightFiles(
          new Map([
            ['a.safetensors', Uint8Array.from([1, 2, 3, 4, 5])],
            ['b.safetensors', Uint8Array.from([6, 7, 8, 9, 10])],
          ]),
        ),
      },
    ];
    const all = await Promise.all(variants.map((v) => modelFingerprint(v)));
    expect(new Set([base, ...all]).size).toBe(variants.length + 1);
  });

  it('does not depend on the order the shards are listed in', async () => {
    const a = new Map([
      ['a.safetensors', Uint8Array.from([1])],
      ['b.safetensors', Uint8Array.from([2])],
    ]);
    const b = new Map([...a].reverse());
    expect(await modelFingerprint({ ...model(), safetensors: bytesWeightFiles(a) })).toBe(
      await modelFingerprint({ ...model(), safetensors: bytesWeightFiles(b) }),
    );
  });
});

describe('adapterFingerprint', () => {
  const record = (data = [0.5, -1], lora: Partial<AdapterRecord['lora']> = {}): Pick<AdapterRecord, 'lora' | 'tensors'> => ({
    lora: { r: 1, alpha: 2, dropout: 0.05, targetModules: ['q_proj', 'v_proj'], useRslora: false, ...lora },
    tensors: [
      { name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', shape: [1, 2], data: Float32Array.from(data) },
      { name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight', shape: [2, 1], data: Float32Array.from([3, 4]) },
    ],
  });

  it('is the same for the same contents (dropout and tensor order apart), and differs for no adapter', async () => {
    const a = await adapterFingerprint([record()]);
    const reordered = record();
    reordered.tensors.reverse();
    expect(await adapterFingerprint([reordered])).toBe(a);
    expect(await adapterFingerprint([record(undefined, { dropout: 0.2, targetModules: ['v_proj', 'q_proj'] })])).toBe(a);
    expect(await adapterFingerprint([])).not.toBe(a);
  });

  it('changes with a value, the scale (r, alpha, rsLoRA), a target, or the order of the stack', async () => {
    const base = await adapterFingerprint([record()]);
    const variants = await Promise.all([
      adapterFingerprint([record([0.5, -1.0000001])]),
      adapterFingerprint([record(undefined, { alpha: 4 })]),
      adapterFingerprint([record(undefined, { r: 2 })]),
      adapterFingerprint([record(undefined, { useRslora: true })]),
      adapterFingerprint([record(undefined, { targetModules: ['q_proj'] })]),
      adapterFingerprint([record(), record([1, 1])]),
      adapterFingerprint([record([1, 1]), record()]),
    ]);
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
  });
});
