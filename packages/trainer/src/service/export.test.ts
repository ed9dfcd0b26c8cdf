// The export service's refusals of a request, made before any model file is read or any byte written. The formats
// themselves are tested beside their writers (export/) and through the CLI (test/cli-export.test.ts).
import { describe, expect, it } from 'vitest';
import type { ModelExportRequest } from '../api.ts';
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
