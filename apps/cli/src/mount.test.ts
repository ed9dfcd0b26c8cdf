// The CLI's folder server answers the page's Range requests, so a checkpoint is read a tensor at a time.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localMounts } from './mount.ts';

describe('localMounts', () => {
  let dir: string;
  let server: Server;
  let base: string;
  const bytes = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'webtune-mount-test-'));
    writeFileSync(join(dir, 'model.safetensors'), bytes);
    const handler = localMounts({ model: dir });
    server = createServer((req, res) => {
      if (handler(req, res)) return;
      res.statusCode = 418;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}/__local/model/`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the whole file without Range, and one range with 206 and Content-Range', async () => {
    const whole = await fetch(`${base}model.safetensors`);
    expect([whole.status, whole.headers.get('accept-ranges')]).toEqual([200, 'bytes']);
    expect(new Uint8Array(await whole.arrayBuffer())).toEqual(bytes);
    const part = await fetch(`${base}model.safetensors`, { headers: { Range: 'bytes=10-19' } });
    expect([part.status, part.headers.get('content-range')]).toEqual([206, 'bytes 10-19/1000']);
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(bytes.subarray(10, 20));
    const tail = await fetch(`${base}model.safetensors`, { headers: { Range: 'bytes=990-' } });
    expect(new Uint8Array(await tail.arrayBuffer())).toEqual(bytes.subarray(990));
  });

  it('answers 416 for a range past the end, and 404 for a missing file', async () => {
    const past = await fetch(`${base}model.safetensors`, { headers: { Range: 'bytes=1000-1010' } });
    expect([past.status, past.headers.get('content-range')]).toEqual([416, 'bytes */1000']);
    expect((await fetch(`${base}nope.json`)).status).toBe(404);
  });

  it('leaves a path outside /__local/<mounted name>/ to the next handler', async () => {
    expect((await fetch(new URL('/__local/other/model.safetensors', base))).status).toBe(418);
    expect((await fetch(new URL('/apps/cli/page/index.html', base))).status).toBe(418);
  });
});
