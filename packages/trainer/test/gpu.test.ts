import { defineGpuTests } from '@webtune/harness/vitest';
import { webtuneTrainer } from '../vite.ts';
import { hubTestPlugins } from './hub-fixtures.ts';

// The page server also mounts Hub-layout mocks over the fixtures, for src/model/source.gpu.test.ts.
// WEBTUNE_GPU_GREP runs a subset: the tests whose "<file> <name>" contains it (e.g. "generate.gpu.test.ts").
const hub = await hubTestPlugins();
try {
  await defineGpuTests('trainer', {
    prefixes: ['packages/trainer/'],
    grep: process.env.WEBTUNE_GPU_GREP || undefined,
    plugins: [webtuneTrainer(), ...hub.plugins],
  });
} finally {
  await hub.close();
}
