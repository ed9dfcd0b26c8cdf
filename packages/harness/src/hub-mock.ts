// A stand-in for the Hugging Face Hub's file server, for tests and offline demos: it serves folders on disk in the
// Hub's URL layout, `{prefix}/{owner}/{name}/resolve/{revision}/{path}`, with the Hub's status codes and error bodies.
// One request handler, two ways to mount it: as a vite plugin (middleware at `prefix`, '/__hub' by default, so a page
// served by the test server reaches it same-origin) and as a standalone node:http server on 127.0.0.1 (a cross-origin
// endpoint with CORS, like huggingface.co itself).
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { Plugin } from 'vite';

export interface HubMockOptions {
  /** Folder the repo folders are resolved against. */
  root: string;
  /** Repo id ("owner/name") -> its folder, relative to `root` (or absolute). Only revision "main" exists. */
  repos: Record<string, string>;
  /** Repo ids that answer 401 unless the request carries `Authorization: Bearer <anything>`. */
  gated?: string[];
  /** Repo ids whose file bodies stop halfway although Content-Length announces the whole file (a dropped download). */
  truncated?: string[];
  /** Delay before each response and between body chunks, to test progress and cancellation. */
  latencyMs?: number;
  /** Body chunk size when streaming a file; 64 KiB by default. */
  chunkBytes?: number;
  /** Where the vite middleware is mounted; '/__hub' by default. The standalone server serves at its root. */
  prefix?: string;
}

export interface HubMockServer {
  /** The endpoint to use as a Hub endpoint, e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  close(): Promise<void>;
}

export type HubMock = Plugin & {
  /** The path the vite middleware answers under, e.g. '/__hub': the page's Hub endpoint is `${location.origin}${prefix}`. */
  prefix: string;
  /** The request handler, for any node:http-style server; `url` is the request path below the mount point. */
  handle(req: IncomingMessage, res: ServerResponse, url?: string): void;
  /** A standalone server on 127.0.0.1 with a free port. */
  listen(): Promise<HubMockServer>;
};

