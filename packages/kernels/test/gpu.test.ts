import { defineGpuTests } from '@webtune/harness/vitest';

// WEBTUNE_GPU_GREP runs a subset: the tests whose "<file> <name>" contains it (e.g. "matmul").
await defineGpuTests('kernels', { prefixes: ['packages/kernels/'], grep: process.env.WEBTUNE_GPU_GREP || undefined });
