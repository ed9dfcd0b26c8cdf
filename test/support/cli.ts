// Run the CLI as a user would from the repo root, without pnpm's script banner on stdout.
import { type SpawnSyncOptions, spawnSync } from 'node:child_process';
import { REPO_ROOT } from '@webtune/harness';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], options: SpawnSyncOptions = {}): CliResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'apps/cli/src/main.ts', ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 600_000,
    ...options,
  });
  return { code: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}
