// The test loop with a stand-in GPU (no WebGPU in Node's unit project): which tests run, which are
// reported skipped, and with what reason.
import { describe, expect, it } from 'vitest';
import type { GpuTestResult } from '../gpu-tests.ts';
import { gpuTest } from './index.ts';
import { runGpuTestFiles } from './run.ts';

/** Just enough of GPU for the loop: one adapter, devices whose error scopes are always empty. */
const fakeGpu = {
  requestAdapter: async () => ({
    features: new Set<string>(),
    limits: {},
    requestDevice: async () => ({
      pushErrorScope() {},
      popErrorScope: async () => null,
      lost: new Promise(() => {}),
      onuncapturederror: null,
      destroy() {},
    }),
  }),
} as unknown as GPU;

async function run(skipSweeps?: string): Promise<{ ran: string[]; results: GpuTestResult[] }> {
  const ran: string[] = [];
  const results: GpuTestResult[] = [];
  const files = {
    'a.gpu.test.ts': async () => {
      gpuTest('one case', () => void ran.push('one case'));
      gpuTest('every layout', () => void ran.push('every layout'), { sweep: true });
    },
  };
  await runGpuTestFiles({ gpu: fakeGpu, files, skipSweeps, report: (r) => void results.push(r) });
  return { ran, results };
}

describe('runGpuTestFiles', () => {
  it('runs sweeps like any test by default', async () => {
    const { ran, results } = await run();
    expect(ran).toEqual(['one case', 'every layout']);
    expect(results.map((r) => r.status)).toEqual(['pass', 'pass']);
  });

  it('with skipSweeps, reports each sweep as skipped with the reason and runs the rest', async () => {
    const { ran, results } = await run('left to Chromium');
    expect(ran).toEqual(['one case']);
    expect(results.map(({ name, status, message }) => ({ name, status, message }))).toEqual([
      { name: 'one case', status: 'pass', message: undefined },
      { name: 'every layout', status: 'skip', message: 'left to Chromium' },
    ]);
  });
});
