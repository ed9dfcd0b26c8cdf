// Run the CLI as a user would from the repo root, without pnpm's script banner on stdout.
import { type SpawnSyncOptions, spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { REPO_ROOT } from '@webtune/harness';
import { expect } from 'vitest';

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

/**
 * The same, without blocking the event loop: for tests that serve something to the CLI from this process
 * (a Hub mock) while it runs.
 */
export function cliAsync(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'apps/cli/src/main.ts', ...args], {
      cwd: REPO_ROOT,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 600_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A CLI run to interfere with while it goes: watch its stderr, send it signals, await its end. */
export interface CliProcess {
  pid: number;
  /** Resolves with stderr so far once a line of it matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  kill(signal: NodeJS.Signals): void;
  done: Promise<CliResult>;
}

export function cliProcess(args: string[], env: NodeJS.ProcessEnv): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'apps/cli/src/main.ts', ...args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiting: { pattern: RegExp; resolve: (s: string) => void }[] = [];
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
    for (const w of [...waiting]) if (w.pattern.test(stderr)) w.resolve(stderr);
  });
  const done = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code: code ?? (signal ? -1 : null), stdout, stderr }));
  });
  return {
    pid: child.pid as number,
    waitFor(pattern, timeoutMs = 300_000) {
      if (pattern.test(stderr)) return Promise.resolve(stderr);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${pattern} on stderr in ${timeoutMs} ms:\n${stderr}`)), timeoutMs);
        const entry = {
          pattern,
          resolve: (s: string) => {
            clearTimeout(timer);
            waiting.splice(waiting.indexOf(entry), 1);
            resolve(s);
          },
        };
        waiting.push(entry);
        void done.then(() => {
          if (!waiting.includes(entry)) return;
          clearTimeout(timer);
          reject(new Error(`the CLI ended without ${pattern} on stderr:\n${stderr}`));
        });
      });
    },
    kill: (signal) => child.kill(signal),
    done,
  };
}

/** Processes whose command line names `text` (a browser profile's folder), from the process table (/proc). */
export function processesNaming(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // ended meanwhile
    }
  }
  return pids;
}

/** Chromium ends with the CLI: none of its processes names the profile a moment after the CLI has exited. */
export async function expectNoBrowserLeft(profile: string): Promise<void> {
  for (let i = 0; i < 50 && processesNaming(`--user-data-dir=${profile}`).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  expect(processesNaming(`--user-data-dir=${profile}`), `browser processes of ${profile} still running`).toEqual([]);
}
