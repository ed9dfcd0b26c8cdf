// Training benchmarks in the page: Node calls window.__webtuneTrainingBench(request).
import { Gpu } from '@webtune/kernels';
import { benchTraining } from './training.bench.ts';

window.__webtuneTrainingBench = async (request) => {
  const gpu = await Gpu.create();
  try {
    return await benchTraining(gpu, request);
  } finally {
    gpu.destroy();
  }
};