const CORS: Record<string, string> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
  'Access-Control-Allow-Headers': 'Authorization, Range, Content-Type',
  'Access-Control-Expose-Headers': 'Content-Length, Content-Type, ETag, X-Error-Code, X-Error-Message',
  'Access-Control-Max-Age': '600',
};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function hubMock(options: HubMockOptions): HubMock {
  const root = resolve(options.root);
  const repos = new Map(Object.entries(options.repos).map(([id, folder]) => [id, resolve(root, folder)]));
  const gated = new Set(options.gated ?? []);
  const truncated = new Set(options.truncated ?? []);
  const latency = options.latencyMs ?? 0;
  const chunkBytes = options.chunkBytes ?? 64 * 1024;
  const prefix = `/${(options.prefix ?? '/__hub').replace(/^\/+|\/+$/g, '')}`;
  for (const id of [...gated, ...truncated]) {
    if (!repos.has(id)) throw new Error(`hubMock: "${id}" is listed as gated or truncated but is not in repos`);
  }

  function send(res: ServerResponse, status: number, error: string, code?: string): void {
    const body = JSON.stringify({ error });
    const headers: Record<string, string> = {
      ...CORS,
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(body)),
      'X-Error-Message': error,
    };
    if (code) headers['X-Error-Code'] = code;
    res.writeHead(status, headers);
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }

  async function serve(req: IncomingMessage, res: ServerResponse, rawUrl: string): Promise<void> {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, CORS);
      res.end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD, OPTIONS');
      send(res, 405, `Method ${req.method} not allowed`);
      return;
    }
    // Split the raw path ourselves: URL parsing would quietly resolve "..", and we want to refuse it instead.
    const rawPath = rawUrl.split(/[?#]/)[0];
    let segments: string[];
    try {
      segments = rawPath.split('/').slice(1).map(decodeURIComponent);
    } catch {
      send(res, 400, 'Invalid URL encoding');
      return;
    }
    if (segments.length < 5 || segments[2] !== 'resolve') {
      send(res, 404, 'Not found: this mock serves /{owner}/{name}/resolve/{revision}/{path} only');
      return;
    }
    const [owner, name, , revision, ...path] = segments;
    // The revision is one segment ("refs%2Fpr%2F1" decodes to "refs/pr/1"); path segments must be plain names.
    if (path.some((p) => p === '' || p === '.' || p === '..' || /[/\\\0]/.test(p))) {
      send(res, 400, 'Invalid path: path traversal is not allowed');
      return;
    }
    const repo = `${owner}/${name}`;
    const folder = repos.get(repo);
    if (folder === undefined) {
      send(res, 404, 'Repository not found', 'RepoNotFound');
      return;
    }
    if (gated.has(repo) && !/^Bearer\s+\S+$/.test(req.headers.authorization ?? '')) {
      send(
        res,
        401,
        `Access to model ${repo} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
        'GatedRepo',
      );
      return;
    }
    if (revision !== 'main') {
      send(res, 404, `Invalid rev id: ${revision}`, 'RevisionNotFound');
      return;
    }
    const file = resolve(folder, ...path);
    let size: number;
    try {
      // Resolve links too: a symlink inside the folder must not lead out of it.
      const [realFolder, realFile] = await Promise.all([realpath(folder), realpath(file)]);
      const rel = relative(realFolder, realFile);
      if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) throw new Error('outside');
      const info = await stat(realFile);
      if (!info.isFile()) throw new Error('not a file');
      size = info.size;
    } catch {
      send(res, 404, 'Entry not found', 'EntryNotFound');
      return;
    }

    if (latency > 0) await sleep(latency);
    if (res.destroyed) return;
    res.writeHead(200, {
      ...CORS,
      'Content-Type': file.endsWith('.json') ? 'application/json; charset=utf-8' : 'application/octet-stream',
      'Content-Length': String(size),
      ETag: `"${size}"`,
      'Cache-Control': 'no-store',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const cut = truncated.has(repo);
    const end = cut ? Math.floor(size / 2) : size;
    const stream = createReadStream(file, { highWaterMark: chunkBytes, start: 0, end: Math.max(0, end - 1) });
    res.on('close', () => stream.destroy());
    try {
      let first = true;
      for await (const chunk of end === 0 ? [] : stream) {
        if (!first && latency > 0) await sleep(latency);
        first = false;
        if (res.destroyed) return;
        if (!res.write(chunk)) await new Promise<void>((r) => (res.destroyed ? r() : res.once('drain', r).once('close', r)));
      }
    } finally {
      stream.destroy();
    }
    if (cut) {
      // Let the client take the head and the partial body first, then drop the connection short of the length.
      await sleep(Math.max(latency, 20));
      res.destroy();
    } else {
      res.end();
    }
  }

  const handle = (req: IncomingMessage, res: ServerResponse, url = req.url ?? '/') => {
    serve(req, res, url).catch((e: unknown) => {
      if (res.headersSent) res.destroy();
      else send(res, 500, `hub mock failed: ${e instanceof Error ? e.message : String(e)}`);
    });
  };

  // Connect strips the mount path from req.url before our middleware sees it.
  const mount = (middlewares: { use(route: string, fn: (req: IncomingMessage, res: ServerResponse) => void): unknown }) =>
    middlewares.use(prefix, (req, res) => handle(req, res));

  return {
    name: 'webtune-hub-mock',
    prefix,
    handle,
    configureServer(server) {
      mount(server.middlewares);
    },
    configurePreviewServer(server) {
      mount(server.middlewares);
    },
    listen() {
      return new Promise((resolveListen, reject) => {
        const server = createServer((req, res) => handle(req, res));
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => {
          const address = server.address();
          if (!address || typeof address === 'string') {
            reject(new Error('hubMock: the server did not report a TCP address'));
            return;
          }
          resolveListen({
            url: `http://127.0.0.1:${address.port}`,
            close: () =>
              new Promise<void>((done, fail) => {
                server.close((err) => (err ? fail(err) : done()));
                server.closeAllConnections();
              }),
          });
        });
      });
    },
  };
}
