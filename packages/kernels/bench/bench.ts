// Kernel benchmarks in the page: Node calls window.__webtuneBench(request) and gets the rows.
import { Gpu } from '../src/runtime/gpu.ts';
import { benchMatmul, matmulShapes } from './matmul.bench.ts';
import './rows.ts';

window.__webtuneBench = async (request) => {
  const gpu = await Gpu.create();
  try {
    return await benchMatmul(gpu, matmulShapes(request.quick), request.budgetMs);
  } finally {
    gpu.destroy();
  }
};
