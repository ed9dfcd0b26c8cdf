// `pnpm bench`: kernel and training benchmarks in headless Chromium, ours beside peers in one page, or in Node on
// Dawn (bench-hosts.ts).
import { cpus, platform, release } from 'node:os';
import { join } from 'node:path';
import { type AdapterReport, describeAdapter, REPO_ROOT } from '@webtune/harness';
import { type BenchRequest, type BenchRow, meets, type Target } from '../../../../packages/kernels/bench/rows.ts';
import type { TrainingBenchRow } from '../../../../packages/trainer/bench/training.bench.ts';
import realShapes from '../../../../scripts/real-shapes/configs.json';
import { gpuOption, integerOption, numberOption, parseCommandArgs, runtimeOption, UsageError } from '../args.ts';
import { OutputFile } from '../out-dir.ts';
import { formatNumber, formatTable } from '../table.ts';
import { kernelBench, trainingBench } from './bench-hosts.ts';

/** The released models' shapes the training bench can build (shared with scripts/real-shapes/make_checkpoint.py). */
const REAL_SHAPES: Record<string, unknown> = realShapes;

export const help = `pnpm bench [--quick] [--only matmul|bandwidth|training] [--model NAME [--batch-size N] [--max-length T]] [--weights bf16|f32] [--budget-ms N] [--peak-gflops N] [--out FILE] [--runtime browser|dawn] [--gpu auto|hardware|swiftshader]

Benchmarks in headless Chromium (or in Node on Dawn: --runtime dawn), each implementation in the
same page and timed the same way (wall clock to queue.onSubmittedWorkDone; after a warm-up, the
median of 3 rounds of as many runs as fill the budget):
  matmul     GFLOP/s on training shapes, LoRA's skinny forward and backward products among them:
             webtune vs a naive WGSL kernel vs tfjs-backend-webgpu (on webtune's device) vs
             jax-js (np.matmul on its own device of the same adapter: its API takes none), each
             peer's product checked against webtune's first; "x tfjs", "x jax-js" are webtune's
             speed over theirs, "vs NN" a transposed layout's time over the NN layout's
  bandwidth  GB/s of softmax (full, beside tfjs; causal apart), cross-entropy (beside tfjs) and
             the DPO loss
  training   real optimizer steps (trainer's loop: forward, loss, backward, host reads, grad norm,
             AdamW) on the same pairs, on a synthesized Llama: SFT on their chosen answers; DPO,
             ORPO and SimPO on the pairs (twice the sequences; DPO's reference cached); KTO on
             the pairs unpaired (its reference cached): tokens/s, each method's step time
             over SFT's, the share of the step in matmuls, the step's peak GPU
             bytes (the runtime's count of live buffers; the JSON has them by kind) and its
             dispatches, submits and host reads, and DPO's one-off reference log-probs
Then a PASS/FAIL line per target (set on SwiftShader): webtune >= 2x tfjs on the square matmuls,
transposed layouts within 1.5x of NN, DPO step <= 2.2x the SFT step on the same pairs.
Prints tables and writes JSON (default bench-results/bench.json) with the adapter and machine.
  --quick          smaller shapes and a 300 ms budget, for a fast look
  --model NAME     the training bench on a random bf16 checkpoint of a released model's shape
                   (${Object.keys(REAL_SHAPES).join(', ')}): SFT and DPO steps of 2 pairs x 256
                   tokens (64 with --quick), LoRA r16 on all seven projections, AdamW; one timed
                   step at least (implies --only training)
  --batch-size N   with --model: N sequences in the SFT step, N pairs in the DPO step (default 2)
  --max-length T   with --model: T tokens per sequence (default 256, 64 with --quick); e.g.
                   --batch-size 4 --max-length 512, the issue's real-GPU case, which
                   scripts/real-shapes/torch_step.py times in PyTorch
  --weights D      the training bench's checkpoint dtype: bf16 (default; its matrices stay packed
                   on the GPU) or f32 (twice the weight bytes: the cost before packing)
  --budget-ms N    timed work per round per implementation (default 1500, 300 with --quick)
  --peak-gflops N  the device's fp32 peak in GFLOP/s (from its spec sheet): adds each GFLOP/s
                   figure's fraction of it
  --runtime R      browser (default): headless Chromium, the peers beside ours; dawn: Node on
                   Dawn (the webgpu package), no browser, e.g. a GPU server: the same suites,
                   --model too, with tfjs and jax-js shown as skipped (they run in the page only)
  --gpu G          auto (default: a GPU if there is one, else SwiftShader), hardware (a GPU;
                   on Dawn, none is an error that says what to install), swiftshader (software)`;

