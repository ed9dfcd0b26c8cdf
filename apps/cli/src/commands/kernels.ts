// `pnpm cli kernels test`: run the kernel library's GPU tests in headless Chromium.
import { type GpuTestResult, runGpuTests } from '@webtune/harness';
import { gpuOption, parseCommandArgs, UsageError } from '../args.ts';

export const help = `pnpm cli kernels test [--grep TEXT] [--gpu auto|hardware|swiftshader]

Run every kernel's GPU-vs-float64-reference test in headless Chromium and print one line per
test. Exit code 1 if any test fails.`;

const MARK = { pass: 'ok  ', fail: 'FAIL', skip: 'skip' } as const;

export function formatResult(r: GpuTestResult): string {
  const head = `${MARK[r.status]} ${r.file.replace(/^\//, '')} > ${r.name} (${r.ms.toFixed(0)} ms)`;
  if (!r.message) return head;
  return `${head}\n${r.message.replace(/^/gm, '     ')}`;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('kernels', argv, { grep: { type: 'string' }, gpu: { type: 'string' } }, true);
  if (positionals[0] !== 'test' || positionals.length > 1) throw new UsageError('usage: pnpm cli kernels test [--grep TEXT]');
  const run = await runGpuTests({
    prefixes: ['packages/kernels/'],
    grep: values.grep,
    gpu: gpuOption(values.gpu),
    onResult: (r) => process.stdout.write(`${formatResult(r)}\n`),
  });
  const count = (s: GpuTestResult['status']) => run.results.filter((r) => r.status === s).length;
  process.stdout.write(`\n${count('pass')} passed, ${count('fail')} failed, ${count('skip')} skipped\n`);
  if (run.results.length === 0) {
    process.stdout.write('no kernel GPU tests matched\n');
    return 1;
  }
  return count('fail') > 0 ? 1 : 0;
}
