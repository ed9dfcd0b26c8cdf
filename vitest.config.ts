// One vitest run for the whole repo, in three projects:
//   unit: pure logic in Node, beside the code (`src/**/*.test.ts`)
//   gpu:  each package's `test/gpu.test.ts` runs that package's `*.gpu.test.ts` files in headless Chromium
//   dawn: the kernels' `*.gpu.test.ts` again, in Node on Dawn (the `webgpu` package): the runtime
//         works on any WebGPU host, and this is how kernels run on a GPU machine with no browser
//   e2e:  `test/` drives the studio and the CLI end to end
// The projects run one after another (groupOrder). GPU and Dawn files run one at a time (singleFork): their
// kernel sweeps keep every core busy. e2e files run two at a time: each owns its browser, profile, server and temp
// folders, and much of their time is waiting (a reload a minute into a run, a Ctrl-C, a CLI starting Chromium) that
// the other file's work fills. vitest's default is one worker per core less one: a single worker on 2 cores.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts'],
          // `*.gpu.test.ts` need a GPUDevice: the gpu and dawn projects run them in a page or on Dawn.
          exclude: ['**/node_modules/**', '**/*.gpu.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'gpu',
          sequence: { groupOrder: 1 },
          include: ['packages/*/test/gpu.test.ts'],
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'dawn',
          sequence: { groupOrder: 2 },
          include: ['packages/*/test/dawn.test.ts'],
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          sequence: { groupOrder: 3 },
          include: ['test/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
