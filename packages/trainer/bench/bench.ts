// Training benchmarks in the page: Node calls window.__webtuneTrainingBench(request) through the harness's PageCalls
// (apps/cli/src/commands/bench-hosts.ts) and gets the rows.
import { runTrainingBench } from './run-training-bench.ts';

window.__webtuneTrainingBench = runTrainingBench;
