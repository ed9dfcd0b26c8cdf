// The merged model against the float64 PyTorch goldens (test/fixtures): merged weights, written as safetensors and
// read back, give the golden base+LoRA logits; bf16/f16 writes are exactly the rounded float32 merge.
import { describe, expect, it } from 'vitest';
import { LLAMA_QWEN2_FIXTURES } from '../../test/fixtures.ts';
import { parseSafetensors, tensorToFloat32 } from '../model/safetensors.ts';
import { toBf16Bits, toF16Bits } from './dtype.ts';
import { ExportError, fileBytes } from './files.ts';
import { mergedModelFiles } from './hf-folder.ts';
import { mergeAdapters, openCheckpointBytes, rowBlocks } from './merge.ts';
import { safetensorsFiles } from './safetensors-out.ts';
import { forward64, inMemory, type Weights } from './testing/forward64.ts';
import { FIXTURE_ROOT, loadAdapter, loadBase, loadGolden, readFolder } from './testing/node-fixtures.ts';

/** Max |a - e| / (atol + rtol |e|) over the real tokens of the golden batch: <= 1 passes. */
function logitsError(name: string, weights: Weights) {
  const { golden, tensors } = loadGolden(name);
  const want = tensors.get('logits_lora')?.data as Float32Array;
  const V = weights.config.vocabSize;
  const T = golden.inputs.input_ids[0].length;
  let worst = 0;
  for (const [b, row] of golden.inputs.input_ids.entries()) {
    const n = golden.inputs.attention_mask[b].reduce((a, m) => a + m, 0);
    const logits = forward64(weights, row.slice(0, n));
    for (let t = 0; t < n; t++)
      for (let v = 0; v < V; v++) {
        const e = want[(b * T + t) * V + v];
        worst = Math.max(worst, Math.abs(logits[t][v] - e) / (1e-5 + 1e-5 * Math.abs(e)));
      }
  }
  return worst;
}

