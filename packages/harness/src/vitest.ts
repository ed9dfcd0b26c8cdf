// Turn a GPU test run into vitest tests: one `it` per GPU test, grouped by file. Two hosts:
// headless Chromium (defineGpuTests) and Node's Dawn (defineDawnGpuTests), the same files.
// No browser or no adapter is a visible skip locally and a failure under CI=true.
import { describe, it } from 'vitest';
import { BrowserNotFoundError } from './chromium.ts';
import { openDawn } from './dawn.ts';
import { type GpuRun, type GpuRunOptions, type GpuRunRequest, type GpuTestResult, runGpuTests } from './gpu-tests.ts';
import { runGpuTestFiles } from './page/run.ts';
import { describeAdapter, NoWebGpuError } from './session.ts';

/** `plugins` go to the runner's page server (e.g. a `hubMock` for the tests to fetch from). */
export async function defineGpuTests(label: string, request: GpuRunRequest & Pick<GpuRunOptions, 'plugins'>): Promise<void> {
  const where = `${request.prefixes.join(', ')}${request.grep ? ` matching "${request.grep}"` : ''}`;
  declareRun(label, where, await unlessUnavailable(() => runGpuTests(request)));
}

/**
 * The same `*.gpu.test.ts` files on Dawn in Node: `files` from `import.meta.glob` in the calling
 * test file. WEBTUNE_GPU_GREP narrows the run as the browser runner's grep does. Sweeps are skipped
 * (visibly) unless WEBTUNE_DAWN_SWEEPS=1: set it where Dawn is the only host, e.g. a GPU machine
 * with no browser.
 */
export async function defineDawnGpuTests(label: string, files: Record<string, () => Promise<unknown>>): Promise<void> {
  const grep = process.env.WEBTUNE_GPU_GREP || undefined;
  const run = await unlessUnavailable(async () => {
    const { gpu, adapter } = await openDawn();
    process.stderr.write(`webgpu adapter (Dawn in Node): ${describeAdapter(adapter)}\n`);
    const results: GpuTestResult[] = [];
    const skipSweeps = process.env.WEBTUNE_DAWN_SWEEPS
      ? undefined
      : 'a sweep of variants: headless Chromium runs it on the same WGSL; WEBTUNE_DAWN_SWEEPS=1 runs it on Dawn too';
    await runGpuTestFiles({ gpu, files, grep, skipSweeps, report: (r) => void results.push(r) });
    return { adapter, results };
  });
  declareRun(label, `${Object.keys(files).length} files${grep ? ` matching "${grep}"` : ''}`, run);
}

type Unavailable = { unavailable: string };

async function unlessUnavailable(start: () => Promise<GpuRun>): Promise<GpuRun | Unavailable> {
  try {
    return await start();
  } catch (err) {
    if (!(err instanceof BrowserNotFoundError || err instanceof NoWebGpuError)) throw err;
    return { unavailable: err.message };
  }
}

function declareRun(label: string, where: string, run: GpuRun | Unavailable): void {
  if ('unavailable' in run) {
    if (process.env.CI) {
      it(`${label}: WebGPU is required under CI`, () => {
        throw new Error(`${run.unavailable}\nCI=true: GPU tests must run, not be skipped.`);
      });
    } else {
      process.stderr.write(`SKIPPED ${label} GPU tests: ${run.unavailable}\n`);
      it.skip(`${label}: GPU tests skipped (${run.unavailable})`, () => {});
    }
    return;
  }
  if (run.results.length === 0) {
    it(`${label}: GPU tests found`, () => {
      throw new Error(`no *.gpu.test.ts tests ran under ${where}`);
    });
    return;
  }
  const byFile = new Map<string, GpuRun['results']>();
  for (const r of run.results) byFile.set(r.file, [...(byFile.get(r.file) ?? []), r]);
  describe(`${label} on ${describeAdapter(run.adapter)}`, () => {
    for (const [file, results] of byFile) {
      describe(file, () => {
        for (const r of results) {
          if (r.status === 'skip') {
            it.skip(`${r.name} (skipped: ${r.message})`, () => {});
            continue;
          }
          it(`${r.name} [${r.ms.toFixed(0)} ms on the GPU host]`, () => {
            if (r.status === 'fail') throw new Error(r.message);
          });
        }
      });
    }
  });
}