/** A GFLOP/s figure as a fraction of the device's fp32 peak, when the user gave it. */
const ofPeak = (gflops: number, peak: number | undefined): number | string => (peak ? gflops / peak : '');

export function kernelTable(rows: BenchRow[], peakGflops?: number): string {
  const cases = [...new Set(rows.map((r) => `${r.suite}\u0000${r.case}`))];
  const impls = [...new Set(rows.map((r) => r.impl))];
  const withJax = impls.includes('jax-js'); // the matmul suite only
  const body = cases.map((key) => {
    const [suite, name] = key.split('\u0000');
    const of = (impl: string) => rows.find((r) => r.suite === suite && r.case === name && r.impl === impl);
    const ours = of('webtune');
    const peak = ours?.metric === 'GFLOP/s' ? [ofPeak(ours.value, peakGflops)] : peakGflops ? [''] : [];
    const cell = (impl: string) => {
      const r = of(impl);
      return r?.skipped ? 'skipped' : (r?.value ?? '');
    };
    return [
      suite,
      name,
      ours?.metric ?? '',
      ...impls.map(cell),
      ours?.vsTfjs ?? '',
      ...(withJax ? [ours?.vsJax ?? ''] : []),
      ours?.vsNaive ?? '',
      ours?.vsNN ?? '',
      ...peak,
    ];
  });
  const table = formatTable(
    ['suite', 'case', 'unit', ...impls, 'x tfjs', ...(withJax ? ['x jax-js'] : []), 'x naive', 'vs NN', ...(peakGflops ? ['of peak'] : [])],
    body,
  );
  // Each skipped implementation once, with its reason, under the table.
  const skipped = new Map(rows.filter((r) => r.skipped).map((r) => [r.impl, r.skipped]));
  return [table, ...[...skipped].map(([impl, why]) => `${impl} skipped: ${why}`)].join('\n');
}

export function trainingTable(rows: TrainingBenchRow[], peakGflops?: number): string {
  return formatTable(
    [
      'case',
      'ms/step',
      'tokens/s',
      'GFLOP/s',
      ...(peakGflops ? ['of peak'] : []),
      'x SFT',
      'matmul share',
      'peak GPU MB',
      'dispatches',
      'submits',
      'host reads',
    ],
    rows.map((r) => {
      const gflops = r.flopsPerStep / r.msPerStep / 1e6;
      return [
        r.case,
        r.msPerStep,
        r.tokensPerSecond,
        gflops,
        ...(peakGflops ? [ofPeak(gflops, peakGflops)] : []),
        r.overSft ?? '',
        r.matmulShare ?? '',
        r.peakGpuBytes === undefined ? '' : r.peakGpuBytes / 1e6,
        // Counts, printed whole (the table's number format keeps 3 significant digits).
        ...(r.perStep ? [r.perStep.dispatches, r.perStep.submits, r.perStep.hostReads].map(String) : ['', '', '']),
      ];
    }),
  );
}

