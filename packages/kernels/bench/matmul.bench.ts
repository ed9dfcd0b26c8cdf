// matmul GFLOP/s on training-shaped problems: ours vs the naive WGSL kernel vs tfjs-backend-webgpu's
// matMul, all on the same GPUDevice in the same page, timed the same way.
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import * as tf from '@tensorflow/tfjs-core';
import { matmul } from '../src/ops/matmul/matmul.ts';
import type { Gpu } from '../src/runtime/gpu.ts';
import { UniformWriter } from '../src/runtime/uniform.ts';
import { uniform } from '../src/testing/random.ts';
import naiveSource from './naive_matmul.wgsl?raw';
import type { BenchRow } from './rows.ts';
import { repsFor, timeGpu } from './timing.ts';

export interface MatmulShape {
  name: string;
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
}

/** Training shapes: square, a fused QKV-like projection, LoRA's skinny products, backward layouts. */
export function matmulShapes(quick: boolean): MatmulShape[] {
  const T = quick ? 256 : 512;
  const H = quick ? 256 : 512;
  const shapes: MatmulShape[] = [
    { name: 'square 256', M: 256, N: 256, K: 256 },
    { name: 'square 512', M: 512, N: 512, K: 512 },
    { name: `[T,H]x[H,3H] T=${T} H=${H}`, M: T, N: 3 * H, K: H },
    { name: `LoRA down [T,H]x[H,8] T=${4 * T}`, M: 4 * T, N: 8, K: H, transB: true },
    { name: `LoRA up [T,8]x[8,H] T=${4 * T}`, M: 4 * T, N: H, K: 8, transB: true },
    { name: 'backward dX: NN 512', M: 512, N: 512, K: 512 },
    { name: 'forward xWᵀ: NT 512', M: 512, N: 512, K: 512, transB: true },
    { name: 'backward dW = dYᵀX: TN 512', M: 512, N: 512, K: 512, transA: true },
  ];
  if (!quick) shapes.splice(2, 0, { name: 'square 1024', M: 1024, N: 1024, K: 1024 });
  return shapes;
}

let tfReady: Promise<WebGPUBackend> | undefined;
export function tfBackend(device: GPUDevice): Promise<WebGPUBackend> {
  tfReady ??= (async () => {
    tf.env().set('WEBGPU_CPU_FORWARD', false); // keep every op on the GPU, however small
    // tfjs registers its kernels under the name 'webgpu'; swap that backend's factory for one
    // that uses our device, so both libraries share a queue and one timing method covers both.
    const backend = new WebGPUBackend(device);
    tf.removeBackend('webgpu');
    tf.registerBackend('webgpu', () => backend);
    await tf.setBackend('webgpu');
    return backend;
  })();
  return tfReady;
}

/**
 * Submit what tfjs has recorded: it keeps a compute pass open across ops, so end that first. tfjs may
 * already have submitted on its own (it flushes every N dispatches), leaving nothing to submit.
 */
export function flushTfjs(backend: WebGPUBackend): void {
  if (!(backend as unknown as { commandEncoder: GPUCommandEncoder | null }).commandEncoder) return;
  backend.endComputePassEncoder();
  backend.submitQueue();
}

async function naiveDispatch(gpu: Gpu, s: MatmulShape, A: GPUBuffer, B: GPUBuffer, C: GPUBuffer) {
  const pipeline = await gpu.pipeline({ name: 'naive_matmul', source: naiveSource }, { TRANS_A: !!s.transA, TRANS_B: !!s.transB });
  const params = gpu.uniform(new UniformWriter().u32(s.M).u32(s.N).u32(s.K).u32(0).bytes(), 'naive params');
  const bindGroup = gpu.device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [params, A, B, C].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  return { label: 'naive', pipeline, bindGroup, workgroups: [Math.ceil(s.N / 16), Math.ceil(s.M / 16), 1] as [number, number, number] };
}

export async function benchMatmul(gpu: Gpu, shapes: MatmulShape[], budgetMs: number): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const backend = await tfBackend(gpu.device);
  for (const s of shapes) {
    const flops = 2 * s.M * s.N * s.K;
    const aShape = s.transA ? [s.K, s.M] : [s.M, s.K];
    const bShape = s.transB ? [s.N, s.K] : [s.K, s.N];
    const a = uniform(s.M * s.K, 1);
    const b = uniform(s.K * s.N, 2);
    const A = gpu.upload(a, aShape, 'A');
    const B = gpu.upload(b, bShape, 'B');
    const C = gpu.tensor([s.M, s.N], 'C');
    const ours = await matmul(gpu, C, A, B, { transA: s.transA, transB: s.transB });
    const naive = await naiveDispatch(gpu, s, A.buffer, B.buffer, C.buffer);
    const ta = tf.tensor2d(a, aShape as [number, number]);
    const tb = tf.tensor2d(b, bShape as [number, number]);
    const flush = () => {};
    // Estimate from a ~1.5 GFLOP/s floor so slow adapters still finish.
    const reps = repsFor(flops / 1.5e6, budgetMs);
    const impls: [string, () => void, () => void][] = [
      ['webtune', () => gpu.run(...ours), flush],
      ['naive', () => gpu.run(naive), flush],
      ['tfjs-webgpu', () => tf.dispose(tf.matMul(ta, tb, s.transA, s.transB)), () => flushTfjs(backend)],
    ];
    const times: Record<string, number> = {};
    for (const [impl, run, implFlush] of impls) {
      const naiveReps = impl === 'naive' ? Math.max(1, Math.floor(reps / 4)) : reps;
      const t = await timeGpu(gpu.device, run, implFlush, naiveReps, impl === 'naive' ? 1 : 3);
      times[impl] = t.ms;
      rows.push({ suite: 'matmul', case: s.name, impl, ms: t.ms, reps: t.reps, metric: 'GFLOP/s', value: flops / t.ms / 1e6 });
    }
    for (const row of rows.slice(-3)) {
      row.vsTfjs = times['tfjs-webgpu'] / row.ms;
      row.vsNaive = times.naive / row.ms;
    }
    tf.dispose([ta, tb]);
    for (const t of [A, B, C]) t.buffer.destroy();
  }
  return rows;
}
