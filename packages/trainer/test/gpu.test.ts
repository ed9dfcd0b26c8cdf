import { defineGpuTests } from '@webtune/harness/vitest';
import { webtuneTrainer } from '../vite.ts';
import { hubTestPlugins } from './hub-fixtures.ts';

// The page server also mounts Hub-layout mocks over the fixtures, for src/model/source.gpu.ts.
const hub = await hubTestPlugins();
try {
  await defineGpuTests('trainer', { prefixes: ['packages/trainer/'], plugins: [webtuneTrainer(), ...hub.plugins] });
} finally {
  await hub.close();
}
