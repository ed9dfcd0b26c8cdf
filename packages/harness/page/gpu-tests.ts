// The in-page GPU test runner. Node calls window.__webtuneRunGpuTests(request); each result
// goes back through window.__webtuneReport as soon as it is known (so a hang still shows
// how far the run got). Every test runs inside GPU error scopes: a validation or
// out-of-memory error anywhere in a test fails it, even if its numbers happened to match.
import type { GpuTestResult } from '../src/gpu-tests.ts';
import { type GpuTestContext, registry, SkipSignal } from '../src/page/index.ts';

const files = import.meta.glob(['/packages/**/*.gpu.ts', '/apps/**/*.gpu.ts', '/test/**/*.gpu.ts', '!**/node_modules/**']);

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
async function openDevice(): Promise<{ adapter: GPUAdapter; device: GPUDevice }> {
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
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

window.__webtuneRunGpuTests = async ({ prefixes, grep }) => {
  const selected = Object.keys(files)
    .filter((f) => prefixes.length === 0 || prefixes.some((p) => f.startsWith(`/${p}`)))
    .sort();
  let count = 0;
  for (const file of selected) {
    registry.length = 0;
    try {
      await files[file]();
    } catch (err) {
      await window.__webtuneReport({ file, name: '(import)', status: 'fail', ms: 0, message: describeError(err) });
      count++;
      continue;
    }
    const cases = registry.splice(0).filter((c) => !grep || `${file} ${c.name}`.includes(grep));
    let { adapter, device } = await openDevice();
    for (const test of cases) {
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
      await window.__webtuneReport({ ...result, ms: performance.now() - t0 });
      count++;
      if (lost) ({ adapter, device } = await openDevice());
    }
    device.destroy();
  }
  return count;
};
