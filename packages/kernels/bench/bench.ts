// Kernel benchmarks in the page: Node calls window.__webtuneBench(request) through the harness's PageCalls
// (apps/cli/src/commands/bench-hosts.ts) and gets the rows.
import { runKernelBench } from './kernel-bench.ts';
import './rows.ts';

window.__webtuneBench = (request) => runKernelBench(request, true);
