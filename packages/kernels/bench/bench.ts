// Kernel benchmarks in the page: Node calls window.__webtuneBench(request) and gets the rows.
import { Gpu } from '../src/runtime/gpu.ts';
import { benchBandwidth } from './bandwidth.bench.ts';
import { benchMatmul, matmulShapes } from './matmul.bench.ts';
import './rows.ts';

window.__webtuneBench = async (request) => {
  const gpu = await Gpu.create();
  try {
    const only = request.only;
    const rows = only === 'bandwidth' ? [] : await benchMatmul(gpu, matmulShapes(request.quick), request.budgetMs);
    if (only !== 'matmul') rows.push(...(await benchBandwidth(gpu, request.quick, request.budgetMs)));
    return rows;
  } finally {
    gpu.destroy();
  }
};
