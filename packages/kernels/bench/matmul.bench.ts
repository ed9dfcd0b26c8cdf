// matmul GFLOP/s on training-shaped problems: ours vs the naive WGSL kernel vs the peers (tfjs-backend-webgpu's
// matMul on our GPUDevice, jax-js's np.matmul on its own device of the same adapter), in the same page, timed the
// same way (timing.ts), each peer's product checked against ours; and each transposed layout's time against the NN
// layout of its shape.
import { allclose, reductionTolerance } from '@webtune/harness/allclose';
import { matmul } from '../src/ops/matmul/matmul.ts';
import type { Gpu } from '../src/runtime/gpu.ts';
import { UniformWriter } from '../src/runtime/uniform.ts';
import { uniform } from '../src/testing/random.ts';
import naiveSource from './naive_matmul.wgsl?raw';
import type { MatmulPeer, Skipped } from './peers.ts';
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

async function naiveDispatch(gpu: Gpu, s: MatmulShape, A: GPUBuffer, B: GPUBuffer, C: GPUBuffer) {
  const pipeline = await gpu.pipeline({ name: 'naive_matmul', source: naiveSource }, { TRANS_A: !!s.transA, TRANS_B: !!s.transB });
  const params = gpu.uniform(new UniformWriter().u32(s.M).u32(s.N).u32(s.K).u32(0).bytes(), 'naive params');
  const bindGroup = gpu.device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [params, A, B, C].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  return { label: 'naive', pipeline, bindGroup, workgroups: [Math.ceil(s.N / 16), Math.ceil(s.M / 16), 1] as [number, number, number] };
}

/**
 * A peer's product against ours: each is a float32 sum of K products of values in [-1, 1] within
 * reductionTolerance of the exact one, so they differ by at most twice that. A peer outside it computes another
 * product (a layout taken the wrong way), and its time would say nothing: the bench stops.
 */
function checkPeer(name: string, shape: MatmulShape, got: Float32Array, ours: Float32Array): number {
  const report = allclose(got, ours, reductionTolerance(shape.K, shape.K, 16), `matmul ${shape.name}: ${name}'s C against webtune's`);
  if (!report.ok) throw new Error(`${report.message}. ${name} does not compute the product webtune does: its timing would compare nothing`);
  return report.maxAbsError;
}

export async function benchMatmul(gpu: Gpu, shapes: MatmulShape[], budgetMs: number, peers: (MatmulPeer | Skipped)[]): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const s of shapes) {
    const flops = 2 * s.M * s.N * s.K;
    const aShape: [number, number] = s.transA ? [s.K, s.M] : [s.M, s.K];
    const bShape: [number, number] = s.transB ? [s.N, s.K] : [s.K, s.N];
    const a = uniform(s.M * s.K, 1);
    const b = uniform(s.K * s.N, 2);
    const A = gpu.upload(a, aShape, 'A');
    const B = gpu.upload(b, bShape, 'B');
    const C = gpu.tensor([s.M, s.N], 'C');
    const ours = await matmul(gpu, C, A, B, { transA: s.transA, transB: s.transB });
    gpu.run(...ours);
    const oursC = await gpu.read(C);
    const naive = await naiveDispatch(gpu, s, A.buffer, B.buffer, C.buffer);
    // The baseline is held to the same check as the peers: a ratio over a kernel that computes another product says nothing.
    gpu.run(naive);
    const naiveDiff = checkPeer('the naive kernel', s, await gpu.read(C), oursC);
    const noFlush = () => {};
    const caseRows: BenchRow[] = [];
    const time = async (impl: string, device: GPUDevice, run: () => void | Promise<void>, flush: () => void) => {
      const t = await timeGpu(device, run, flush, budgetMs);
      const row: BenchRow = { suite: 'matmul', case: s.name, impl, ms: t.ms, reps: t.reps, metric: 'GFLOP/s', value: flops / t.ms / 1e6 };
      caseRows.push(row);
      return row;
    };
    await time('webtune', gpu.device, () => gpu.run(...ours), noFlush);
    (await time('naive', gpu.device, () => gpu.run(naive), noFlush)).maxAbsDiff = naiveDiff;
    for (const peer of peers) {
      if ('skipped' in peer) {
        caseRows.push({
          suite: 'matmul',
          case: s.name,
          impl: peer.name,
          ms: Number.NaN,
          reps: 0,
          metric: 'GFLOP/s',
          value: Number.NaN,
          skipped: peer.skipped,
        });
        continue;
      }
      const problem = peer.matmul({ a, aShape, b, bShape, transA: !!s.transA, transB: !!s.transB });
      try {
        const maxAbsDiff = checkPeer(peer.name, s, await problem.result(), oursC);
        (await time(peer.name, peer.device, problem.run, peer.flush)).maxAbsDiff = maxAbsDiff;
      } finally {
        problem.dispose();
      }
    }
    const measured = (impl: string) => caseRows.find((r) => r.impl === impl && !r.skipped)?.ms;
    const over = (impl: string, row: BenchRow) => {
      const ms = measured(impl);
      return ms === undefined ? undefined : ms / row.ms;
    };
    for (const row of caseRows) {
      if (row.skipped) continue;
      row.vsTfjs = over('tfjs-webgpu', row);
      row.vsJax = over('jax-js', row);
      row.vsNaive = over('naive', row);
      const nn = rows.find((r) => r.case === s.nn && r.impl === row.impl);
      if (nn) row.vsNN = row.ms / nn.ms;
    }
    const ourRow = caseRows[0];
    if (s.square && ourRow.vsTfjs !== undefined)
      ourRow.target = { what: `${s.name}: webtune's speed over tfjs's`, value: ourRow.vsTfjs, min: 2 };
    if (s.nn) ourRow.target = { what: `${s.name}: time over ${s.nn}'s (NN)`, value: ourRow.vsNN ?? Number.NaN, max: 1.5 };
    rows.push(...caseRows);
    for (const t of [A, B, C]) t.buffer.destroy();
  }
  return rows;
}
