// Training benchmarks in the page: Node calls window.__webtuneTrainingBench(request).
import { runTrainingBench } from './run-training-bench.ts';

window.__webtuneTrainingBench = runTrainingBench;
