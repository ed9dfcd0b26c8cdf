// A load reads, converts and uploads one tensor at a time (the host never holds two, nor the whole file), and a load
// that fails part way names the tensor and leaves nothing on the GPU. Measured through an injected reader and a
// recording stand-in for the GPU: what is read when, and what was uploaded (and destroyed) before each read.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Gpu, Tensor as RealTensor, type Tensor } from '@webtune/kernels';
import { describe, expect, it } from 'vitest';
import { FIXTURES_DIR } from '../../test/hub-fixtures.ts';
import { parseModelConfig } from './config.ts';
import { SLOTS_BUFFER_BYTES } from './pool.ts';
import { parseSafetensors, writeSafetensors } from './safetensors.ts';
import { ModelSourceError } from './source.ts';
import { bytesWeightFile, bytesWeightFiles, type WeightFile } from './weight-file.ts';
import { packedViews, rowBlocks, uploadWeights } from './weights.ts';

const fixture = (name: string, file: string) => new Uint8Array(readFileSync(join(FIXTURES_DIR, name, file)));

/**
 * A stand-in Gpu that records uploads (label, the largest host buffer written to it) and destroys; only what
 * uploadWeights calls. A tensor counts as uploaded from its first write; `words` keeps what each tensor was given.
 */
function recordingGpu() {
  const uploads: { label: string; hostBytes: number }[] = [];
  const words = new Map<string, Uint8Array>();
  let live = 0;
  const tensor = (shape: number[], label: string, dtype = 'f32'): Tensor => {
    live++;
    let destroyed = false;
    const buffer = {
      destroy: () => {
        if (!destroyed) live--;
        destroyed = true;
      },
    };
    words.set(label, new Uint8Array(shape.reduce((a, b) => a * b, 1) * (dtype === 'f32' ? 4 : 2)));
    return { buffer, label, dtype } as unknown as Tensor;
  };
  const write = (t: Tensor, data: ArrayBufferView, elementOffset = 0) => {
    const seen = uploads.find((u) => u.label === t.label);
    if (seen) seen.hostBytes = Math.max(seen.hostBytes, data.byteLength);
    else uploads.push({ label: t.label, hostBytes: data.byteLength });
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    // A layer's tensors are views of one buffer (weights.ts packedViews): each is recorded by its own label.
    if (!words.has(t.label)) words.set(t.label, new Uint8Array(t.shape.reduce((a, b) => a * b, 1) * (t.dtype === 'f32' ? 4 : 2)));
    words.get(t.label)?.set(bytes, elementOffset * (t.dtype === 'f32' ? 4 : 2));
  };
  const gpu = {
    tensor,
    write,
    writeHalves: write,
    upload: (data: Float32Array, shape: number[], label: string) => {
      const t = tensor(shape, label);
      write(t, data);
      return t;
    },
    sync: async () => {},
  } as unknown as Gpu;
  return { gpu, uploads, words, live: () => live };
}

/** Wraps a file: logs every read (range, what for, uploads done before it); `failAt` makes the read of that tensor fail. */
function watchedFile(bytes: Uint8Array, uploadsSoFar: () => number, failAt?: string) {
  const reads: { begin: number; end: number; what: string; uploadsBefore: number }[] = [];
  const inner = bytesWeightFile(bytes);
  const file: WeightFile = {
    size: inner.size,
    async read(begin, end, what) {
      reads.push({ begin, end, what, uploadsBefore: uploadsSoFar() });
      if (failAt && what.includes(`"${failAt}"`))
        throw new ModelSourceError('network', `Could not read ${what} of model.safetensors: the connection dropped`, 'model.safetensors');
      // A fresh copy, as a real source returns: nothing aliases the caller's buffer.
      return (await inner.read(begin, end, what)).slice();
    },
  };
  return { file, reads };
}

