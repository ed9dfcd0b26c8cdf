// streamExport: an export reaches <out> a chunk at a time, and a write that fails is the error the user sees (named by
// <out>), not the page's echo of it; with OutputFolder around it, nothing is left behind.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PageError } from '@webtune/harness';
import type { ExportChunk } from '@webtune/trainer';
import { afterAll, describe, expect, it } from 'vitest';
import type { Engine } from '../engine.ts';
import { OutputFolder } from '../out-dir.ts';
import { streamExport } from './shared.ts';

const root = mkdtempSync(join(tmpdir(), 'webtune-stream-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * The engine's exportModel as the page runs it: each chunk awaited by the Node callback in turn; a callback that throws
 * fails the page's call, which comes back as a PageError (engine.ts).
 */
function pageSending(chunks: ExportChunk[], pageFailure?: string): Pick<Engine, 'stream'> {
  const stream = async (_method: string, _args: unknown[], onEvent: (chunk: ExportChunk) => unknown) => {
    for (const chunk of chunks) {
      try {
        await onEvent(chunk);
      } catch (err) {
        throw new PageError(`the export's client failed: ${(err as Error).message}`, 'Error', '');
      }
    }
    if (pageFailure) throw new PageError(pageFailure, 'ExportError', '');
    return [];
  };
  return { stream } as unknown as Pick<Engine, 'stream'>;
}

const bytes = (...values: number[]) => new Uint8Array(values);
const request = { format: 'peft', adapterId: 'a1', stacked: false } as const;

describe('streamExport', () => {
  it('writes each chunk as it comes, files in order', async () => {
    const out = OutputFolder.check(join(root, 'ok'));
    out.add('metrics.jsonl', '{"step":1}\n');
    const chunks = [
      { file: 'adapter_model.safetensors', data: bytes(1, 2) },
      { file: 'adapter_model.safetensors', data: bytes(3) },
      { file: 'adapter_config.json', data: bytes(123, 125) },
    ];
    await out.commitStreamed((append) => streamExport(pageSending(chunks), request, out, append));
    expect(readdirSync(out.path).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'metrics.jsonl']);
    expect([...readFileSync(join(out.path, 'adapter_model.safetensors'))]).toEqual([1, 2, 3]);
    expect(readFileSync(join(out.path, 'adapter_config.json'), 'utf8')).toBe('{}');
  });

  it('a write that fails is the error, named by <out>, and leaves no folder', async () => {
    const out = OutputFolder.check(join(root, 'full'));
    const chunks = [
      { file: 'adapter_model.safetensors', data: bytes(1) },
      { file: 'adapter_model.safetensors', data: bytes(2) },
    ];
    let writes = 0;
    const failing = pageSending(chunks);
    const run = out.commitStreamed((append) =>
      streamExport(failing, request, out, (file, data) => {
        if (++writes === 2) throw new Error('ENOSPC: no space left on device, write');
        append(file, data);
      }),
    );
    await expect(run).rejects.toThrow(`could not write ${out.arg}: ENOSPC: no space left on device, write; nothing was written`);
    expect(existsSync(out.path)).toBe(false);
    expect(readdirSync(root).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it("the page's own failure passes through as it came", async () => {
    const out = OutputFolder.check(join(root, 'refused'));
    const run = out.commitStreamed((append) =>
      streamExport(pageSending([{ file: 'x', data: bytes(1) }], 'the adapter a1 is not on the shelf'), request, out, append),
    );
    await expect(run).rejects.toThrow(new PageError('the adapter a1 is not on the shelf', 'ExportError', ''));
    expect(existsSync(out.path)).toBe(false);
  });
});
