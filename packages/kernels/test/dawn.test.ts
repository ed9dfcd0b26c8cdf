// The kernels' GPU tests on a second WebGPU host: Dawn in Node (the `webgpu` package), with no
// browser. The same files as test/gpu.test.ts runs in headless Chromium.
import { defineDawnGpuTests } from '@webtune/harness/vitest';

await defineDawnGpuTests('kernels (Dawn in Node)', import.meta.glob(['../src/**/*.gpu.test.ts']));
