// What a `*.gpu.test.ts` test file imports. Tests run in the page (real WebGPU); the harness
// reports each result back to Node, where it becomes a vitest test or a CLI line.
export { allclose, assertAllClose, F32_EPS, reductionTolerance, type Tolerance } from '../allclose.ts';

export interface GpuTestContext {
  adapter: GPUAdapter;
  /** A device for this test file, with the adapter's limits and optional features it has. */
  device: GPUDevice;
  /** Stop this test and report it as skipped, with the reason (e.g. a missing feature). */
  skip(reason: string): never;
}

export type GpuTestFn = (ctx: GpuTestContext) => Promise<void> | void;

export interface GpuTestCase {
  name: string;
  fn: GpuTestFn;
  timeoutMs: number;
}

export class SkipSignal extends Error {
  override name = 'SkipSignal';
}

/** Tests registered by the file being imported; the runner drains it after each import. */
export const registry: GpuTestCase[] = [];

/** Register a GPU test. Runs in the page with a real GPUDevice. */
export function gpuTest(name: string, fn: GpuTestFn, options: { timeoutMs?: number } = {}): void {
  registry.push({ name, fn, timeoutMs: options.timeoutMs ?? 120_000 });
}
