// One vitest run for the whole repo, in four projects:
//   unit: pure logic in Node, beside the code (`src/**/*.test.ts`)
//   gpu:  each package's `test/gpu.test.ts` runs that package's `*.gpu.test.ts` files in headless Chromium
//   dawn: the kernels' `*.gpu.test.ts` again, in Node on Dawn (the `webgpu` package): the runtime
//         works on any WebGPU host, and this is how kernels run on a GPU machine with no browser
//   e2e:  `test/` drives the studio and the CLI end to end
// All four share one queue of files, two at a time (vitest's default is one worker per core less one: a single
// worker on 2 cores). Each file owns its browser, profile, server and temp folders, so any two can run side by side.
// One queue, not one project after another: a GPU file leaves about half the CPU idle (its page runs one test at a
// time, and waits on the GPU), which the e2e file beside it fills. The queue starts with the longest files, so the
// run does not end on one of them alone: see `LongestFirst`.

import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take longest, first and in this order: the trainer's and the kernels' GPU runners (minutes each) and
 * the e2e files that took 2 minutes or more in the last CI run (seconds, two at a time on the 2-core CI machine with
 * SwiftShader). Then the rest, GPU and e2e files before unit files (seconds each, to fill the end), each kind in
 * vitest's own order (longest first by its cache of the last run; by size on a fresh clone, where a short file that
 * runs long would start last).
 */
const LONGEST = [
  'packages/trainer/test/gpu.test.ts',
  'test/cli-classroom.test.ts', // 281
  'packages/kernels/test/gpu.test.ts',
  'test/studio.test.ts', // 175
  'packages/kernels/test/dawn.test.ts',
  'test/classroom.test.ts', // 149
  'test/cli-faults.test.ts', // 143
  'test/studio-pairs.test.ts', // 142
  'test/studio-resume.test.ts', // 141
  'test/cli-train.test.ts', // 140
];
const KIND_ORDER = ['gpu', 'dawn', 'e2e', 'unit'];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const known = LONGEST.findIndex((p) => f.moduleId.endsWith(`/${p}`));
      return known >= 0 ? known : LONGEST.length + KIND_ORDER.indexOf(f.project.name);
    };
    // Array.prototype.sort is stable: within a rank, vitest's order stands.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    maxWorkers: 2,
    sequence: { sequencer: LongestFirst },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts'],
          // `*.gpu.test.ts` need a GPUDevice: the gpu and dawn projects run them in a page or on Dawn.
          exclude: ['**/node_modules/**', '**/*.gpu.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'gpu',
          include: ['packages/*/test/gpu.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'dawn',
          include: ['packages/*/test/dawn.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
