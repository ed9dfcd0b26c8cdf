// Faults while the CLI trains: a signal or a kill of the Node process never leaves a headless Chromium running (the
// process table is checked), Ctrl-C stops after the current micro-batch and writes what is done, an interrupted run
// resumes from its checkpoint when the same command runs again, and --out is written whole or not at all: checked
// before Chromium starts, never mixed with an earlier run's files.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type CliProcess, cli, expectNoBrowserLeft, processesNaming, cliProcess as startCli } from './support/cli.ts';
import { cleanEnv, expectOk, expectRejection, expectUsageError, LLAMA, readJsonl, SFT_ROWS, workspace } from './support/workspace.ts';

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

describe('Ctrl-C stops after the current micro-batch, writes what is done, and the same command resumes', () => {
  const profile = ws.path('profile-interrupted');
  const env = cleanEnv({ WEBTUNE_PROFILE_DIR: profile });
  const out = ws.path('interrupted');
  let stoppedAt = 0;

  it('SIGINT: exit 130, one line saying what was written, the adapter of the steps done, no browser left', async () => {
    const run = cliProcess(endless(out, '--save-steps', '1000'), env);
    await run.waitFor(/^step 1 /m, 540_000); // the first step compiles the kernels: minutes on a busy SwiftShader
    expect(processesNaming(`--user-data-dir=${profile}`).length).toBeGreaterThan(0);
    run.kill('SIGINT');
    const r = await run.done;
    expect(r.code, r.stderr).toBe(130);
    const last = r.stderr.trim().split('\n').at(-1) as string;
    expect(last).toMatch(
      /^webtune train: stopped by SIGINT: cancelled at step (\d+); wrote .* with the adapter of the steps done, and saved a checkpoint: the same command resumes the run$/,
    );
    stoppedAt = Number(/cancelled at step (\d+)/.exec(last)?.[1]);
    expect(stoppedAt).toBeGreaterThanOrEqual(1);
    expect(r.stderr).toContain(`checkpoint saved at step ${stoppedAt}`);
    expect(readdirSync(out).sort()).toEqual([
      'README.md',
      'adapter_config.json',
      'adapter_model.safetensors',
      'metrics.jsonl',
      'training_config.json',
    ]);
    expect(readJsonl(join(out, 'metrics.jsonl')).at(-1)?.step).toBe(stoppedAt);
    await expectNoBrowserLeft(profile);
  });

  it('SIGINT with --runtime dawn (no browser): exit 130, the steps done written, and no checkpoint promised', async () => {
    const dawnOut = ws.path('interrupted-dawn');
    const run = cliProcess(endless(dawnOut, '--runtime', 'dawn', '--save-steps', '1000'), env);
    await run.waitFor(/^step 1 /m, 540_000);
    run.kill('SIGINT');
    const r = await run.done;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(
      /^webtune train: stopped by SIGINT: cancelled at step \d+; wrote .* with the adapter of the steps done \(with --runtime dawn no checkpoint outlives the command\)$/,
    );
    expect(readdirSync(dawnOut)).toContain('adapter_model.safetensors');
  });

  it('the same --out again resumes from that checkpoint (more --max-steps allowed) and replaces the folder whole', async () => {
    const more = stoppedAt + 2;
    const r = await cliProcess(
      [
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
        String(more),
        ...tiny,
        '--save-steps',
        '1000',
      ],
      env,
    ).done;
    expectOk(r);
    expect(r.stderr).toContain(`resuming the interrupted run of ${out} from its checkpoint at step ${stoppedAt} (--overwrite starts over)`);
    const stepped = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('step '))
      .map((l) => Number(l.split(/\s+/)[1]));
    expect(stepped).toEqual([stoppedAt + 1, stoppedAt + 2]);
    expect(readJsonl(join(out, 'metrics.jsonl')).map((m) => m.step)).toEqual(Array.from({ length: more }, (_, i) => i + 1));
    await expectNoBrowserLeft(profile);
  });

  it('a finished run in --out is refused (exit 2, before any training), with what it holds and what to do', async () => {
    const r = await cliProcess(
      ['train', '--method', 'sft', '--model', LLAMA, '--data', sft, '--out', out, '--max-steps', '1', ...tiny],
      env,
    ).done;
    expectRejection(
      r,
      'train',
      2,
      `--out ${out} already holds an earlier run (README.md, adapter_config.json`,
      'give a new folder, or --overwrite',
    );
    expect(r.stderr).not.toMatch(/^step /m);
    await expectNoBrowserLeft(profile);
  });
});

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

// A training run on a real model takes hours, and so does `pnpm bench --model` on SwiftShader: no call into a page may
// wait inside one DevTools request, which puppeteer gives up on after its protocol timeout (30 minutes). Here that
// timeout is cut to 2 s, and each command's calls (pipelines compiled on SwiftShader, then run) take longer than that.
describe('calls into the page outlast the DevTools protocol timeout', () => {
  const env = cleanEnv({ WEBTUNE_PROFILE_DIR: ws.path('profile-protocol'), WEBTUNE_TEST_PROTOCOL_TIMEOUT_MS: '2000' });

  it('a command (generate) still finishes', () => {
    const t0 = performance.now();
    const r = cli(['generate', '--model', LLAMA, '--prompt', 'Hello', '--max-new-tokens', '2'], { env });
    expectOk(r);
    expect(r.stdout.length).toBeGreaterThan(0);
    expect(performance.now() - t0, 'the command took less than the timeout: it proves nothing').toBeGreaterThan(2000);
  });

  it('pnpm bench (the quick bandwidth suite, in its page) still finishes and writes its rows', () => {
    const out = ws.path('bench.json');
    const t0 = performance.now();
    const r = cli(['bench', '--quick', '--only', 'bandwidth', '--budget-ms', '10', '--out', out], { env });
    expectOk(r);
    expect(performance.now() - t0, 'the command took less than the timeout: it proves nothing').toBeGreaterThan(2000);
    const { kernels } = JSON.parse(readFileSync(out, 'utf8')) as { kernels: { suite: string; impl: string; value: number }[] };
    expect(new Set(kernels.map((k) => k.suite))).toEqual(new Set(['softmax', 'cross_entropy', 'dpo_loss']));
    expect(kernels.filter((k) => !(k.value > 0))).toEqual([]);
    expect(r.stdout).toContain('dpo_loss');
  });
});
