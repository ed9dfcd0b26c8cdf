import { defineGpuTests } from '../src/vitest.ts';

await defineGpuTests('harness', { prefixes: ['packages/harness/'] });
