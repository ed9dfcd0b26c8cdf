// Find and launch a Chromium that exposes WebGPU, headless, for the CLI and the tests.
import { existsSync } from 'node:fs';
import puppeteer, { type Browser } from 'puppeteer';

/** Where WebGPU should come from. `auto` lets Chromium pick (a real GPU when it finds one, else SwiftShader). */
export type GpuChoice = 'auto' | 'hardware' | 'swiftshader';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

export class BrowserNotFoundError extends Error {
  override name = 'BrowserNotFoundError';
}

/** The browser to drive: $WEBTUNE_CHROMIUM, then $PUPPETEER_EXECUTABLE_PATH, then the system's Chromium. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string {
  for (const name of ['WEBTUNE_CHROMIUM', 'PUPPETEER_EXECUTABLE_PATH'] as const) {
    const path = env[name];
    if (!path) continue;
    if (!existsSync(path))
      throw new BrowserNotFoundError(`${name}=${path} does not exist. Point it at a Chromium or Chrome executable, or unset it.`);
    return path;
  }
  const found = CANDIDATES.find((p) => existsSync(p));
  if (found) return found;
  throw new BrowserNotFoundError(
    `No Chromium found (looked in ${CANDIDATES.join(', ')}). ` +
      'Install it with `sudo apt-get install -y chromium` (Debian/Ubuntu) or `pnpm setup`, ' +
      'or set WEBTUNE_CHROMIUM=/path/to/chrome.',
  );
}

export function parseGpuChoice(value: string | undefined): GpuChoice {
  const v = value ?? 'auto';
  if (v === 'auto' || v === 'hardware' || v === 'swiftshader') return v;
  throw new Error(`WEBTUNE_GPU/--gpu must be auto, hardware or swiftshader (got "${v}").`);
}

/** Chromium switches for WebGPU. SwiftShader is Chromium's bundled software Vulkan: slow but everywhere. */
export function chromiumArgs(gpu: GpuChoice): string[] {
  const args = [
    '--enable-unsafe-webgpu',
    '--disable-background-networking', // the machine may have no network: no update/metrics pings
    '--disable-component-update',
    '--no-first-run',
    // No renderer processes beside the page's: Chromium keeps a spare one warm for the next tab, and (156) preloads
    // the omnibox popup's WebUI even headless; together about 120 MB of RSS (docs/performance.md, host memory).
    '--disable-features=SpareRendererForSitePerProcess,WebUIOmniboxPopup,WebUIOmniboxFullPopup,WebUIOmniboxAimPopup',
  ];
  if (process.getuid?.() === 0) args.push('--no-sandbox'); // Chromium refuses to run sandboxed as root
  if (gpu === 'swiftshader') args.push('--use-webgpu-adapter=swiftshader', '--enable-unsafe-swiftshader');
  if (gpu === 'auto') args.push('--enable-unsafe-swiftshader');
  if (gpu === 'hardware') args.push('--enable-features=Vulkan', '--use-angle=vulkan', '--ignore-gpu-blocklist');
  return args;
}

export interface LaunchOptions {
  gpu?: GpuChoice;
  headless?: boolean;
  executablePath?: string;
  /** Keep IndexedDB etc. between launches (the CLI's adapters and caches); a temporary profile otherwise. */
  userDataDir?: string;
  /**
   * The caller handles SIGINT/SIGTERM/SIGHUP itself (the CLI stops a run cleanly on Ctrl-C). By default Puppeteer kills
   * the browser and exits the process on each of them.
   */
  ownSignals?: boolean;
  /** Extra Chromium switches. */
  extraArgs?: string[];
  /**
   * Let Puppeteer follow the pages' requests (page.on('request'), request interception, waitForNetworkIdle). Off by
   * default: to answer Network.getResponseBody, DevTools then keeps each response's body in the renderer, base64, up to
   * about 200 MB, and a checkpoint read a tensor at a time filled it (docs/performance.md, "The page's 200 MB").
   */
  watchNetwork?: boolean;
}

export async function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  const gpu = options.gpu ?? parseGpuChoice(process.env.WEBTUNE_GPU);
  return puppeteer.launch({
    executablePath: options.executablePath ?? findChromium(),
    headless: options.headless ?? true,
    args: [...chromiumArgs(gpu), ...(options.extraArgs ?? [])],
    userDataDir: options.userDataDir,
    // DevTools over a pipe, not a socket: when this process dies in any way (SIGKILL, out of memory), the pipe closes
    // and Chromium exits with it, instead of training on and holding the profile's lock.
    pipe: true,
    networkEnabled: options.watchNetwork ?? false,
    handleSIGINT: !options.ownSignals,
    handleSIGTERM: !options.ownSignals,
    handleSIGHUP: !options.ownSignals,
    // A DevTools request's limit. The CLI and the bench do not wait for a training run or a suite inside one
    // (page-calls.ts); the GPU tests' page runs do, each bounded by its own timeout. WEBTUNE_TEST_PROTOCOL_TIMEOUT_MS
    // lowers it for a test.
    protocolTimeout: Number(process.env.WEBTUNE_TEST_PROTOCOL_TIMEOUT_MS) || 30 * 60_000,
  });
}
