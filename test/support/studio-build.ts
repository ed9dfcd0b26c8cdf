// The studio's static build, served the way a static host would: plain files under an arbitrary sub-path.
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { STUDIO } from './studio.ts';

/** `vite build` of the studio into a fresh folder (the same command as `pnpm --filter @webtune/studio build`). */
export function buildStudio(): string {
  const out = mkdtempSync(join(tmpdir(), 'webtune-studio-dist-'));
  const vite = join(STUDIO, 'node_modules/vite/bin/vite.js');
  const r = spawnSync(process.execPath, [vite, 'build', '--outDir', out, '--emptyOutDir', '--logLevel', 'warn'], {
    cwd: STUDIO,
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (r.status !== 0) throw new Error(`vite build failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  if (!existsSync(join(out, 'index.html'))) throw new Error(`vite build wrote no index.html in ${out}`);
  return out;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.jsonl': 'application/jsonl',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export interface StaticHost {
  /** The page's address: origin + prefix. */
  url: string;
  /** Every path requested, in order. */
  requests: string[];
  close(): Promise<void>;
}

/** Serve `root` at `prefix` (e.g. "/some/where/studio/") on 127.0.0.1; anything outside the prefix is a 404. */
export async function serveStatic(root: string, prefix: string): Promise<StaticHost> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]);
    requests.push(path);
    if (!path.startsWith(prefix)) {
      res.writeHead(404).end('outside the app');
      return;
    }
    const rel = normalize(path.slice(prefix.length) || 'index.html');
    const file = join(root, rel.endsWith(sep) || rel === '.' ? join(rel, 'index.html') : rel);
    if (!file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': statSync(file).size });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no TCP address');
  return {
    url: `http://127.0.0.1:${address.port}${prefix}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
