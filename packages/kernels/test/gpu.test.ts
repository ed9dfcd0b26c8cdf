import { defineGpuTests } from '@webtune/harness/vitest';

await defineGpuTests('kernels', { prefixes: ['packages/kernels/'] });
