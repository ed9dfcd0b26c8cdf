// matmul GFLOP/s on training-shaped problems: ours vs the naive WGSL kernel vs tfjs-backend-webgpu's
// matMul, all on the same GPUDevice in the same page, timed the same way (timing.ts), and each
// transposed layout's time against the NN layout of its shape.
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import * as tf from '@tensorflow/tfjs-core';
import { matmul } from '../src/ops/matmul/matmul.ts';
import type { Gpu } from '../src/runtime/gpu.ts';
import { UniformWriter } from '../src/runtime/uniform.ts';
import { uniform } from '../src/testing/random.ts';
import naiveSource from './naive_matmul.wgsl?raw';
import type { BenchRow } from './rows.ts';
import { timeGpu } from './timing.ts';

export interface MatmulShape {
  name: string;
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  /** Judged against tfjs: ours at least 2x its speed. */
  square?: boolean;
  /** A transposed layout: the name of the NN case of the same M, N, K, whose time it must stay within 1.5x of. */
  nn?: string;
}

/**
 * Training shapes: square, a fused QKV-like projection, the layouts of one shape (the forward
 * x Wᵀ is NT, the weight gradient dYᵀ X is TN), and LoRA's skinny products, forward and backward
 * as model/linear.ts runs them (rank 8; T x 4 rows for a micro-batch).
 */
export function matmulShapes(quick: boolean): MatmulShape[] {
  const T = quick ? 256 : 512;
  const H = quick ? 256 : 512;
  const L = 4 * T;
  const r = 8;
  return [
    { name: 'square 256', M: 256, N: 256, K: 256, square: true },
    { name: 'square 512', M: 512, N: 512, K: 512, square: true },
    ...(quick ? [] : [{ name: 'square 1024', M: 1024, N: 1024, K: 1024, square: true }]),
    { name: 'NT 512: x Wᵀ', M: 512, N: 512, K: 512, transB: true, nn: 'square 512' },
    { name: 'TN 512: dW = dYᵀ X', M: 512, N: 512, K: 512, transA: true, nn: 'square 512' },
    { name: `[T,H]x[H,3H] T=${T} H=${H}`, M: T, N: 3 * H, K: H },
    { name: `LoRA z = x Aᵀ: NT [${L},${H}]x[${r},${H}]ᵀ`, M: L, N: r, K: H, transB: true },
    { name: `LoRA y += z Bᵀ: NT [${L},${r}]x[${H},${r}]ᵀ`, M: L, N: H, K: r, transB: true },
    { name: `LoRA u = dy B: NN [${L},${H}]x[${H},${r}]`, M: L, N: r, K: H },
    { name: `LoRA dB = dyᵀ z: TN [${L},${H}]ᵀx[${L},${r}]`, M: H, N: r, K: L, transA: true },
    { name: `LoRA dA = uᵀ x: TN [${L},${r}]ᵀx[${L},${H}]`, M: r, N: H, K: L, transA: true },
  ];
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
    const impls: [string, () => void, () => void][] = [
      ['webtune', () => gpu.run(...ours), flush],
      ['naive', () => gpu.run(naive), flush],
      ['tfjs-webgpu', () => tf.dispose(tf.matMul(ta, tb, s.transA, s.transB)), () => flushTfjs(backend)],
    ];
    const caseRows: BenchRow[] = [];
    for (const [impl, run, implFlush] of impls) {
      const t = await timeGpu(gpu.device, run, implFlush, budgetMs);
      caseRows.push({ suite: 'matmul', case: s.name, impl, ms: t.ms, reps: t.reps, metric: 'GFLOP/s', value: flops / t.ms / 1e6 });
    }
    const ms = (impl: string) => caseRows.find((r) => r.impl === impl)?.ms ?? Number.NaN;
    for (const row of caseRows) {
      row.vsTfjs = ms('tfjs-webgpu') / row.ms;
      row.vsNaive = ms('naive') / row.ms;
      const nn = rows.find((r) => r.case === s.nn && r.impl === row.impl);
      if (nn) row.vsNN = row.ms / nn.ms;
    }
    const ourRow = caseRows[0];
    if (s.square) ourRow.target = { what: `${s.name}: webtune's speed over tfjs's`, value: ourRow.vsTfjs ?? Number.NaN, min: 2 };
    if (s.nn) ourRow.target = { what: `${s.name}: time over ${s.nn}'s (NN)`, value: ourRow.vsNN ?? Number.NaN, max: 1.5 };
    rows.push(...caseRows);
    tf.dispose([ta, tb]);
    for (const t of [A, B, C]) t.buffer.destroy();
  }
  return rows;
}
