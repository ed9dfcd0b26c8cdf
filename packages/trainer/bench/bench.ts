// Training benchmarks in the page: Node calls window.__webtuneTrainingBench(request).
import { Gpu } from '@webtune/kernels';
import { benchRealShape } from './real-shapes.ts';
import { benchTraining } from './training.bench.ts';

window.__webtuneTrainingBench = async (request) => {
  const gpu = await Gpu.create();
  try {
    return await (request.model ? benchRealShape(gpu, request) : benchTraining(gpu, request));
  } finally {
    gpu.destroy();
  }
};
