// Serve pages to the headless browser on loopback. WebGPU needs a secure context, and
// http://127.0.0.1 is one (about:blank and file:// are not).
import { fileURLToPath } from 'node:url';
import type { InlineConfig, PluginOption } from 'vite';
import { type RequestHandler, startStaticServer } from './static-server.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface PageServer {
  /** Origin with trailing slash, e.g. http://127.0.0.1:41234/ */
  url: string;
  close(): Promise<void>;
}

export interface ServeOptions {
  /** Vite root; the repository root by default, so any package's sources can be imported. */
  root?: string;
  /** A vite config file to load (the studio's, for its Svelte plugin); none by default. */
  configFile?: string;
  /** Serve a production build (`vite preview` of `outDir`) instead of transforming sources on the fly. */
  built?: boolean;
  /** Extra vite plugins, e.g. `hubMock(...)` to serve a Hub-layout file server beside the pages. */
  plugins?: PluginOption[];
  /**
   * vite's cache of pre-bundled dependencies; `<root>/node_modules/.vite` by default. Servers that share one rebuild
   * it under each other when they discover different dependencies, and a page then gets 504 Outdated Optimize Dep.
   */
  cacheDir?: string;
  /**
   * Serve this folder's files (a page built ahead: apps/cli/src/page-bundle.ts) with node:http, no vite in this process;
   * `handlers` answer what is not a file (a mounted folder, a test fault). `root`, `built`, `plugins` and `cacheDir`
   * are then unused.
   */
  staticDir?: string;
  handlers?: RequestHandler[];
}

/**
 * A server on 127.0.0.1 with a free port: the static files of `staticDir`, or a vite server, quiet, without file
 * watching or HMR. vite is loaded only then: its dev server was more than half of the CLI's memory.
 */
export async function startServer(options: ServeOptions = {}): Promise<PageServer> {
  if (options.staticDir !== undefined) return startStaticServer(options.staticDir, options.handlers);
  const { createServer, preview } = await import('vite');
  const config: InlineConfig = {
    root: options.root ?? REPO_ROOT,
    configFile: options.configFile ?? false,
    plugins: options.plugins,
    cacheDir: options.cacheDir,
    logLevel: 'warn',
    clearScreen: false,
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false, watch: null },
    preview: { host: '127.0.0.1', port: 0, strictPort: false },
  };
  const server = options.built ? await preview(config) : await (await createServer(config)).listen();
  const address = server.httpServer?.address();
  if (!address || typeof address === 'string') throw new Error('vite did not report a TCP address');
  return {
    url: `http://127.0.0.1:${address.port}/`,
    close: () => server.close(),
  };
}
