// The training benchmarks on whatever WebGPU host runs them: the browser page (bench.ts) or Dawn in Node
// (`pnpm bench --runtime dawn`).
import { Gpu } from '@webtune/kernels';
import { benchRealShape } from './real-shapes.ts';
import { benchTraining, type TrainingBenchRequest, type TrainingBenchRow } from './training.bench.ts';

export async function runTrainingBench(request: TrainingBenchRequest): Promise<TrainingBenchRow[]> {
  const gpu = await Gpu.create();
  try {
    return await (request.model ? benchRealShape(gpu, request) : benchTraining(gpu, request));
  } finally {
    gpu.destroy();
  }
}
