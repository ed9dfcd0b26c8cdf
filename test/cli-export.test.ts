// `pnpm cli export` in every format, on the tiny Llama fixture and its PEFT adapter: what the CLI writes through the
// page (the trainer's exportModel, streamed chunk by chunk into <out>) is byte for byte what the export writers give
// in Node for the same model and adapter, and those writers are checked against llama.cpp (export/gguf/
// llama-cpp.test.ts) and the PyTorch goldens (export/merge.test.ts). Refusals name the reason and write nothing.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileBytes } from '../packages/trainer/src/export/files.ts';
import { ggufLoraFile } from '../packages/trainer/src/export/gguf/lora.ts';
import { ggufModelFile } from '../packages/trainer/src/export/gguf/model.ts';
import { mergeAdapters } from '../packages/trainer/src/export/merge.ts';
import { safetensorsFiles } from '../packages/trainer/src/export/safetensors-out.ts';
import { loadAdapter, loadBase } from '../packages/trainer/src/export/testing/node-fixtures.ts';
import { unzip } from '../packages/trainer/src/store/zip.ts';
import {
  expectOk,
  expectRejection,
  expectUsageError,
  FIXTURES,
  LLAMA,
  readJson,
  SFT_ROWS,
  type Workspace,
  workspace,
} from './support/workspace.ts';

const HAS_UNZIP = spawnSync('unzip', ['-v'], { stdio: 'ignore' }).status === 0;
if (!HAS_UNZIP) process.stderr.write('SKIPPED cli-export.test.ts `unzip -t` of the Ollama zip: no unzip on PATH\n');

const ws: Workspace = workspace();
afterAll(() => ws.remove());

const ADAPTER = join(LLAMA, 'adapter');
const { base, files } = await loadBase(LLAMA);
const merged = mergeAdapters(base, [loadAdapter(ADAPTER)]);
const text = (n: string) => JSON.parse(new TextDecoder().decode(files.get(n)));
const tokenizer = { json: text('tokenizer.json'), config: text('tokenizer_config.json') };
/** general.name as the service writes it: the model's id (its folder's name) and the adapter's name (as given). */
const NAME = `llama-gqa-bf16 + ${ADAPTER}`;

const exportTo = (out: string, ...args: string[]) => ws.run(['export', '--model', LLAMA, '--adapter', ADAPTER, '--out', out, ...args]);
const bytesOf = (path: string) => new Uint8Array(readFileSync(path));

