// `pnpm bench`: kernel benchmarks in headless Chromium, ours beside peers in the same page.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, platform, release } from 'node:os';
import { join } from 'node:path';
import { describeAdapter, openGpuSession, REPO_ROOT } from '@webtune/harness';
import type { BenchRequest, BenchRow } from '../../../../packages/kernels/bench/rows.ts';
import { gpuOption, numberOption, parseCommandArgs } from '../args.ts';
import { formatTable } from '../table.ts';

export const help = `pnpm bench [--quick] [--budget-ms N] [--out FILE] [--gpu auto|hardware|swiftshader]

Kernel benchmarks in headless Chromium: matmul GFLOP/s on training shapes for webtune's kernel,
a naive WGSL kernel and tfjs-backend-webgpu's matMul, all on one GPUDevice in one page and timed
the same way (wall clock to queue.onSubmittedWorkDone, median of 3 rounds). Prints a table and
writes JSON (default bench-results/kernels.json) with the adapter and machine it ran on.
  --quick        smaller shapes, for a fast look
  --budget-ms N  timed work per round per implementation (default 1500)`;

const KERNEL_BENCH_PAGE = 'packages/kernels/bench/bench.html';

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

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('bench', argv, {
    quick: { type: 'boolean' },
    'budget-ms': { type: 'string' },
    out: { type: 'string' },
    gpu: { type: 'string' },
  });
  const request: BenchRequest = { quick: values.quick ?? false, budgetMs: numberOption('budget-ms', values['budget-ms'], 1500, 10) };
  const session = await openGpuSession({ path: KERNEL_BENCH_PAGE, gpu: gpuOption(values.gpu) });
  try {
    const adapter = describeAdapter(session.adapter);
    process.stderr.write(`webgpu adapter: ${adapter}\nrunning kernel benchmarks${request.quick ? ' (quick)' : ''}...\n`);
    await session.page.waitForFunction(() => typeof window.__webtuneBench === 'function');
    const rows = await session.page.evaluate((r) => window.__webtuneBench(r), request);
    process.stdout.write(`\n${kernelTable(rows)}\n\nadapter: ${adapter}\n`);
    const out = values.out ?? join(REPO_ROOT, 'bench-results', 'kernels.json');
    await mkdir(join(out, '..'), { recursive: true });
    const machine = { platform: platform(), release: release(), cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length };
    await writeFile(
      out,
      `${JSON.stringify({ date: new Date().toISOString(), adapter: session.adapter, machine, request, rows }, null, 2)}\n`,
    );
    process.stdout.write(`wrote ${out}\n`);
    return 0;
  } finally {
    await session.close();
  }
}
