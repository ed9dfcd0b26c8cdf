import { defineGpuTests } from '@webtune/harness/vitest';

await defineGpuTests('trainer', { prefixes: ['packages/trainer/'] });
