// The Hub mock over raw HTTP (node:http, so paths reach it exactly as written, "..", "%2e%2e" and all), standalone
// and mounted in the vite page server.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HubMockOptions, type HubMockServer, hubMock } from './hub-mock.ts';
import { startServer } from './server.ts';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The connection broke before the body was complete. */
  aborted: boolean;
}

function http(base: string, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method: options.method ?? 'GET', headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      let aborted = false;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('aborted', () => {
        aborted = true;
      });
      res.on('error', () => {
        aborted = true;
      });
      res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), aborted }));
    });
    req.on('error', reject);
    req.end();
  });
}

const CONFIG = '{"model_type": "llama"}';
const WEIGHTS = Buffer.alloc(200_000, 7);

describe('hubMock', () => {
  let dir: string;
  let options: HubMockOptions;
  let hub: HubMockServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'webtune-hub-mock-test-'));
    mkdirSync(join(dir, 'root', 'tiny', 'sub'), { recursive: true });
    writeFileSync(join(dir, 'root', 'tiny', 'config.json'), CONFIG);
    writeFileSync(join(dir, 'root', 'tiny', 'model.safetensors'), WEIGHTS);
    writeFileSync(join(dir, 'root', 'tiny', 'sub', 'a b.txt'), 'spaced');
    writeFileSync(join(dir, 'root', 'secret.txt'), 'outside the repo');
    writeFileSync(join(dir, 'secret-outside-root.txt'), 'outside the root');
    symlinkSync(join(dir, 'secret-outside-root.txt'), join(dir, 'root', 'tiny', 'link.txt'));
    options = {
      root: join(dir, 'root'),
      repos: { 'org/tiny': 'tiny', 'org/gated': 'tiny', 'org/cut': 'tiny' },
      gated: ['org/gated'],
      truncated: ['org/cut'],
    };
    hub = await hubMock(options).listen();
  });
  afterAll(async () => {
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('listens on 127.0.0.1 and returns the endpoint without a trailing slash', () => {
    expect(hub.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('serves GET /{repo}/resolve/main/{path} with Content-Length, a content type and CORS headers', async () => {
    const r = await http(hub.url, '/org/tiny/resolve/main/config.json');
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe(CONFIG);
    expect(r.headers['content-length']).toBe(String(CONFIG.length));
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(r.headers['access-control-allow-origin']).toBe('*');
    const w = await http(hub.url, '/org/tiny/resolve/main/model.safetensors');
    expect([w.status, w.headers['content-length'], w.headers['content-type']]).toEqual([200, '200000', 'application/octet-stream']);
    expect(w.body.equals(WEIGHTS)).toBe(true);
    const spaced = await http(hub.url, '/org/tiny/resolve/main/sub/a%20b.txt');
    expect([spaced.status, spaced.body.toString()]).toEqual([200, 'spaced']);
  });

  it('answers HEAD with the headers only, and OPTIONS (preflight) allowing Authorization', async () => {
    const head = await http(hub.url, '/org/tiny/resolve/main/model.safetensors', { method: 'HEAD' });
    expect([head.status, head.headers['content-length'], head.body.length]).toEqual([200, '200000', 0]);
    const pre = await http(hub.url, '/org/gated/resolve/main/config.json', {
      method: 'OPTIONS',
      headers: { Origin: 'http://127.0.0.1:1', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('*');
    expect(String(pre.headers['access-control-allow-headers'])).toMatch(/\bAuthorization\b/);
    expect(String(pre.headers['access-control-allow-methods'])).toMatch(/\bGET\b/);
    expect(String(pre.headers['access-control-expose-headers'])).toMatch(/X-Error-Code/);
  });

  it("404s with the Hub's JSON body and X-Error-Code: unknown repo, missing file, directory, other revision", async () => {
    const cases: [string, string, string][] = [
      ['/org/nope/resolve/main/config.json', 'Repository not found', 'RepoNotFound'],
      ['/org/tiny/resolve/main/tokenizer.json', 'Entry not found', 'EntryNotFound'],
      ['/org/tiny/resolve/main/sub', 'Entry not found', 'EntryNotFound'],
      ['/org/tiny/resolve/v1.0/config.json', 'Invalid rev id: v1.0', 'RevisionNotFound'],
      ['/org/tiny/resolve/refs%2Fpr%2F1/config.json', 'Invalid rev id: refs/pr/1', 'RevisionNotFound'],
    ];
    for (const [path, error, code] of cases) {
      const r = await http(hub.url, path);
      expect([path, r.status, JSON.parse(r.body.toString()), r.headers['x-error-code']]).toEqual([path, 404, { error }, code]);
      expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(r.headers['access-control-allow-origin']).toBe('*');
    }
    const other = await http(hub.url, '/api/models/org/tiny');
    expect(other.status).toBe(404);
  });

  it('401s a gated repo unless "Authorization: Bearer <anything>" is sent', async () => {
    const path = '/org/gated/resolve/main/config.json';
    for (const headers of [
      {} as Record<string, string>,
      { Authorization: 'Basic abc' },
      { Authorization: 'Bearer' },
      { Authorization: 'Bearer ' },
    ]) {
      const r = await http(hub.url, path, { headers });
      expect([r.status, r.headers['x-error-code']]).toEqual([401, 'GatedRepo']);
      expect(JSON.parse(r.body.toString()).error).toMatch(/^Access to model org\/gated is restricted/);
    }
    const ok = await http(hub.url, path, { headers: { Authorization: 'Bearer hf_anything' } });
    expect([ok.status, ok.body.toString()]).toEqual([200, CONFIG]);
    // An unknown repo is a 404 whether or not a token is sent.
    expect((await http(hub.url, '/org/nope/resolve/main/config.json', { headers: { Authorization: 'Bearer x' } })).status).toBe(404);
  });

  it('refuses path traversal, raw or encoded, and symlinks out of the repo folder', async () => {
    for (const path of [
      '/org/tiny/resolve/main/../secret.txt',
      '/org/tiny/resolve/main/../../secret-outside-root.txt',
      '/org/tiny/resolve/main/%2e%2e/secret.txt',
      '/org/tiny/resolve/main/%2E%2E%2Fsecret.txt',
      '/org/tiny/resolve/main/sub/..%2F..%2Fsecret.txt',
      '/org/tiny/resolve/main/..%5Csecret.txt',
      '/org/tiny/resolve/main/./config.json',
      '/org/tiny/resolve/main//etc/passwd',
      '/org/tiny/resolve/main/%00config.json',
    ]) {
      const r = await http(hub.url, path);
      expect([path, r.status, JSON.parse(r.body.toString())]).toEqual([
        path,
        400,
        { error: 'Invalid path: path traversal is not allowed' },
      ]);
    }
    const bad = await http(hub.url, '/org/tiny/resolve/main/%E0%A4%A');
    expect(bad.status).toBe(400);
    const link = await http(hub.url, '/org/tiny/resolve/main/link.txt');
    expect([link.status, link.body.toString()]).toEqual([404, '{"error":"Entry not found"}']);
  });

  it('405s other methods', async () => {
    const r = await http(hub.url, '/org/tiny/resolve/main/config.json', { method: 'POST' });
    expect([r.status, r.headers.allow]).toEqual([405, 'GET, HEAD, OPTIONS']);
  });

  it('truncated repos announce the whole file and drop the connection halfway', async () => {
    const r = await http(hub.url, '/org/cut/resolve/main/model.safetensors');
    expect([r.status, r.headers['content-length'], r.aborted]).toEqual([200, '200000', true]);
    expect(r.body.length).toBe(100_000);
  });

  it('latencyMs delays the response and each chunk', async () => {
    const slow = await hubMock({ ...options, latencyMs: 40, chunkBytes: 64 * 1024 }).listen();
    try {
      const t0 = performance.now();
      const r = await http(slow.url, '/org/tiny/resolve/main/model.safetensors');
      const ms = performance.now() - t0;
      expect(r.body.equals(WEIGHTS)).toBe(true);
      // 200 000 bytes = 4 chunks: 40 ms before the head and before each of chunks 2..4.
      expect(ms).toBeGreaterThanOrEqual(150);
    } finally {
      await slow.close();
    }
  });

  it('refuses options naming gated or truncated repos it does not serve', () => {
    expect(() => hubMock({ root: dir, repos: {}, gated: ['a/b'] })).toThrow(/"a\/b" is listed as gated or truncated but is not in repos/);
  });

  it('is the same handler as a vite plugin, mounted at /__hub (or its prefix) of the page server', async () => {
    const server = await startServer({ root: dir, plugins: [hubMock(options), hubMock({ ...options, prefix: 'other/' })] });
    try {
      const base = server.url.replace(/\/$/, '');
      const r = await http(base, '/__hub/org/tiny/resolve/main/config.json');
      expect([r.status, r.body.toString(), r.headers['content-length']]).toEqual([200, CONFIG, String(CONFIG.length)]);
      expect((await http(base, '/other/org/tiny/resolve/main/config.json')).status).toBe(200);
      expect((await http(base, '/__hub/org/gated/resolve/main/config.json')).status).toBe(401);
      expect((await http(base, '/__hub/org/nope/resolve/main/config.json')).headers['x-error-code']).toBe('RepoNotFound');
      expect((await http(base, '/__hub/org/tiny/resolve/main/%2e%2e/secret.txt')).status).toBe(400);
    } finally {
      await server.close();
    }
  });
});
