// The GPU test loop, the same for every WebGPU host: the browser runner page (navigator.gpu)
// and Node's `webgpu` package (Dawn). It imports each `*.gpu.test.ts` file, runs what it
// registered on a fresh device per file, and reports each result as soon as it is known.
// Every test runs inside GPU error scopes: a validation, out-of-memory or internal error
// anywhere in a test fails it, even if its numbers happened to match.
import type { GpuTestResult } from '../gpu-tests.ts';
import { type GpuTestContext, registry, SkipSignal } from './index.ts';

/**
 * Limits a test device asks for: everything the adapter offers, as Gpu.create in @webtune/kernels
 * does for training (the harness cannot import the kernels: they are tested with it).
 */
const LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
] as const;

/** A fresh adapter and device: an adapter can create one device only ("consumed" after). */
export async function openTestDevice(gpu: GPU): Promise<{ adapter: GPUAdapter; device: GPUDevice }> {
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('requestAdapter() returned null');
  const requiredFeatures = (['subgroups', 'timestamp-query', 'shader-f16'] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const key of LIMITS) requiredLimits[key] = adapter.limits[key];
  return { adapter, device: await adapter.requestDevice({ requiredFeatures, requiredLimits }) };
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const frames = (err.stack ?? '')
      .split('\n')
      .filter((l) => l.includes(' at '))
      .slice(0, 4);
    return [`${err.name}: ${err.message}`, ...frames].join('\n');
  }
  return String(err);
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface RunFilesOptions {
  gpu: GPU;
  /** File name -> its import, e.g. from `import.meta.glob`; run in name order. */
  files: Record<string, () => Promise<unknown>>;
  /** Only tests whose "file name" contains this string. */
  grep?: string;
  /** Report sweeps (`gpuTest`'s `sweep`) as skipped, with this reason, instead of running them. */
  skipSweeps?: string;
  report(result: GpuTestResult): Promise<void> | void;
}

/** Runs every test the files register; resolves to the number of results reported. */
export async function runGpuTestFiles({ gpu, files, grep, skipSweeps, report }: RunFilesOptions): Promise<number> {
  let count = 0;
  for (const file of Object.keys(files).sort()) {
    registry.length = 0;
    try {
      await files[file]();
    } catch (err) {
      await report({ file, name: '(import)', status: 'fail', ms: 0, message: describeError(err) });
      count++;
      continue;
    }
    const cases = registry.splice(0).filter((c) => !grep || `${file} ${c.name}`.includes(grep));
    if (cases.length === 0) continue;
    let { adapter, device } = await openTestDevice(gpu);
    for (const test of cases) {
      if (test.sweep && skipSweeps) {
        await report({ file, name: test.name, status: 'skip', ms: 0, message: skipSweeps });
        count++;
        continue;
      }
      const uncaptured: string[] = [];
      device.onuncapturederror = (e) => uncaptured.push(e.error.message);
      let lost: GPUDeviceLostInfo | undefined;
      device.lost.then((info) => {
        lost = info;
      });
      const ctx: GpuTestContext = {
        adapter,
        device,
        skip(reason: string): never {
          throw new SkipSignal(reason);
        },
      };
      const t0 = performance.now();
      for (const filter of ['validation', 'out-of-memory', 'internal'] as const) device.pushErrorScope(filter);
      let result: Omit<GpuTestResult, 'ms'>;
      try {
        await withTimeout(Promise.resolve(test.fn(ctx)), test.timeoutMs);
        result = { file, name: test.name, status: 'pass' };
      } catch (err) {
        result =
          err instanceof SkipSignal
            ? { file, name: test.name, status: 'skip', message: err.message }
            : { file, name: test.name, status: 'fail', message: describeError(err) };
      }
      const gpuErrors: string[] = [];
      for (let i = 0; i < 3; i++) {
        const e = await device.popErrorScope().catch(() => null);
        if (e) gpuErrors.push(e.message);
      }
      gpuErrors.push(...uncaptured);
      if (lost) gpuErrors.push(`device lost (${lost.reason}): ${lost.message}`);
      if (gpuErrors.length > 0 && result.status !== 'fail') {
        result = { file, name: test.name, status: 'fail', message: `GPU error during the test:\n${gpuErrors.join('\n')}` };
      }
      await report({ ...result, ms: performance.now() - t0 });
      count++;
      if (lost) ({ adapter, device } = await openTestDevice(gpu));
    }
    device.destroy();
  }
  return count;
}
