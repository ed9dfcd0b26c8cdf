// findRunToResume: whether `train` goes on from the interrupted run of its --out, starts over, or refuses (naming what
// differs and what to do), decided before the model loads. The engine is a stand-in that lists runs; cli-faults'
// e2e runs the real one (Ctrl-C, then the same command).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig, type RunSummary, type TrainConfig } from '@webtune/trainer';
import { afterAll, describe, expect, it } from 'vitest';
import type { Engine } from './engine.ts';
import { OutputFolder } from './out-dir.ts';
import { ProgressPrinter } from './progress.ts';
import { findRunToResume } from './resume.ts';

const root = mkdtempSync(join(tmpdir(), 'webtune-resume-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function setup(config: TrainConfig | null, step = 3) {
  const out = OutputFolder.check(join(root, `out-${Math.random().toString(36).slice(2)}`));
  const runs: RunSummary[] = config
    ? [
        {
          runId: 'run-1',
          step,
          createdAt: 0,
          checkpoints: 1,
          model: 'm',
          trainingConfig: {},
          request: { config, outputDir: out.path } as RunSummary['request'],
        },
      ]
    : [];
  const deleted: string[] = [];
  const engine = {
    call: async (method: string, id?: string) => {
      if (method === 'listRuns') return runs;
      if (method === 'deleteRun') deleted.push(id as string);
    },
  } as unknown as Engine;
  const lines: string[] = [];
  const progress = new ProgressPrinter({ write: (s: string) => lines.push(s), isTTY: false } as unknown as NodeJS.WriteStream);
  const decide = (now: TrainConfig, flags: { overwrite?: boolean; resume?: boolean } = {}) =>
    findRunToResume(engine, progress, out, now, { overwrite: false, resume: false, profile: '/p', ...flags });
  return { out, decide, deleted, lines };
}

describe('train with an --out that has an interrupted run', () => {
  const sft = { ...defaultConfig('sft'), maxSteps: 10 };

  it('goes on from its checkpoint when the flags are the same, or differ only in how long it runs, logs and saves', async () => {
    const { decide, lines } = setup(sft);
    await expect(decide(sft)).resolves.toBe('run-1');
    await expect(decide({ ...sft, maxSteps: 20, saveSteps: 5, loggingSteps: 2 })).resolves.toBe('run-1');
    expect(lines[0]).toMatch(/resuming the interrupted run of .* from its checkpoint at step 3 \(--overwrite starts over\)/);
  });

  it('refuses another method, naming the run and what to do', async () => {
    const { decide, out } = setup(sft);
    await expect(decide({ ...defaultConfig('dpo'), maxSteps: 10 })).rejects.toThrow(
      `--out ${out.arg} belongs to an interrupted SFT run (checkpoint at step 3); give another folder, or --overwrite to start over`,
    );
  });

  it('refuses other settings, each flag with its value then and now', async () => {
    const { decide } = setup(sft);
    await expect(decide({ ...sft, learningRate: 1e-3, lora: { ...sft.lora, r: 8 } })).rejects.toThrow(
      'trained with other settings: --learning-rate 0.0002 (now 0.001), --lora-r 16 (now 8); give the same flags to resume it, or --overwrite to start over',
    );
  });

  it('refuses --max-steps at or below the checkpoint step', async () => {
    const { decide, out } = setup(sft, 10);
    await expect(decide({ ...sft, maxSteps: 10 })).rejects.toThrow(
      `--max-steps 10: the interrupted run of --out ${out.arg} is at step 10 already; give more steps to go on, or --overwrite to start over`,
    );
  });

  it('--overwrite drops it (and says so) and starts over', async () => {
    const { decide, deleted, lines } = setup(sft);
    await expect(decide({ ...defaultConfig('dpo'), maxSteps: 10 }, { overwrite: true })).resolves.toBeUndefined();
    expect(deleted).toEqual(['run-1']);
    expect(lines[0]).toMatch(/--overwrite: starting over; the interrupted run of .* \(checkpoint at step 3\) is dropped/);
  });
});

describe('train with an --out that has no interrupted run', () => {
  it('--resume refuses, naming the profile it looked in', async () => {
    const { decide, out } = setup(null);
    await expect(decide(defaultConfig('sft'), { resume: true })).rejects.toThrow(
      `--resume: no interrupted run of --out ${out.arg} in the browser profile /p; run without --resume to start`,
    );
  });

  it('an --out holding an earlier run is refused without --overwrite, and taken with it', async () => {
    const dir = join(root, 'earlier');
    mkdirSync(dir);
    writeFileSync(join(dir, 'adapter_config.json'), '{}');
    const { decide } = setup(null);
    const earlier = OutputFolder.check(dir);
    const engine = { call: async () => [] } as unknown as Engine;
    const run = (overwrite: boolean) =>
      findRunToResume(engine, new ProgressPrinter(), earlier, defaultConfig('sft'), { overwrite, resume: false, profile: '/p' });
    await expect(run(false)).rejects.toThrow(
      `--out ${dir} already holds an earlier run (adapter_config.json) and no checkpoint to resume; give a new folder, or --overwrite to replace it as a whole`,
    );
    await expect(run(true)).resolves.toBeUndefined();
    await expect(decide(defaultConfig('sft'))).resolves.toBeUndefined();
  });
});
