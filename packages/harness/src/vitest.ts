// Turn an in-browser GPU run into vitest tests: one `it` per GPU test, grouped by file.
// No browser or no adapter is a visible skip locally and a failure under CI=true.
import { describe, it } from 'vitest';
import { BrowserNotFoundError } from './chromium.ts';
import { type GpuRun, type GpuRunOptions, type GpuRunRequest, runGpuTests } from './gpu-tests.ts';
import { describeAdapter, NoWebGpuError } from './session.ts';

/** `plugins` go to the runner's page server (e.g. a `hubMock` for the tests to fetch from). */
export async function defineGpuTests(label: string, request: GpuRunRequest & Pick<GpuRunOptions, 'plugins'>): Promise<void> {
  let run: GpuRun | undefined;
  let unavailable = '';
  try {
    run = await runGpuTests(request);
  } catch (err) {
    if (!(err instanceof BrowserNotFoundError || err instanceof NoWebGpuError)) throw err;
    unavailable = err.message;
  }
  if (!run) {
    if (process.env.CI) {
      it(`${label}: WebGPU is required under CI`, () => {
        throw new Error(`${unavailable}\nCI=true: GPU tests must run, not be skipped.`);
      });
    } else {
      process.stderr.write(`SKIPPED ${label} GPU tests: ${unavailable}\n`);
      it.skip(`${label}: GPU tests skipped (${unavailable})`, () => {});
    }
    return;
  }
  if (run.results.length === 0) {
    it(`${label}: GPU tests found`, () => {
      throw new Error(`no *.gpu.ts tests ran under ${request.prefixes.join(', ')}${request.grep ? ` matching "${request.grep}"` : ''}`);
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
          it(`${r.name} [${r.ms.toFixed(0)} ms in browser]`, () => {
            if (r.status === 'fail') throw new Error(r.message);
          });
        }
      });
    }
  });
}
