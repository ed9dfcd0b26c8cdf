// The export service's refusals of a request, made before any model file is read or any byte written. The formats
// themselves are tested beside their writers (export/) and through the CLI (test/cli-export.test.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ModelExportRequest } from '../api.ts';
import { ExportError, fileBytes } from '../export/files.ts';
import { FIXTURE_ROOT } from '../export/testing/node-fixtures.ts';
import { type ExportContext, exportFiles } from './export.ts';

/** A context with no adapter records: what these refusals need of one. */
const context = {
  loaded: { id: 'tiny', model: { config: {} }, source: null },
  shelf: { chain: async () => [] },
  datasets: {},
} as unknown as ExportContext;
const request = (r: Partial<ModelExportRequest>): ModelExportRequest => ({ format: 'peft', adapterId: 'a1', ...r });

describe('export service refusals', () => {
  it('a dtype for an adapter format that keeps float32 (peft, trl-run)', async () => {
    for (const format of ['peft', 'trl-run'] as const)
      await expect(exportFiles(context, request({ format, dtype: 'BF16' }))).rejects.toThrow(
        `dtype is not for ${format}: its adapter is written in F32, as PEFT saves one; leave dtype out`,
      );
  });

  it("Q8_0 for a format that is not a GGUF model (gguf-lora's adapter is float)", async () => {
    await expect(exportFiles(context, request({ format: 'gguf-lora', dtype: 'Q8_0' }))).rejects.toThrow(
      'dtype Q8_0 is for GGUF models (gguf, ollama); gguf-lora is written in F32, F16 or BF16',
    );
  });

  it('an adapter format with no adapter', async () => {
    for (const format of ['peft', 'gguf-lora', 'trl-run'] as const)
      await expect(exportFiles(context, request({ format, adapterId: null }))).rejects.toThrow(
        `the ${format} export is of an adapter: choose one (the base model alone has none)`,
      );
  });
});

/** The context with llama-gqa-bf16's config, tokenizer and weights as the loaded model's files (folder "m"). */
function filesContext(extra: [string, string][] = []): ExportContext {
  const dir = join(FIXTURE_ROOT, 'llama-gqa-bf16');
  const files = new Map<string, Blob>(
    readdirSync(dir)
      .filter((f) => /\.(json|safetensors)$/.test(f))
      .map((f) => [`m/${f}`, new Blob([readFileSync(join(dir, f))])]),
  );
  for (const [name, text] of extra) files.set(`m/${name}`, new Blob([text]));
  return { ...context, loaded: { id: 'tiny', source: { kind: 'files', files, id: 'm' }, cache: false } } as unknown as ExportContext;
}

describe('merged export of the base', () => {
  it("copies the base's generation_config.json and special_tokens_map.json as they are, as save_pretrained would", async () => {
    // Qwen2.5-Instruct's kind: two end ids and sampling defaults that config.json does not hold.
    const generation = '{\n  "eos_token_id": [297, 2],\n  "temperature": 0.7,\n  "top_p": 0.8\n}\n';
    const loaded = filesContext([
      ['generation_config.json', generation],
      ['special_tokens_map.json', '{"eos_token": "</s>"}'],
    ]);
    const out = await exportFiles(loaded, request({ format: 'merged', adapterId: null }));
    const text = async (name: string) => {
      const f = out.find((x) => x.name === name);
      return f ? new TextDecoder().decode(await fileBytes(f)) : undefined;
    };
    expect(await text('generation_config.json')).toBe(generation);
    expect(await text('special_tokens_map.json')).toBe('{"eos_token": "</s>"}');
  });

  it('refuses a zip folder name that is a path (/ or \\) or . or .., as it cannot name the folder inside the archive', async () => {
    const loaded = filesContext();
    const zip = await exportFiles(loaded, request({ format: 'merged', adapterId: null, zip: 'tiny-merged' }));
    expect(zip.map((f) => f.name)).toEqual(['tiny-merged.zip']);
    for (const folder of ['a/b', 'a\\b', '.', '..'])
      await expect(exportFiles(loaded, request({ format: 'merged', adapterId: null, zip: folder }))).rejects.toThrow(
        new ExportError(`zip: "${folder}" cannot name the folder inside the archive: give a name without / or \\`),
      );
  });
});
