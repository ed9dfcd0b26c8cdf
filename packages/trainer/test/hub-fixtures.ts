// Node side of src/model/source.gpu.test.ts: Hub-layout mocks over the fixture checkpoints, for the GPU test page server.
// Repos (revision "main" only), all under the prefix '/__hub' of the page's origin:
//   webtune-test/llama-gqa-bf16, llama-tied-f32, qwen2-bias-f16   the fixture folders as they are
//   webtune-test/gated-llama        llama-tied-f32, 401 without "Authorization: Bearer ..."
//   webtune-test/truncated-llama    llama-tied-f32, bodies cut off halfway (Content-Length promises the whole file)
//   webtune-test/llama-sharded      llama-tied-f32 split into model.safetensors.index.json + 2 shards (made here)
//   webtune-test/no-tokenizer       config.json + weights + tokenizer_config.json, no tokenizer.json (made here)
//   webtune-test/bin-only           config + tokenizer + pytorch_model.bin only (made here)
// and the same repos slowed down (50 ms per 16 KiB chunk) under '/__hub-slow', and cross-origin on a standalone
// server whose endpoint GET /__hub-standalone returns as {"url": ...}. The made-up folders live in a temp dir.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type HubMockOptions, hubMock } from '@webtune/harness';
import type { PluginOption } from 'vite';
import { parseSafetensors } from '../src/model/safetensors.ts';

export const FIXTURES_DIR = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** Splits a safetensors file into `n` valid files (tensors in on-disk order, original dtypes and bytes kept). */
export function shardSafetensors(bytes: Uint8Array, n: number, name = (i: number) => `model-${pad(i + 1)}-of-${pad(n)}.safetensors`) {
  const parsed = parseSafetensors('model.safetensors', bytes);
  const tensors = [...parsed.tensors.values()];
  const per = Math.ceil(tensors.length / n);
  const shards: { file: string; bytes: Uint8Array }[] = [];
  const weightMap: Record<string, string> = {};
  for (let i = 0; i < n; i++) {
    const group = tensors.slice(i * per, (i + 1) * per);
    const file = name(i);
    const entries = [`"__metadata__":${JSON.stringify({ format: 'pt' })}`];
    let offset = 0;
    for (const t of group) {
      entries.push(
        `${JSON.stringify(t.name)}:${JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.end - t.begin] })}`,
      );
      offset += t.end - t.begin;
      weightMap[t.name] = file;
    }
    const json = new TextEncoder().encode(`{${entries.join(',')}}`);
    const headerLen = Math.ceil(json.length / 8) * 8;
    const out = new Uint8Array(8 + headerLen + offset).fill(0x20, 8, 8 + headerLen);
    new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
    out.set(json, 8);
    let at = 8 + headerLen;
    for (const t of group) {
      out.set(bytes.subarray(parsed.dataOffset + t.begin, parsed.dataOffset + t.end), at);
      at += t.end - t.begin;
    }
    shards.push({ file, bytes: out });
  }
  const total = tensors.reduce((s, t) => s + t.end - t.begin, 0);
  const index = JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2);
  return { shards, index };
}

function pad(i: number): string {
  return String(i).padStart(5, '0');
}

/** The made-up repos, written into a fresh temp dir. */
function makeRepos(dir: string): Record<string, string> {
  const src = join(FIXTURES_DIR, 'llama-tied-f32');
  const copy = (to: string, files: string[]) => {
    mkdirSync(to, { recursive: true });
    for (const f of files) copyFileSync(join(src, f), join(to, f));
  };
  const sharded = join(dir, 'llama-sharded');
  copy(sharded, ['config.json', 'tokenizer.json', 'tokenizer_config.json']);
  const { shards, index } = shardSafetensors(readFileSync(join(src, 'model.safetensors')), 2);
  for (const s of shards) writeFileSync(join(sharded, s.file), s.bytes);
  writeFileSync(join(sharded, 'model.safetensors.index.json'), index);

  const noTokenizer = join(dir, 'no-tokenizer');
  copy(noTokenizer, ['config.json', 'tokenizer_config.json', 'model.safetensors']);

  const binOnly = join(dir, 'bin-only');
  copy(binOnly, ['config.json', 'tokenizer.json', 'tokenizer_config.json']);
  writeFileSync(join(binOnly, 'pytorch_model.bin'), 'not a real pickle: only its name matters');
  return { 'webtune-test/llama-sharded': sharded, 'webtune-test/no-tokenizer': noTokenizer, 'webtune-test/bin-only': binOnly };
}

/** The mock's options for every repo above; the made-up folders are written into `dir`. */
export function hubTestOptions(dir: string): HubMockOptions {
  return {
    root: FIXTURES_DIR,
    repos: {
      'webtune-test/llama-gqa-bf16': 'llama-gqa-bf16',
      'webtune-test/llama-tied-f32': 'llama-tied-f32',
      'webtune-test/qwen2-bias-f16': 'qwen2-bias-f16',
      'webtune-test/gated-llama': 'llama-tied-f32',
      'webtune-test/truncated-llama': 'llama-tied-f32',
      ...makeRepos(dir),
    },
    gated: ['webtune-test/gated-llama'],
    truncated: ['webtune-test/truncated-llama'],
  };
}

/** Plugins for the GPU test page server, and a cleanup to call when the run is over. */
export async function hubTestPlugins(): Promise<{ plugins: PluginOption[]; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'webtune-hub-'));
  const options = hubTestOptions(dir);
  const standalone = await hubMock(options).listen();
  const info: PluginOption = {
    name: 'webtune-hub-standalone-url',
    configureServer(server) {
      server.middlewares.use('/__hub-standalone', (_req, res) => {
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ url: standalone.url }));
      });
    },
  };
  return {
    plugins: [hubMock(options), hubMock({ ...options, prefix: '/__hub-slow', latencyMs: 50, chunkBytes: 16 * 1024 }), info],
    async close() {
      await standalone.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
