// A built page's files on loopback with node:http: what a command that hosts a page for its whole run serves, instead
// of a vite dev server transforming sources in its process (and an esbuild child) the whole time.
import { createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

/** Answers a request itself (returns true), or leaves it to the next handler and then to the files (false). */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
};

export interface StaticServer {
  /** Origin with trailing slash, e.g. http://127.0.0.1:41234/ */
  url: string;
  close(): Promise<void>;
}

/** The file under `root` that `urlPath` names, or undefined when it names none (or a path outside `root`). */
export function fileFor(root: string, urlPath: string): string | undefined {
  let path: string;
  try {
    path = decodeURIComponent(urlPath.split('?')[0]);
  } catch {
    return undefined; // malformed %-escape
  }
  const base = normalize(root).replace(/[/\\]+$/, '');
  const file = normalize(join(base, path));
  if (!file.startsWith(base + sep)) return undefined;
  try {
    return statSync(file).isFile() ? file : undefined;
  } catch {
    return undefined;
  }
}

function serveFile(req: IncomingMessage, res: ServerResponse, root: string): void {
  const file = fileFor(root, req.url ?? '/');
  if (!file) {
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`${req.url} is not part of the page`);
    return;
  }
  res.writeHead(200, {
    'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
    'Content-Length': statSync(file).size,
    // A persistent browser profile must never run an older build's file from its HTTP cache.
    'Cache-Control': 'no-store',
  });
  if (req.method === 'HEAD') res.end();
  else createReadStream(file).pipe(res);
}

/**
 * Serve `root`'s files on 127.0.0.1 (a free port unless `port` is given), each request offered to `handlers` first;
 * with `root` null, the handlers alone (what none answers is a 404).
 */
export async function startStaticServer(root: string | null, handlers: RequestHandler[] = [], port = 0): Promise<StaticServer> {
  const server = createServer((req, res) => {
    try {
      for (const handle of handlers) if (handle(req, res)) return;
      if (root === null) res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`${req.url} is not served here`);
      else serveFile(req, res, root);
    } catch (err) {
      // A request this server cannot answer must not end the command (node:http would throw it out of the process).
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`${req.url} could not be served: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          `could not serve the page on 127.0.0.1${port ? ` port ${port}` : ''} (${err.code ?? err.message}): ` +
            (err.code === 'EADDRINUSE'
              ? 'another program holds that port; stop it or choose another port'
              : 'check that loopback networking is available'),
        ),
      ),
    );
    server.listen(port, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the page server did not report a TCP address');
  return {
    url: `http://127.0.0.1:${address.port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
