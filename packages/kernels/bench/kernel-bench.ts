// The kernel benchmarks on whatever WebGPU host runs them: the browser page (bench.ts) with the peer libraries, or
// Dawn in Node (`pnpm bench --runtime dawn`), where only webtune's kernels and the naive one run.
import { Gpu } from '../src/runtime/gpu.ts';
import { benchBandwidth } from './bandwidth.bench.ts';
import { benchMatmul, matmulShapes } from './matmul.bench.ts';
import type { Skipped } from './peers.ts';
import type { BenchRequest, BenchRow } from './rows.ts';

/** `peers`: load and time tfjs and jax-js beside ours, or the reason they are not run here (shown in their rows). */
export async function runKernelBench(request: BenchRequest, peers: true | string): Promise<BenchRow[]> {
  const gpu = await Gpu.create();
  try {
    const loaded = peers === true ? await import('./peers.ts') : undefined;
    const skip = (name: Skipped['name']): Skipped => ({ name, skipped: peers as string });
    const tfjs = loaded ? await loaded.tfjsPeer(gpu.device) : skip('tfjs-webgpu');
    const only = request.only;
    const matmulPeers = async () => [tfjs, loaded ? await loaded.jaxPeer() : skip('jax-js')];
    const rows = only === 'bandwidth' ? [] : await benchMatmul(gpu, matmulShapes(request.quick), request.budgetMs, await matmulPeers());
    if (only !== 'matmul') rows.push(...(await benchBandwidth(gpu, request.quick, request.budgetMs, tfjs)));
    return rows;
  } finally {
    gpu.destroy();
  }
}