/** One PASS/FAIL line per target; they were set on SwiftShader, so elsewhere they are for information. */
export function targetLines(targets: Target[], adapter: string): string {
  const bound = (t: Target) =>
    [t.min !== undefined ? `>= ${t.min}` : '', t.max !== undefined ? `<= ${t.max}` : ''].filter(Boolean).join(' and ');
  const where = /swiftshader/i.test(adapter) ? 'targets' : `targets (set on SwiftShader; on ${adapter} for information)`;
  return [where, ...targets.map((t) => `${meets(t) ? 'PASS' : 'FAIL'}  ${t.what}: ${formatNumber(t.value)} (target ${bound(t)})`)].join(
    '\n',
  );
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('bench', argv, {
    quick: { type: 'boolean' },
    only: { type: 'string' },
    'budget-ms': { type: 'string' },
    out: { type: 'string' },
    gpu: { type: 'string' },
    'peak-gflops': { type: 'string' },
    weights: { type: 'string' },
    model: { type: 'string' },
    'batch-size': { type: 'string' },
    'max-length': { type: 'string' },
    runtime: { type: 'string' },
  });
  const runtime = runtimeOption(values.runtime);
  const model = values.model;
  if (model !== undefined && !(model in REAL_SHAPES))
    throw new UsageError(`--model must be one of ${Object.keys(REAL_SHAPES).join(', ')} (got "${model}")`);
  if (model !== undefined && values.only !== undefined && values.only !== 'training')
    throw new UsageError(`--model times training steps: give it without --only ${values.only}`);
  for (const flag of ['batch-size', 'max-length'] as const)
    if (model === undefined && values[flag] !== undefined) throw new UsageError(`--${flag} sizes the --model steps: give a --model too`);
  const only = model === undefined ? values.only : 'training';
  if (only !== undefined && !['matmul', 'bandwidth', 'training'].includes(only))
    throw new UsageError(`--only must be matmul, bandwidth or training (got "${only}")`);
  const weights = values.weights ?? 'bf16';
  if (weights !== 'bf16' && weights !== 'f32') throw new UsageError(`--weights must be bf16 or f32 (got "${weights}")`);
  const quick = values.quick ?? false;
  const batchSize = integerOption('batch-size', values['batch-size'], 2, 1, 1024);
  const maxLength = integerOption('max-length', values['max-length'], quick ? 64 : 256, 8, 32768);
  const shape = model === undefined ? {} : { batchSize, maxLength }; // what --model's steps are sized by
  const budgetMs = numberOption('budget-ms', values['budget-ms'], quick ? 300 : 1500, 10);
  const peak = values['peak-gflops'] === undefined ? undefined : numberOption('peak-gflops', values['peak-gflops'], 0, 1e-3);
  const targets: Target[] = [];
  const gpu = gpuOption(values.gpu);
  // Checked now: a path that cannot be written costs a second, not the minutes of the run.
  const out = OutputFile.check(values.out ?? join(REPO_ROOT, 'bench-results', 'bench.json'));
  const result: Record<string, unknown> = { date: new Date().toISOString() };
  let adapter = '';
  const started = (what: string) => (report: AdapterReport) => {
    adapter = describeAdapter(report);
    result.adapter = report;
    process.stderr.write(`webgpu adapter${runtime === 'dawn' ? ' (Dawn in Node)' : ''}: ${adapter}\nrunning ${what}...\n`);
  };
  if (only !== 'training') {
    const request: BenchRequest = { quick, budgetMs, only: only as BenchRequest['only'] };
    const { rows } = await kernelBench(runtime, gpu, request, started(`kernel benchmarks${quick ? ' (quick)' : ''}`));
    result.kernels = rows;
    process.stdout.write(`\n${kernelTable(rows, peak)}\n`);
    for (const r of rows) if (r.target) targets.push(r.target);
  }
  if (only === undefined || only === 'training') {
    const request = { quick, budgetMs, weights: weights === 'bf16' ? 'BF16' : 'F32', model, ...shape } as const;
    const { rows } = await trainingBench(runtime, gpu, request, started('training benchmarks'));
    result.training = rows;
    process.stdout.write(`\n${trainingTable(rows, peak)}\n`);
    for (const r of rows) if (r.target) targets.push(r.target);
  }
  if (targets.length > 0) process.stdout.write(`\n${targetLines(targets, adapter)}\n`);
  process.stdout.write(`\nadapter${runtime === 'dawn' ? ' (Dawn in Node)' : ''}: ${adapter}\n`);
  result.machine = { platform: platform(), release: release(), cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length };
  result.request = { quick, budgetMs, only: only ?? 'all', peakGflops: peak, weights, model, ...shape, runtime, gpu };
  result.targets = targets.map((t) => ({ ...t, pass: meets(t) }));
  const json = new TextEncoder().encode(`${JSON.stringify(result, null, 2)}\n`);
  await out.commitStreamed(async (append) => append(json));
  process.stdout.write(`wrote ${out.path}\n`);
  return 0;
}