describe('cli export', () => {
  it('peft: the adapter folder, tensors as imported', async () => {
    const out = ws.path('peft');
    expectOk(await exportTo(out, '--format', 'peft'));
    expect(readdirSync(out).sort()).toEqual(['README.md', 'adapter_config.json', 'adapter_model.safetensors', 'training_config.json']);
    const [got, want] = [loadAdapter(out), loadAdapter(ADAPTER)];
    expect(got.lora).toEqual(want.lora);
    expect(got.tensors).toEqual(want.tensors);
  });

  it('merged --dtype bf16 --max-shard-size 40000B: shards and index as the Node writer gives them', async () => {
    const out = ws.path('merged');
    const r = await exportTo(out, '--format', 'merged', '--dtype', 'bf16', '--max-shard-size', '40000B');
    expectOk(r);
    const want = safetensorsFiles(merged, 'BF16', 40_000);
    expect(want.length).toBeGreaterThan(2); // shards and an index
    for (const f of want) expect(bytesOf(join(out, f.name)), f.name).toEqual(await fileBytes(f));
    expect(readJson(join(out, 'config.json')).torch_dtype).toBe('bfloat16');
    for (const name of ['generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'README.md'])
      expect(existsSync(join(out, name)), name).toBe(true);
    expect(r.stderr).toMatch(/export merged: \d+ files/);
  });

  for (const dtype of ['f16', 'q8_0'] as const) {
    it(`gguf --dtype ${dtype}: the Node writer's file, byte for byte`, async () => {
      const out = ws.path(`gguf-${dtype}`);
      expectOk(await exportTo(out, '--format', 'gguf', '--dtype', dtype));
      const type = dtype === 'f16' ? 'F16' : 'Q8_0';
      expect(bytesOf(join(out, 'model.gguf'))).toEqual(await fileBytes(ggufModelFile(merged, { type, name: NAME, tokenizer })));
    });
  }

  it("gguf-lora: the Node writer's adapter, byte for byte", async () => {
    const out = ws.path('gguf-lora');
    expectOk(await exportTo(out, '--format', 'gguf-lora'));
    const want = await fileBytes(ggufLoraFile(base.config, [loadAdapter(ADAPTER)], { name: NAME }));
    expect(bytesOf(join(out, 'adapter.gguf'))).toEqual(want);
  });

  it('ollama --dtype q8_0 --out bundle.zip: one zip of the Q8_0 GGUF, a Modelfile (chatml template, stops), the README', async () => {
    const out = join(ws.path('ollama'), 'bundle.zip');
    expectOk(await exportTo(out, '--format', 'ollama', '--dtype', 'q8_0'));
    expect(readdirSync(ws.path('ollama'))).toEqual(['bundle.zip']); // no partial file beside it
    const files = unzip(bytesOf(out));
    expect([...files.keys()]).toEqual(['bundle/model.gguf', 'bundle/Modelfile', 'bundle/README.md']);
    const gguf = await fileBytes(ggufModelFile(merged, { type: 'Q8_0', name: NAME, tokenizer }));
    expect(files.get('bundle/model.gguf')).toEqual(gguf);
    const modelfile = new TextDecoder().decode(files.get('bundle/Modelfile'));
    expect(modelfile).toContain('FROM ./model.gguf\n');
    expect(modelfile).toContain('{{- range .Messages }}<|im_start|>{{ .Role }}');
    expect(modelfile).toContain('PARAMETER stop "<|im_end|>"\n');
    expect(new TextDecoder().decode(files.get('bundle/README.md'))).toMatch(/ollama create \S+ -f Modelfile\nollama run \S+\n/);
    if (HAS_UNZIP) expect(execFileSync('unzip', ['-t', out], { encoding: 'utf8' })).toMatch(/No errors detected/);
  });

  it('trl-run --data: the rows as used, config.yaml in TRL names, accelerate config, the adapter, the command', async () => {
    // The fixture adapter with the training_config.json `train` writes beside it.
    const adapter = ws.path('adapter-with-run');
    mkdirSync(adapter);
    for (const f of readdirSync(ADAPTER)) copyFileSync(join(ADAPTER, f), join(adapter, f));
    const run = {
      trainer: 'SFTTrainer',
      model_name_or_path: 'llama-gqa-bf16',
      dataset: 'sft.jsonl',
      learning_rate: 0.001,
      max_length: 64,
      save_minutes: 10,
      peft_config: { peft_type: 'LORA', r: 4, lora_alpha: 8, lora_dropout: 0, target_modules: ['q_proj', 'v_proj'], use_rslora: false },
    };
    writeFileSync(join(adapter, 'training_config.json'), JSON.stringify(run));
    const data = ws.jsonl('sft.jsonl', SFT_ROWS);
    const out = ws.path('trl-run');
    const r = await ws.run(['export', '--model', LLAMA, '--adapter', adapter, '--format', 'trl-run', '--data', data, '--out', out]);
    expectOk(r);
    expect(readdirSync(out).sort()).toEqual(['README.md', 'accelerate_config.yaml', 'adapter', 'config.yaml', 'train.jsonl']);
    expect(readFileSync(join(out, 'train.jsonl'), 'utf8')).toBe(readFileSync(data, 'utf8'));
    const config = readFileSync(join(out, 'config.yaml'), 'utf8');
    expect(config).toContain('model_name_or_path: "llama-gqa-bf16"\nlearning_rate: 0.001\nmax_length: 64\n');
    expect(config).toContain('datasets:\n  - path: "json"\n    data_files: "train.jsonl"\n');
    expect(config).toContain('use_peft: true\nlora_r: 4\nlora_alpha: 8\n');
    expect(config).not.toMatch(/save_minutes|peft_config|trainer:/);
    expect(readdirSync(join(out, 'adapter')).sort()).toEqual([
      'README.md',
      'adapter_config.json',
      'adapter_model.safetensors',
      'training_config.json',
    ]);
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain('trl sft --config config.yaml');
  });

  it('refuses a GGUF llama.cpp would run differently, naming the layer and the reason, and writes nothing', async () => {
    const out = ws.path('smollm3-gguf');
    const r = await ws.run(['export', '--model', join(FIXTURES, 'smollm3-nope-f16'), '--format', 'gguf', '--out', out]);
    expectRejection(r, 'export', 1, /layer 1 leaves out RoPE, and llama\.cpp's "smollm3" leaves it out of every 4th layer/);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses flags that cannot work before the browser starts', async () => {
    expectUsageError(await exportTo(ws.path('x'), '--format', 'onnx'), 'export', /--format must be one of peft, merged, gguf/);
    expectUsageError(await exportTo(ws.path('x'), '--format', 'gguf', '--dtype', 'q4'), 'export', /--dtype must be f32, f16, bf16 or q8_0/);
    expectUsageError(
      await ws.run(['export', '--model', LLAMA, '--format', 'gguf-lora', '--out', ws.path('x')]),
      'export',
      /exports an adapter: give --adapter/,
    );
    expectUsageError(await exportTo(ws.path('peft'), '--format', 'peft'), 'export', /already holds .*--overwrite/);
    expectUsageError(
      await exportTo(join(ws.path('ollama'), 'bundle.zip'), '--format', 'ollama'),
      'export',
      /bundle\.zip exists: give --overwrite/,
    );
    expectUsageError(await exportTo(ws.path('.zip'), '--format', 'ollama'), 'export', /name the archive \(bundle\.zip\)/);
    expect(existsSync(ws.path('x'))).toBe(false);
  });
});
