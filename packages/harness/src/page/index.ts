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
  /** One kernel's sweep of shapes or layouts (see `gpuTest`). */
  sweep: boolean;
}

export class SkipSignal extends Error {
  override name = 'SkipSignal';
}

/** Tests registered by the file being imported; the runner drains it after each import. */
export const registry: GpuTestCase[] = [];

export interface GpuTestOptions {
  timeoutMs?: number;
  /**
   * A sweep: the same kernel over many shapes or layouts, each a pipeline of its own. On SwiftShader
   * its cost is compiling those pipelines, so the second host (Dawn in Node, whose SwiftShader
   * compiles slower) leaves it to headless Chromium, which runs the same WGSL, unless
   * WEBTUNE_DAWN_SWEEPS=1. Every kernel keeps its other tests on Dawn.
   */
  sweep?: boolean;
}

/** Register a GPU test. Runs in the page with a real GPUDevice. */
export function gpuTest(name: string, fn: GpuTestFn, options: GpuTestOptions = {}): void {
  registry.push({ name, fn, timeoutMs: options.timeoutMs ?? 120_000, sweep: options.sweep ?? false });
}
