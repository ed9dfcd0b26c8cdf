// Where `pnpm bench` runs its suites: in headless Chromium (a page per suite, the peers beside ours), or in Node on
// Dawn (the `webgpu` package) with no browser, for a GPU machine that has none. The bench modules are the same: on
// Dawn, this process imports them (WGSL as text through raw-imports.ts), and they find Dawn's navigator.gpu where
// the page finds the browser's.
import { type AdapterReport, type GpuChoice, openDawn, openGpuSession, PageCalls, type SessionOptions } from '@webtune/harness';
import { webtuneTrainer } from '@webtune/trainer/vite';
import type { BenchRequest, BenchRow } from '../../../../packages/kernels/bench/rows.ts';
import type { TrainingBenchRequest, TrainingBenchRow } from '../../../../packages/trainer/bench/training.bench.ts';
import type { Runtime } from '../args.ts';

/** Why the peer libraries have no rows on Dawn: the bench loads them in the browser page only. */
export const PEERS_ON_DAWN =
  'not run with --runtime dawn: the peer libraries are timed in the browser page only (pnpm bench --runtime browser)';

export interface Hosted<Rows> {
  adapter: AdapterReport;
  rows: Rows;
}

/** Told the adapter once the suite's host has one, before the suite runs (a suite may run for minutes). */
export type OnAdapter = (adapter: AdapterReport) => void;

/**
 * Imports a bench module into this process with `load`, as the CLI's Dawn host imports the trainer (its WGSL as text
 * through raw-imports.ts under tsx; inlined where the CLI is bundled, scripts/real-shapes/gpu-kit.sh), and calls
 * `call` with it on Dawn's adapter.
 */
async function onDawn<M, Rows>(
  gpu: GpuChoice,
  onAdapter: OnAdapter,
  load: () => Promise<M>,
  call: (mod: M) => Promise<Rows>,
): Promise<Hosted<Rows>> {
  const { adapter } = await openDawn(gpu);
  onAdapter(adapter);
  await import('../raw-imports.ts');
  return { adapter, rows: await call(await load()) };
}

/** The functions the bench pages define (kernels/bench/bench.ts, trainer/bench/bench.ts): a suite, given its request. */
type BenchFunction = '__webtuneBench' | '__webtuneTrainingBench';

/**
 * Opens a bench page and runs its suite there. Through PageCalls, not inside one DevTools request: a suite on a
 * real model's shape may run past puppeteer's protocol timeout (on SwiftShader, a step alone takes many minutes).
 */
async function inPage<K extends BenchFunction>(
  gpu: GpuChoice,
  onAdapter: OnAdapter,
  page: Pick<SessionOptions, 'path' | 'plugins'>,
  suite: K,
  request: Parameters<Window[K]>[0],
): Promise<Hosted<Awaited<ReturnType<Window[K]>>>> {
  const session = await openGpuSession({ ...page, gpu });
  try {
    onAdapter(session.adapter);
    const calls = await PageCalls.attach(session.page);
    await session.page.waitForFunction((name) => typeof window[name] === 'function', {}, suite);
    const rows = await calls.call<BenchFunction>(suite, request);
    return { adapter: session.adapter, rows: rows as Awaited<ReturnType<Window[K]>> };
  } finally {
    await session.close();
  }
}

export async function kernelBench(
  runtime: Runtime,
  gpu: GpuChoice,
  request: BenchRequest,
  onAdapter: OnAdapter,
): Promise<Hosted<BenchRow[]>> {
  if (runtime === 'dawn') {
    const load = () => import('../../../../packages/kernels/bench/kernel-bench.ts');
    return onDawn(gpu, onAdapter, load, (m) => m.runKernelBench(request, PEERS_ON_DAWN));
  }
  return inPage(gpu, onAdapter, { path: 'packages/kernels/bench/bench.html' }, '__webtuneBench', request);
}

export async function trainingBench(
  runtime: Runtime,
  gpu: GpuChoice,
  request: TrainingBenchRequest,
  onAdapter: OnAdapter,
): Promise<Hosted<TrainingBenchRow[]>> {
  if (runtime === 'dawn') {
    const load = () => import('../../../../packages/trainer/bench/run-training-bench.ts');
    return onDawn(gpu, onAdapter, load, (m) => m.runTrainingBench(request));
  }
  const page = { path: 'packages/trainer/bench/bench.html', plugins: [webtuneTrainer()] };
  return inPage(gpu, onAdapter, page, '__webtuneTrainingBench', request);
}
