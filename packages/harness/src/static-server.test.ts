// The static page server: files under its root only, never cached by the browser, handlers first, a clear error when
// it cannot listen.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileFor, type StaticServer, startStaticServer } from './static-server.ts';

describe('startStaticServer', () => {
  const root = mkdtempSync(join(tmpdir(), 'webtune-static-test-'));
  let server: StaticServer;

  beforeAll(async () => {
    mkdirSync(join(root, 'apps/cli/page'), { recursive: true });
    mkdirSync(join(root, 'assets'));
    writeFileSync(join(root, 'apps/cli/page/index.html'), '<!doctype html>');
    writeFileSync(join(root, 'assets/index-x.js'), 'export {};');
    writeFileSync(join(`${root}-secret.txt`), 'outside');
    server = await startStaticServer(root, [
      (req, res) => {
        if (req.url !== '/__local/hello') return false;
        res.end('from the handler');
        return true;
      },
      (req) => {
        if (req.url === '/__local/broken') throw new URIError('URI malformed');
        return false;
      },
    ]);
  });
  afterAll(async () => {
    await server.close();
    rmSync(root, { recursive: true, force: true });
    rmSync(`${root}-secret.txt`, { force: true });
  });

  it('serves the files with their type and no-store, and 404 for what is not one', async () => {
    const html = await fetch(new URL('apps/cli/page/index.html', server.url));
    expect([html.status, html.headers.get('content-type'), html.headers.get('cache-control'), await html.text()]).toEqual([
      200,
      'text/html; charset=utf-8',
      'no-store',
      '<!doctype html>',
    ]);
    const js = await fetch(new URL('assets/index-x.js?v=1', server.url));
    expect([js.status, js.headers.get('content-type')]).toEqual([200, 'text/javascript; charset=utf-8']);
    const missing = await fetch(new URL('assets/nope.js', server.url));
    expect([missing.status, await missing.text()]).toEqual([404, '/assets/nope.js is not part of the page']);
    expect((await fetch(new URL('assets/', server.url))).status).toBe(404);
  });

  it('asks the handlers first', async () => {
    expect(await (await fetch(new URL('__local/hello', server.url))).text()).toBe('from the handler');
  });

  it('a handler that throws: a 500 naming the request and why, and the server goes on', async () => {
    const broken = await fetch(new URL('__local/broken', server.url));
    expect([broken.status, await broken.text()]).toEqual([500, '/__local/broken could not be served: URI malformed']);
    expect((await fetch(new URL('__local/hello', server.url))).status).toBe(200);
  });

  it('never serves a file outside its root', () => {
    expect(fileFor(root, '/apps/cli/page/index.html')).toBe(join(root, 'apps/cli/page/index.html'));
    const name = `${root.split('/').at(-1)}-secret.txt`;
    expect(fileFor(root, `/../${name}`)).toBeUndefined();
    expect(fileFor(root, `/%2e%2e/${name}`)).toBeUndefined();
    expect(fileFor(root, '/%E0%A4%A')).toBeUndefined();
  });

  it('a port it cannot listen on: which port, why, and what to do', async () => {
    const port = Number(new URL(server.url).port);
    await expect(startStaticServer(root, [], port)).rejects.toThrow(
      `could not serve the page on 127.0.0.1 port ${port} (EADDRINUSE): another program holds that port; stop it or choose another port`,
    );
  });
});