describe('uploadWeights: one tensor at a time', () => {
  for (const name of ['llama-gqa-bf16', 'qwen2-bias-f16', 'llama-tied-f32']) {
    it(`${name}: each tensor is read once, whole, after the previous one was uploaded; no read exceeds the largest tensor`, async () => {
      const bytes = fixture(name, 'model.safetensors');
      const config = parseModelConfig(new TextDecoder().decode(fixture(name, 'config.json')));
      const { gpu, uploads } = recordingGpu();
      const { file, reads } = watchedFile(bytes, () => uploads.length);
      await uploadWeights(gpu, config, new Map([['model.safetensors', file]]));

      const parsed = parseSafetensors('model.safetensors', bytes);
      const tensorReads = reads.filter((r) => r.what.startsWith('tensor'));
      const headerReads = reads.filter((r) => r.what === 'the header');
      expect(headerReads.every((r) => r.end <= parsed.dataOffset)).toBe(true);
      // Every tensor's bytes, each exactly once: the data section read in tensor-sized pieces, never the whole file.
      const expected = [...parsed.tensors.values()].map((t) => `tensor "${t.name}"`).sort();
      expect(tensorReads.map((r) => r.what).sort()).toEqual(expected);
      const largest = Math.max(...[...parsed.tensors.values()].map((t) => t.end - t.begin));
      expect(Math.max(...reads.map((r) => r.end - r.begin))).toBe(largest);
      expect(largest).toBeLessThan(bytes.length / 2);
      // The k-th tensor is read only once the k-1 before it are on the GPU: one tensor's bytes in host memory at a time.
      expect(tensorReads.map((r) => r.uploadsBefore)).toEqual(tensorReads.map((_, k) => k));
      // Host buffers handed to the GPU: the tensor's bytes, or twice them for a half widened to float32 (a norm).
      const hostPeak = Math.max(...uploads.filter((u) => !u.label.startsWith('rope')).map((u) => u.hostBytes));
      expect(hostPeak).toBeLessThanOrEqual(2 * largest);
    });
  }

  it('a read that fails part way names the tensor, and every tensor uploaded before it is destroyed', async () => {
    const bytes = fixture('llama-gqa-bf16', 'model.safetensors');
    const config = parseModelConfig(new TextDecoder().decode(fixture('llama-gqa-bf16', 'config.json')));
    const { gpu, uploads, live } = recordingGpu();
    const { file } = watchedFile(bytes, () => uploads.length, 'model.layers.1.mlp.up_proj.weight');
    await expect(uploadWeights(gpu, config, new Map([['model.safetensors', file]]))).rejects.toThrow(
      'Could not read tensor "model.layers.1.mlp.up_proj.weight" of model.safetensors: the connection dropped',
    );
    expect(uploads.length).toBeGreaterThan(5);
    expect(live()).toBe(0);
  });

  it('a NaN in a late tensor is refused by name, and nothing stays uploaded', async () => {
    const name = 'llama-gqa-bf16';
    const bytes = fixture(name, 'model.safetensors').slice();
    const parsed = parseSafetensors('model.safetensors', bytes);
    const target = parsed.tensors.get('model.layers.1.self_attn.o_proj.weight')!;
    // bf16 NaN (0x7fc0), little-endian, as the tensor's 4th element.
    bytes.set([0xc0, 0x7f], parsed.dataOffset + target.begin + 6);
    const config = parseModelConfig(new TextDecoder().decode(fixture(name, 'config.json')));
    const { gpu, uploads, live } = recordingGpu();
    await expect(uploadWeights(gpu, config, new Map([['model.safetensors', bytesWeightFile(bytes)]]))).rejects.toThrow(
      'model.safetensors: tensor "model.layers.1.self_attn.o_proj.weight": holds NaN at element 3 of',
    );
    expect(uploads.length).toBeGreaterThan(5);
    expect(live()).toBe(0);
  });

  it('a file cut short after its header is refused by the header check before anything is uploaded', async () => {
    const bytes = fixture('llama-gqa-bf16', 'model.safetensors');
    const config = parseModelConfig(new TextDecoder().decode(fixture('llama-gqa-bf16', 'config.json')));
    const { gpu, uploads } = recordingGpu();
    const cut = bytesWeightFile(bytes.subarray(0, bytes.length - 100));
    await expect(uploadWeights(gpu, config, new Map([['model.safetensors', cut]]))).rejects.toThrow(
      /^model\.safetensors: tensor ".*": its bytes \d+\.\.\d+ run past the end of the \d+-byte data section: the file looks truncated/,
    );
    expect(uploads.length).toBe(0);
  });

  it('a tensor in two shards is refused naming both, before anything is uploaded', async () => {
    const bytes = fixture('llama-gqa-bf16', 'model.safetensors');
    const config = parseModelConfig(new TextDecoder().decode(fixture('llama-gqa-bf16', 'config.json')));
    const { gpu, uploads } = recordingGpu();
    const shards = new Map([
      ['model-00001-of-00002.safetensors', bytesWeightFile(bytes)],
      ['model-00002-of-00002.safetensors', bytesWeightFile(bytes)],
    ]);
    await expect(uploadWeights(gpu, config, shards)).rejects.toThrow(
      /^model-00002-of-00002\.safetensors: tensor ".*": is in model-00001-of-00002\.safetensors too: a tensor belongs to one shard; the checkpoint is corrupt: download the model again, or remove the stray shard$/,
    );
    expect(uploads.length).toBe(0);
  });

  it('tensors the model does not use are listed (weights.unused), neither read nor uploaded', async () => {
    const name = 'llama-gqa-bf16';
    const config = parseModelConfig(new TextDecoder().decode(fixture(name, 'config.json')));
    const extra = writeSafetensors([
      { name: 'vision_tower.patch_embed.weight', shape: [2, 2], data: new Float32Array(4) },
      { name: 'model.layers.0.self_attn.rotary_emb.inv_freq', shape: [2], data: new Float32Array(2) },
    ]);
    const { gpu, uploads } = recordingGpu();
    const files = bytesWeightFiles(
      new Map([
        ['model.safetensors', fixture(name, 'model.safetensors')],
        ['extra.safetensors', extra],
      ]),
    );
    const weights = await uploadWeights(gpu, config, files);
    expect(weights.unused).toEqual(['vision_tower.patch_embed.weight']);
    expect(uploads.map((u) => u.label)).not.toContain('vision_tower.patch_embed.weight');
  });

  for (const name of ['llama-gqa-bf16', 'llama-tied-f32']) {
    it(`${name}: a matrix past the block size is read and uploaded a block of rows at a time, each byte once, unchanged`, async () => {
      const bytes = fixture(name, 'model.safetensors');
      const config = parseModelConfig(new TextDecoder().decode(fixture(name, 'config.json')));
      const parsed = parseSafetensors('model.safetensors', bytes);
      const matrices = [...parsed.tensors.values()].filter((t) => t.shape.length === 2);
      const blockBytes = 8 * Math.max(...matrices.map((t) => (t.end - t.begin) / t.shape[0])); // eight rows of the widest
      const { gpu, uploads, words } = recordingGpu();
      const { file, reads } = watchedFile(bytes, () => uploads.length);
      await uploadWeights(gpu, config, new Map([['model.safetensors', file]]), blockBytes);

      for (const t of matrices) {
        const mine = reads.filter((r) => r.what === `tensor "${t.name}"`);
        expect(Math.max(...mine.map((r) => r.end - r.begin))).toBeLessThanOrEqual(blockBytes);
        // The blocks tile the tensor in order, and the GPU was given exactly the file's bytes.
        const edges = [parsed.dataOffset + t.begin, ...mine.map((r) => r.end)];
        expect(mine.map((r) => [r.begin, r.end])).toEqual(mine.map((_, k) => [edges[k], edges[k + 1]]));
        expect(edges.at(-1)).toBe(parsed.dataOffset + t.end);
        const given = Buffer.from(words.get(t.name) ?? []);
        expect(given.equals(bytes.subarray(parsed.dataOffset + t.begin, parsed.dataOffset + t.end)), t.name).toBe(true);
      }
      expect(reads.filter((r) => r.what === 'tensor "model.embed_tokens.weight"').length).toBeGreaterThan(1);
    });
  }

  it('a NaN in a late block of a matrix is refused naming its element in the whole tensor', async () => {
    const name = 'llama-gqa-bf16';
    const bytes = fixture(name, 'model.safetensors').slice();
    const parsed = parseSafetensors('model.safetensors', bytes);
    const target = parsed.tensors.get('model.embed_tokens.weight')!;
    const count = (target.end - target.begin) / 2;
    bytes.set([0xc0, 0x7f], parsed.dataOffset + target.end - 2); // bf16 NaN as the last element
    const config = parseModelConfig(new TextDecoder().decode(fixture(name, 'config.json')));
    const { gpu, live } = recordingGpu();
    const rowBytes = (target.end - target.begin) / target.shape[0];
    await expect(uploadWeights(gpu, config, new Map([['model.safetensors', bytesWeightFile(bytes)]]), rowBytes)).rejects.toThrow(
      `model.safetensors: tensor "model.embed_tokens.weight": holds NaN at element ${count - 1} of ${count} (1 non-finite in all)`,
    );
    expect(live()).toBe(0);
  });
});

