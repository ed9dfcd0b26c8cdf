// Kernel benchmarks in the page: Node calls window.__webtuneBench(request) and gets the rows.
import { runKernelBench } from './kernel-bench.ts';
import './rows.ts';

window.__webtuneBench = (request) => runKernelBench(request, true);
