// Faults while the CLI trains: a kill of the Node process never leaves a headless Chromium running (the process table
// is checked) and writes nothing, and --out is written whole or not at all: checked before Chromium starts, never
// mixed with an earlier run's files.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type CliProcess, expectNoBrowserLeft, cliProcess as startCli } from './support/cli.ts';
import { cleanEnv, expectOk, expectUsageError, LLAMA, SFT_ROWS, workspace } from './support/workspace.ts';

const ws = workspace();
const sft = ws.jsonl('sft.jsonl', SFT_ROWS);
afterAll(() => ws.remove());
// A test that fails while its CLI runs must not leave it (and its browser) training on.
const running: CliProcess[] = [];
const cliProcess = (args: string[], env: NodeJS.ProcessEnv) => {
  const run = startCli(args, env);
  running.push(run);
  return run;
};
afterEach(() => {
  for (const run of running.splice(0)) run.kill('SIGKILL');
});

const tiny = ['--max-length', '32', '--batch-size', '2', '--lr-scheduler-type', 'constant'];
/** A run that would take days: only a signal ends it. */
const endless = (out: string, ...more: string[]) => [
  'train',
  '--method',
  'sft',
  '--model',
  LLAMA,
  '--data',
  sft,
  '--out',
  out,
  '--max-steps',
  '1000000',
  ...tiny,
  ...more,
];

describe('a killed CLI (SIGKILL, as the out-of-memory killer does) takes its browser with it', () => {
  const profile = ws.path('profile-killed');
  const env = cleanEnv({ WEBTUNE_PROFILE_DIR: profile });
  const out = ws.path('killed');

  it('SIGKILL: no browser process outlives it, and nothing is written', async () => {
    // --save-minutes 1e-6: a checkpoint after every step, by time alone (save_steps is far away).
    const run = cliProcess(endless(out, '--save-steps', '1000', '--save-minutes', '0.000001'), env);
    await run.waitFor(/^checkpoint saved at step 2$/m, 540_000);
    run.kill('SIGKILL');
    await run.done;
    await expectNoBrowserLeft(profile);
    expect(existsSync(out), 'a killed run wrote --out').toBe(false);
    // Chromium's profile lock is not held by a live browser: the next run takes the profile (no fallback to a
    // temporary one) and finds the checkpoint in it.
    const r = await cliProcess(
      ['train', '--method', 'sft', '--model', LLAMA, '--data', sft, '--out', out, '--max-steps', '4', ...tiny, '--save-steps', '1000'],
      env,
    ).done;
    expectOk(r);
    expect(r.stderr).not.toContain('profile is in use');
    expect(r.stderr).toMatch(/resuming the interrupted run of .* from its checkpoint at step [2-9]/);
  });
});

describe('--out is checked before Chromium starts and written whole', () => {
  const base = ['train', '--method', 'sft', '--model', LLAMA, '--data', sft, '--max-steps', '1', ...tiny];
  const file = ws.jsonl('a-file.jsonl', SFT_ROWS);

  it('a folder under /proc, under a file, and a file are refused (exit 2), nothing created', async () => {
    expectUsageError(
      await ws.run([...base, '--out', '/proc/webtune-out']),
      'train',
      '--out /proc/webtune-out cannot be written (/proc:',
      'give a folder you can write to',
    );
    expectUsageError(
      await ws.run([...base, '--out', join(file, 'out')]),
      'train',
      `--out ${join(file, 'out')} cannot be written: ${file} is a file`,
    );
    expectUsageError(await ws.run([...base, '--out', file]), 'train', `--out ${file} is a file`);
    expect(readdirSync(ws.dir).filter((f) => f.startsWith('.webtune'))).toEqual([]);
  });

  it('--overwrite replaces an earlier folder as a whole (no stale file stays); --max-steps -1 trains the epochs', async () => {
    const out = ws.path('overwritten');
    mkdirSync(join(out, 'stacked'), { recursive: true });
    writeFileSync(join(out, 'stale.txt'), 'from an earlier run');
    writeFileSync(join(out, 'stacked', 'adapter_model.safetensors'), 'stale');
    const r = await ws.run([
      'train',
      '--method',
      'sft',
      '--model',
      LLAMA,
      '--data',
      sft,
      '--out',
      out,
      ...tiny,
      '--max-steps',
      '-1',
      '--num-train-epochs',
      '1',
      '--overwrite',
    ]);
    expectOk(r);
    expect(r.stderr).toContain('training 2 steps (2 per epoch)');
    expect(readdirSync(out).sort()).toEqual([
      'README.md',
      'adapter_config.json',
      'adapter_model.safetensors',
      'metrics.jsonl',
      'training_config.json',
    ]);
    expect(readdirSync(ws.dir).filter((f) => f.startsWith('.overwritten'))).toEqual([]);
  });
});