describe('rowBlocks', () => {
  it('splits rows into blocks of at most blockBytes, one row at least, an even count of rows when a row is odd', () => {
    expect(rowBlocks([4, 4], 2, 1000)).toEqual([[0, 4]]);
    expect(rowBlocks([5, 4], 2, 16)).toEqual([
      [0, 2],
      [2, 4],
      [4, 5],
    ]);
    expect(rowBlocks([3, 4], 4, 1)).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
    ]);
    // 3 halves a row: one row would end mid-word, so two rows (12 bytes) even past a 6-byte block.
    expect(rowBlocks([5, 3], 2, 6)).toEqual([
      [0, 2],
      [2, 4],
      [4, 5],
    ]);
    expect(rowBlocks([5, 3], 2, 18)).toEqual([
      [0, 2],
      [2, 4],
      [4, 5],
    ]);
  });
});

describe('packedViews: a layer in one buffer', () => {
  /** Records the buffers made: their size and label. */
  const sizingGpu = () => {
    const made: { bytes: number; label: string }[] = [];
    const gpu = {
      tensor: (shape: number[], label: string) => {
        made.push({ bytes: shape[0] * 4, label });
        return new RealTensor({ size: shape[0] * 4 } as GPUBuffer, shape, 'f32', label);
      },
    } as unknown as Gpu;
    return { gpu, made };
  };

  it("lays a layer's tensors end to end, each on a binding boundary and at its own bytes, in one buffer", () => {
    const { gpu, made } = sizingGpu();
    const specs = [
      { name: 'q', shape: [576, 576], dtype: 'bf16' as const }, // 663,552 B: a whole number of 256s
      { name: 'norm', shape: [3], dtype: 'f32' as const }, // 12 B: a slot of 256
      { name: 'k', shape: [3, 5], dtype: 'bf16' as const }, // 30 B of halves: a slot of 256
    ];
    const { tensors, buffers } = packedViews(gpu, 'model.layers.0', specs);
    expect(made).toEqual([{ bytes: 663_552 + 256 + 256, label: 'model.layers.0' }]);
    expect(buffers).toHaveLength(1);
    expect(tensors.map((t) => [t.label, t.byteOffset, t.dtype, t.shape])).toEqual([
      ['q', 0, 'bf16', [576, 576]],
      ['norm', 663_552, 'f32', [3]],
      ['k', 663_552 + 256, 'bf16', [3, 5]],
    ]);
    for (const t of tensors) expect(t.buffer).toBe(buffers[0].buffer);
  });

  it('starts another buffer where SLOTS_BUFFER_BYTES would be passed; a larger tensor has one of its own', () => {
    const { gpu, made } = sizingGpu();
    const mib = (n: number) => ({ name: `${n} MiB`, shape: [n * 1024 * 256], dtype: 'f32' as const });
    const { tensors } = packedViews(gpu, 'L', [mib(200), mib(56), mib(1), mib(300), mib(2)]);
    expect(SLOTS_BUFFER_BYTES).toBe(256 << 20);
    expect(made.map((m) => [m.label, m.bytes >> 20])).toEqual([
      ['L (1 of 4)', 256],
      ['L (2 of 4)', 1],
      ['L (3 of 4)', 300],
      ['L (4 of 4)', 2],
    ]);
    expect(tensors.map((t) => t.byteOffset >> 20)).toEqual([0, 200, 0, 0, 0]);
  });
});
