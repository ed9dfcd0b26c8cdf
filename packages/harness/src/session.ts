// One headless page with WebGPU, served on loopback, its console forwarded, its adapter checked.
import type { Browser, ConsoleMessage, Page } from 'puppeteer';
import { type GpuChoice, launchChromium } from './chromium.ts';
import { type PageServer, type ServeOptions, startServer } from './server.ts';

export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  features: string[];
  limits: Record<string, number>;
}

/** The page has no `navigator.gpu`, or it gave no adapter. Carries what the page reported. */
export class NoWebGpuError extends Error {
  override name = 'NoWebGpuError';
}

export interface GpuSession {
  browser: Browser;
  page: Page;
  server: PageServer;
  adapter: AdapterReport;
  close(): Promise<void>;
  /** Ends the browser now, synchronously (SIGKILL to its process group): for a process about to exit. */
  kill(): void;
}

export interface SessionOptions extends ServeOptions {
  /** Path of the page under the server root, e.g. `packages/harness/page/gpu-tests.html`. */
  path: string;
  gpu?: GpuChoice;
  userDataDir?: string;
  /** Where page/worker console lines and page errors go; stderr by default. */
  log?: (line: string) => void;
  /** Forward console.debug/info/log lines too, not just warnings and errors. */
  verbose?: boolean;
  /** The caller handles SIGINT/SIGTERM/SIGHUP (see LaunchOptions.ownSignals). */
  ownSignals?: boolean;
  /**
   * Serve the page as http://webtune.localhost/ whatever port the server got. Storage (IndexedDB, Cache Storage) is
   * kept per origin, port included: with a persistent profile, a run on another port than the last would find none of
   * its adapters, checkpoints or downloads. (*.localhost is a secure context, as 127.0.0.1 is.)
   */
  stableOrigin?: boolean;
  /** See LaunchOptions.watchNetwork: the studio's e2e tests wait for the network to go idle. */
  watchNetwork?: boolean;
}

export const STABLE_HOST = 'webtune.localhost';

const LOUD = new Set(['error', 'warn', 'assert']);

function forward(source: string, msg: ConsoleMessage, log: (line: string) => void, verbose: boolean): void {
  if (!verbose && !LOUD.has(msg.type())) return;
  log(`[${source} console.${msg.type()}] ${msg.text()}`);
}

/** Ask the page for an adapter; report everything we know when there is none. */
async function probeAdapter(page: Page): Promise<AdapterReport> {
  const probe = await page.evaluate(async () => {
    const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
    if (!gpu) return { error: `navigator.gpu is missing (isSecureContext=${isSecureContext}, userAgent=${navigator.userAgent})` };
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return { error: 'navigator.gpu.requestAdapter() returned null' };
    const limits: Record<string, number> = {};
    for (const key in adapter.limits) limits[key] = Number(adapter.limits[key as keyof GPUSupportedLimits]);
    const info = adapter.info;
    return {
      report: {
        vendor: info.vendor,
        architecture: info.architecture,
        device: info.device,
        description: info.description,
        isFallbackAdapter: Boolean((info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter),
        features: [...adapter.features].sort(),
        limits,
      },
    };
  });
  if ('error' in probe) {
    throw new NoWebGpuError(
      `WebGPU is not available in headless Chromium: ${probe.error}. ` +
        'Check that the browser supports WebGPU (Chromium 113+), that the page is served from localhost, ' +
        'and try WEBTUNE_GPU=swiftshader to use the software adapter.',
    );
  }
  return probe.report as AdapterReport;
}

export function describeAdapter(a: AdapterReport): string {
  const name = [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ') || 'unnamed adapter';
  const f = ['subgroups', 'shader-f16', 'timestamp-query'].map((x) => `${x}=${a.features.includes(x) ? 'yes' : 'no'}`);
  return `${name} (${f.join(', ')}, maxStorageBufferBindingSize=${a.limits.maxStorageBufferBindingSize})`;
}

export async function openGpuSession(options: SessionOptions): Promise<GpuSession> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const verbose = options.verbose ?? false;
  const served = await startServer(options);
  const port = new URL(served.url).port;
  const server: PageServer = options.stableOrigin ? { ...served, url: `http://${STABLE_HOST}/` } : served;
  let browser: Browser | undefined;
  try {
    browser = await launchChromium({
      gpu: options.gpu,
      userDataDir: options.userDataDir,
      ownSignals: options.ownSignals,
      watchNetwork: options.watchNetwork,
      extraArgs: options.stableOrigin ? [`--host-resolver-rules=MAP ${STABLE_HOST}:80 127.0.0.1:${port}`] : [],
    });
    // The tab Chromium opens at launch, not a second one: another tab is another renderer process (about 100 MB).
    const page = (await browser.pages())[0] ?? (await browser.newPage());
    page.on('console', (msg) => forward('page', msg, log, verbose));
    page.on('pageerror', (err) => log(`[page error] ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`));
    page.on('workercreated', (worker) => {
      worker.on('console', (msg) => forward('worker', msg, log, verbose));
      worker.on('error', (err) => log(`[worker error] ${err.stack ?? err.message}`));
    });
    await page.goto(new URL(options.path, server.url).href, { waitUntil: 'load' });
    const adapter = await probeAdapter(page);
    const opened = browser;
    return {
      browser: opened,
      page,
      server,
      adapter,
      async close() {
        await opened.close();
        await server.close();
      },
      kill() {
        const pid = opened.process()?.pid;
        if (pid === undefined) return;
        // Puppeteer starts Chromium as a process group leader: the group takes its GPU and renderer processes too.
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // already gone
        }
      },
    };
  } catch (err) {
    await browser?.close();
    await server.close();
    throw err;
  }
}
