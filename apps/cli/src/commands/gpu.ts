// `pnpm cli gpu`: which WebGPU adapter headless Chromium gives us, and what it can do.
import { describeAdapter, openGpuSession, RUNNER_PAGE } from '@webtune/harness';
import { gpuOption, parseCommandArgs } from '../args.ts';

export const help = `pnpm cli gpu [--gpu auto|hardware|swiftshader] [--json]

Print the WebGPU adapter headless Chromium finds: vendor, architecture, features, limits.
Fails when there is no browser or no adapter.`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('gpu', argv, { gpu: { type: 'string' }, json: { type: 'boolean' } });
  const session = await openGpuSession({ path: RUNNER_PAGE, gpu: gpuOption(values.gpu) });
  try {
    const a = session.adapter;
    if (values.json) {
      process.stdout.write(`${JSON.stringify(a, null, 2)}\n`);
    } else {
      process.stdout.write(`${describeAdapter(a)}\nfeatures: ${a.features.join(', ')}\n`);
      for (const [k, v] of Object.entries(a.limits)) process.stdout.write(`  ${k}: ${v}\n`);
    }
    return 0;
  } finally {
    await session.close();
  }
}
