// Node side of the GPU test runner: open the runner page in headless Chromium, run the
// `*.gpu.test.ts` files under the given path prefixes, collect one result per test.

import { join } from 'node:path';
import type { GpuChoice } from './chromium.ts';
import { REPO_ROOT, type ServeOptions } from './server.ts';
import { type AdapterReport, describeAdapter, openGpuSession } from './session.ts';

export interface GpuRunRequest {
  /** Repository-relative path prefixes, e.g. ['packages/kernels/']; empty runs every `*.gpu.test.ts`. */
  prefixes: string[];
  /** Only tests whose "file name" contains this string. */
  grep?: string;
}

export interface GpuTestResult {
  file: string;
  name: string;
  status: 'pass' | 'fail' | 'skip';
  ms: number;
  /** Failure details, or the reason for a skip. */
  message?: string;
}

export interface GpuRun {
  adapter: AdapterReport;
  results: GpuTestResult[];
}

export interface GpuRunOptions extends GpuRunRequest {
  gpu?: GpuChoice;
  log?: (line: string) => void;
  onResult?: (result: GpuTestResult) => void;
  /** Extra vite plugins for the runner's page server (e.g. a `hubMock` the tests fetch from). */
  plugins?: ServeOptions['plugins'];
}

declare global {
  interface Window {
    /** Exposed by Node: one call per finished test. */
    __webtuneReport(result: GpuTestResult): Promise<void>;
    /** Defined by the runner page; resolves to the number of tests run. */
    __webtuneRunGpuTests(request: GpuRunRequest): Promise<number>;
  }
}

export const RUNNER_PAGE = 'packages/harness/page/gpu-tests.html';

/** Throws BrowserNotFoundError / NoWebGpuError when there is no browser or no adapter. */
export async function runGpuTests(options: GpuRunOptions): Promise<GpuRun> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  // A dependency cache of its own for each package's runner (the GPU and e2e files run side by side): see ServeOptions.
  const name = options.prefixes.map((p) => p.replace(/\W+/g, '-').replace(/^-|-$/g, '')).join('+') || 'all';
  const cacheDir = join(REPO_ROOT, 'node_modules', '.vite', `gpu-tests-${name}`);
  const session = await openGpuSession({ path: RUNNER_PAGE, gpu: options.gpu, log, plugins: options.plugins, cacheDir });
  try {
    log(`webgpu adapter: ${describeAdapter(session.adapter)}`);
    const results: GpuTestResult[] = [];
    await session.page.exposeFunction('__webtuneReport', (result: GpuTestResult) => {
      results.push(result);
      options.onResult?.(result);
    });
    const request: GpuRunRequest = { prefixes: options.prefixes, grep: options.grep };
    await session.page.waitForFunction(() => typeof window.__webtuneRunGpuTests === 'function');
    await session.page.evaluate((r) => window.__webtuneRunGpuTests(r), request);
    return { adapter: session.adapter, results };
  } finally {
    await session.close();
  }
}
