// Streaming an export: chunks in file order, none past EXPORT_CHUNK_BYTES, each awaited; a chunk the client fails
// to write stops the export there with the client's error.
import { describe, expect, it } from 'vitest';
import type { ExportChunk } from '../api.ts';
import { bytesFile } from '../export/files.ts';
import { EXPORT_CHUNK_BYTES, streamExport } from './export.ts';

const big = new Uint8Array(EXPORT_CHUNK_BYTES * 2 + 5).map((_, i) => i % 251);

describe('streamExport', () => {
  it('sends every file in order, in chunks of at most EXPORT_CHUNK_BYTES', async () => {
    const got: ExportChunk[] = [];
    await streamExport([bytesFile('a.bin', big), bytesFile('b.txt', 'hi')], async (c) => {
      got.push({ file: c.file, data: c.data.slice() });
    });
    expect(got.map((c) => [c.file, c.data.length])).toEqual([
      ['a.bin', EXPORT_CHUNK_BYTES],
      ['a.bin', EXPORT_CHUNK_BYTES],
      ['a.bin', 5],
      ['b.txt', 2],
    ]);
    const a = new Uint8Array(big.length);
    let at = 0;
    for (const c of got.filter((c) => c.file === 'a.bin')) {
      a.set(c.data, at);
      at += c.data.length;
    }
    expect(Buffer.compare(a, big), 'the chunks put back together are the file').toBe(0);
  });

  it('sends chunks that own their buffer (posted to the page, a view would carry the whole buffer with it)', async () => {
    const sizes: [number, number][] = [];
    const block = new Uint8Array(EXPORT_CHUNK_BYTES * 3).subarray(8, 8 + EXPORT_CHUNK_BYTES + 10);
    await streamExport([{ name: 'a.bin', size: block.length, write: (sink) => Promise.resolve(sink.write(block)) }], (c) => {
      sizes.push([c.data.length, c.data.buffer.byteLength]);
    });
    expect(sizes).toEqual([
      [EXPORT_CHUNK_BYTES, EXPORT_CHUNK_BYTES],
      [10, 10],
    ]);
  });

  it('stops at the first chunk the client fails to write, with its error', async () => {
    const seen: string[] = [];
    const failing = async (c: ExportChunk) => {
      seen.push(c.file);
      if (seen.length === 2) throw Object.assign(new Error('The disk is full.'), { name: 'QuotaExceededError' });
    };
    await expect(streamExport([bytesFile('a.bin', big), bytesFile('b.txt', 'hi')], failing)).rejects.toThrow('The disk is full.');
    expect(seen).toEqual(['a.bin', 'a.bin']);
  });
});
