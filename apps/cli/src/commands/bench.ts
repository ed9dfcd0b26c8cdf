// `pnpm bench`: kernel and training benchmarks in headless Chromium, ours beside peers in one page.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, platform, release } from 'node:os';
import { dirname, join } from 'node:path';
import { describeAdapter, openGpuSession, REPO_ROOT } from '@webtune/harness';
import { webtuneTrainer } from '@webtune/trainer/vite';
import type { BenchRequest, BenchRow } from '../../../../packages/kernels/bench/rows.ts';
import type { TrainingBenchRow } from '../../../../packages/trainer/bench/training.bench.ts';
import { gpuOption, numberOption, parseCommandArgs, UsageError } from '../args.ts';
import { formatTable } from '../table.ts';

export const help = `pnpm bench [--quick] [--only matmul|bandwidth|training] [--budget-ms N] [--out FILE] [--gpu auto|hardware|swiftshader]

Benchmarks in headless Chromium, each implementation on the same GPUDevice in the same page and
timed the same way (wall clock to queue.onSubmittedWorkDone, median of 3 rounds):
  matmul     GFLOP/s on training shapes: webtune vs a naive WGSL kernel vs tfjs-backend-webgpu
  bandwidth  GB/s of softmax and cross-entropy (beside tfjs) and the DPO loss
  training   tokens/s of an SFT step and a DPO step on the same sequences, DPO/SFT step-time
             ratio, share of the step spent in matmuls, on a synthesized Llama
Prints tables and writes JSON (default bench-results/bench.json) with the adapter and machine.
  --quick        smaller shapes, for a fast look
  --budget-ms N  timed work per round per implementation (default 1500)`;

export function kernelTable(rows: BenchRow[]): string {
  const cases = [...new Set(rows.map((r) => `${r.suite}\u0000${r.case}`))];
  const impls = [...new Set(rows.map((r) => r.impl))];
  const body = cases.map((key) => {
    const [suite, name] = key.split('\u0000');
    const of = (impl: string) => rows.find((r) => r.suite === suite && r.case === name && r.impl === impl);
    const ours = of('webtune');
    return [suite, name, ours?.metric ?? '', ...impls.map((i) => of(i)?.value ?? ''), ours?.vsTfjs ?? '', ours?.vsNaive ?? ''];
  });
  return formatTable(['suite', 'case', 'unit', ...impls, 'x tfjs', 'x naive'], body);
}

export function trainingTable(rows: TrainingBenchRow[]): string {
  return formatTable(
    ['case', 'ms/step', 'tokens/s', 'GFLOP/s', 'DPO/SFT', 'matmul share'],
    rows.map((r) => [r.case, r.msPerStep, r.tokensPerSecond, r.flopsPerStep / r.msPerStep / 1e6, r.dpoOverSft ?? '', r.matmulShare ?? '']),
  );
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('bench', argv, {
    quick: { type: 'boolean' },
    only: { type: 'string' },
    'budget-ms': { type: 'string' },
    out: { type: 'string' },
    gpu: { type: 'string' },
  });
  const only = values.only;
  if (only !== undefined && !['matmul', 'bandwidth', 'training'].includes(only))
    throw new UsageError(`--only must be matmul, bandwidth or training (got "${only}")`);
  const quick = values.quick ?? false;
  const budgetMs = numberOption('budget-ms', values['budget-ms'], 1500, 10);
  const gpu = gpuOption(values.gpu);
  const result: Record<string, unknown> = { date: new Date().toISOString() };
  let adapter = '';
  if (only !== 'training') {
    const session = await openGpuSession({ path: 'packages/kernels/bench/bench.html', gpu });
    try {
      adapter = describeAdapter(session.adapter);
      result.adapter = session.adapter;
      process.stderr.write(`webgpu adapter: ${adapter}\nrunning kernel benchmarks${quick ? ' (quick)' : ''}...\n`);
      await session.page.waitForFunction(() => typeof window.__webtuneBench === 'function');
      const request: BenchRequest = { quick, budgetMs, only: only as BenchRequest['only'] };
      const rows = await session.page.evaluate((r) => window.__webtuneBench(r), request);
      result.kernels = rows;
      process.stdout.write(`\n${kernelTable(rows)}\n`);
    } finally {
      await session.close();
    }
  }
  if (only === undefined || only === 'training') {
    const session = await openGpuSession({ path: 'packages/trainer/bench/bench.html', gpu, plugins: [webtuneTrainer()] });
    try {
      adapter = describeAdapter(session.adapter);
      result.adapter = session.adapter;
      process.stderr.write('running training benchmarks...\n');
      await session.page.waitForFunction(() => typeof window.__webtuneTrainingBench === 'function');
      const rows = await session.page.evaluate((r) => window.__webtuneTrainingBench(r), { quick, budgetMs });
      result.training = rows;
      process.stdout.write(`\n${trainingTable(rows)}\n`);
    } finally {
      await session.close();
    }
  }
  process.stdout.write(`\nadapter: ${adapter}\n`);
  const out = values.out ?? join(REPO_ROOT, 'bench-results', 'bench.json');
  await mkdir(dirname(out), { recursive: true });
  result.machine = { platform: platform(), release: release(), cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length };
  result.request = { quick, budgetMs, only: only ?? 'all' };
  await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`wrote ${out}\n`);
  return 0;
}