// A float64 forward in JavaScript per golden row: CPU-bound, seconds on a busy 2-core machine (vitest's default is 5 s).
describe('merged model', { timeout: 30_000 }, () => {
  // forward64 does Qwen3's q/k norms, Mistral's and Qwen3's sliding windows, SmolLM3's NoPE layers and Gemma 3.
  for (const name of [...LLAMA_QWEN2_FIXTURES, 'qwen3-qknorm-bf16', 'mistral-window-f32', 'smollm3-nope-f16', 'gemma3-sandwich-bf16']) {
    it(`${name}: merged f32 safetensors, read back, give the golden base+LoRA logits`, async () => {
      const { base } = await loadBase(`${FIXTURE_ROOT}/${name}`);
      const merged = mergeAdapters(base, [loadAdapter(`${FIXTURE_ROOT}/${name}/adapter`)]);
      const [file] = safetensorsFiles(merged, 'F32');
      const bytes = await fileBytes(file);
      const reloaded = await openCheckpointBytes(JSON.stringify(base.configJson), new Map([['model.safetensors', bytes]]));
      for (const t of base.tensors) expect(await reloaded.read(t.name)).toEqual(await merged.read(t.name));
      expect(logitsError(name, await inMemory(reloaded))).toBeLessThanOrEqual(1);
    });
  }

  // Gemma 3 multiplies embeddings by sqrt(hidden_size) rounded to the weights' dtype (model/arch/gemma3.ts). The merged
  // folder in the base's dtype keeps the base's scale; a float32 folder of a bf16 base says float32, and transformers
  // (and webtune) then scale by sqrt(48) = 6.9282 rather than bf16's 6.9375: the only change, 0.0104 at most on
  // logits up to 26.7 for this fixture (its weights read with the base's config match the golden to 1e-5, above).
  it('gemma3-sandwich-bf16: the merged folder keeps the base config but for torch_dtype, and so the embedding scale', async () => {
    const { base, files } = await loadBase(`${FIXTURE_ROOT}/gemma3-sandwich-bf16`);
    const adapter = loadAdapter(`${FIXTURE_ROOT}/gemma3-sandwich-bf16/adapter`);
    for (const [dtype, scale] of [
      [undefined, 6.9375],
      ['F32', Math.fround(Math.sqrt(48))],
    ] as const) {
      const out = mergedModelFiles(base, files, [adapter], { baseModel: 'gemma3', dtype });
      const config = new TextDecoder().decode(await fileBytes(out.find((f) => f.name === 'config.json')!));
      const reloaded = await openCheckpointBytes(
        config,
        new Map([['model.safetensors', await fileBytes(out.find((f) => f.name === 'model.safetensors')!)]]),
      );
      expect({ ...reloaded.config, embedScale: 0, torchDtype: null }).toEqual({ ...base.config, embedScale: 0, torchDtype: null });
      expect(reloaded.config.embedScale).toBe(scale);
    }
  });

  it('bf16 and f16 writes are the float32 merge rounded to nearest even, tensor by tensor', async () => {
    const { base } = await loadBase(`${FIXTURE_ROOT}/llama-gqa-bf16`);
    const merged = mergeAdapters(base, [loadAdapter(`${FIXTURE_ROOT}/llama-gqa-bf16/adapter`)]);
    for (const [dtype, bits] of [['BF16', toBf16Bits] as const, ['F16', toF16Bits] as const]) {
      const bytes = await fileBytes(safetensorsFiles(merged, dtype)[0]);
      const parsed = parseSafetensors('model.safetensors', bytes);
      for (const t of base.tensors) {
        const info = parsed.tensors.get(t.name)!;
        expect(info.dtype).toBe(dtype);
        const raw = new Uint16Array(bytes.slice(parsed.dataOffset + info.begin, parsed.dataOffset + info.end).buffer);
        expect(Array.from(raw)).toEqual(Array.from(await merged.read(t.name), bits));
        expect(tensorToFloat32('m', bytes, parsed.dataOffset, info).length).toBe(raw.length);
      }
    }
  });

  it('the merge of an unmerged base layer is bit for bit the base (tensors the adapter does not target)', async () => {
    const { base } = await loadBase(`${FIXTURE_ROOT}/llama-tied-f32`);
    const merged = mergeAdapters(base, [loadAdapter(`${FIXTURE_ROOT}/llama-tied-f32/adapter`)]); // targets q, v only
    const [k, q] = ['model.layers.0.self_attn.k_proj.weight', 'model.layers.0.self_attn.q_proj.weight'];
    expect(await merged.read(k)).toEqual(await base.read(k));
    expect(await merged.read(q)).not.toEqual(await base.read(q));
  });

  it('reads (and merges) a tensor a block of rows at a time exactly as whole', async () => {
    const { base } = await loadBase(`${FIXTURE_ROOT}/qwen2-bias-f16`);
    const merged = mergeAdapters(base, [loadAdapter(`${FIXTURE_ROOT}/qwen2-bias-f16/adapter`)]);
    for (const t of merged.tensors) {
      const blocks = rowBlocks(t.shape, 100); // a few rows each (at least one), vectors in pieces
      if (t.shape.length === 2) expect(blocks.length, t.name).toBeGreaterThan(1);
      const parts = await Promise.all(blocks.map((rows) => merged.read(t.name, rows)));
      const whole = await merged.read(t.name);
      expect(Float32Array.from(parts.flatMap((p) => Array.from(p))), t.name).toEqual(whole);
    }
    expect(rowBlocks([10, 7], 21)).toEqual([
      [0, 3],
      [3, 6],
      [6, 9],
      [9, 10],
    ]);
    expect(rowBlocks([4, 1000], 10)).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
      [3, 4],
    ]);
  });

  it('shards past maxShardBytes as save_pretrained does, with an index whose weight_map covers every tensor', async () => {
    const { base, files } = await loadBase(`${FIXTURE_ROOT}/qwen2-bias-f16`);
    const adapter = loadAdapter(`${FIXTURE_ROOT}/qwen2-bias-f16/adapter`);
    const out = mergedModelFiles(base, files, [adapter], { baseModel: 'qwen2-bias-f16', maxShardBytes: 40_000 });
    const names = out.map((f) => f.name);
    const shards = names.filter((n) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(n));
    expect(shards.length).toBeGreaterThan(1);
    expect(names).toEqual(
      expect.arrayContaining(['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'README.md']),
    );
    const index = JSON.parse(new TextDecoder().decode(await fileBytes(out.find((f) => f.name === 'model.safetensors.index.json')!)));
    expect(Object.keys(index.weight_map).sort()).toEqual(base.tensors.map((t) => t.name).sort());
    const shardBytes = new Map(
      await Promise.all(out.filter((f) => shards.includes(f.name)).map(async (f) => [f.name, await fileBytes(f)] as const)),
    );
    const reloaded = await openCheckpointBytes(new TextDecoder().decode(await fileBytes(out[0])), shardBytes);
    let total = 0;
    for (const [n, b] of shardBytes) {
      const p = parseSafetensors(n, b);
      for (const info of p.tensors.values()) total += info.end - info.begin;
      expect(b.length).toBeLessThanOrEqual(40_000 + 8 + 4096); // data within the limit, plus its header
    }
    expect(index.metadata.total_size).toBe(total);
    expect(reloaded.tensors.every((t) => t.dtype === 'F16')).toBe(true); // the base's dtype by default
    const config = JSON.parse(new TextDecoder().decode(await fileBytes(out[0])));
    expect(config.torch_dtype).toBe('float16');
    const card = new TextDecoder().decode(await fileBytes(out.find((f) => f.name === 'README.md')!));
    expect(card).toContain('base_model: qwen2-bias-f16');
    expect(card).toContain('| learning_rate | 0.0002 |');
    expect(card).toContain('| loss | 1.5 |');
  });

  it('refuses a checkpoint whose tensor has another shape than its config.json implies, naming the file, tensor and both shapes', async () => {
    // llama-tied-f32's weights under a config.json whose MLP is wider (intermediate_size 64, the weights' 48).
    const files = readFolder(`${FIXTURE_ROOT}/llama-tied-f32`);
    const config = { ...JSON.parse(new TextDecoder().decode(files.get('config.json'))), intermediate_size: 64 };
    const weights = new Map([['model.safetensors', files.get('model.safetensors')!]]);
    await expect(openCheckpointBytes(JSON.stringify(config), weights)).rejects.toThrow(
      new ExportError('model.safetensors: tensor "model.layers.0.mlp.gate_proj.weight" has shape [48,32], config.json implies [64,32]'),
    );
  });

  it('refuses a sharded checkpoint with a shard left out, naming the files and the first 4 missing tensors', async () => {
    const { base } = await loadBase(`${FIXTURE_ROOT}/llama-tied-f32`);
    const out = safetensorsFiles(base, 'F32', 40_000);
    const shards = out.filter((f) => f.name.endsWith('.safetensors'));
    expect(shards.map((f) => f.name).at(-1)).toBe('model-00003-of-00003.safetensors');
    const kept = new Map(await Promise.all(shards.slice(0, -1).map(async (f) => [f.name, await fileBytes(f)] as const)));
    await expect(openCheckpointBytes(JSON.stringify(base.configJson), kept)).rejects.toThrow(
      new ExportError(
        'model-00001-of-00003.safetensors, model-00002-of-00003.safetensors: missing 8 tensor(s) the config calls for: ' +
          'model.layers.1.self_attn.k_proj.weight, model.layers.1.self_attn.v_proj.weight, model.layers.1.self_attn.o_proj.weight, ' +
          'model.layers.1.post_attention_layernorm.weight',
      ),
    );
  });

  it('refuses an adapter for another model, naming the module and both shapes', async () => {
    const { base } = await loadBase(`${FIXTURE_ROOT}/llama-tied-f32`);
    expect(() => mergeAdapters(base, [loadAdapter(`${FIXTURE_ROOT}/llama-gqa-bf16/adapter`)])).toThrow(
      /module model\.layers\.0\.mlp\.down_proj is \[out 64, in 88\], the base model's is \[out 32, in 48\]: the adapter is for another model/,
    );
  });
});
