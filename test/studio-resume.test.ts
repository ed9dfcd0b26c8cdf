// A reload one minute into a run with the studio's default settings (the demo model, the demo SFT data, "Reset to
// defaults") loses minutes, not the run: the run checkpoints after its first step (and then every save_steps steps or
// save_minutes minutes), the reloaded studio offers it, and Resume loads its model and dataset by itself and goes on
// from the checkpoint. Its own page: the reload must find nothing but what the browser kept.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { byTestId, click, clickText, goTo, loadDemo, STUDIO, type StudioSession, text, useStudio, waitForText } from './support/studio.ts';

const s = useStudio();

const RUN_TIMEOUT = 300_000;
const stepOf = (page: StudioSession['page']) => page.$eval(byTestId('run-step'), (e) => Number.parseInt(e.textContent ?? '', 10));

describe.skipIf(!existsSync(join(STUDIO, 'public/demo/data/sft.jsonl')))('studio: a reload one minute into a default run', () => {
  it('offers the interrupted run after the reload, and Resume goes on from its checkpoint', async () => {
    const { page } = s;
    await loadDemo(page);
    await goTo(page, 'data');
    await click(page, byTestId('demo-data-sft'));
    await waitForText(page, byTestId('data-report'), /sft\.jsonl/);
    await goTo(page, 'train');
    await click(page, byTestId('train-method-sft'));
    await clickText(page, 'Reset to defaults');
    const param = (flag: string) => page.$eval(`[data-param="${flag}"]`, (e) => (e as HTMLInputElement).value);
    expect([await param('save-steps'), await param('save-minutes'), await param('max-steps')]).toEqual(['50', '2', '-1']);
    await click(page, byTestId('start-training'));
    const started = Date.now();
    await page.waitForFunction(() => document.querySelector('[data-testid="run"]')?.getAttribute('data-status') === 'running', {
      timeout: RUN_TIMEOUT,
    });
    // One minute into the run, and not before its first checkpoint: a machine whose first step (pipelines compiled,
    // then the step) takes over a minute has nothing to resume before it, by design.
    await new Promise((r) => setTimeout(r, Math.max(0, 60_000 - (Date.now() - started))));
    await page.waitForFunction(() => /Checkpoint\s*step \d+/.test(document.querySelector('[data-testid="run"]')?.textContent ?? ''), {
      timeout: RUN_TIMEOUT,
      polling: 250,
    });
    const atReload = await stepOf(page);
    const total = (await text(page, byTestId('run-step'))).split('/')[1].trim();
    expect(await page.$eval(byTestId('run'), (e) => e.getAttribute('data-status'))).toBe('running');
    // Without pausing, as a user reloads: the page goes while a step runs on the GPU (SwiftShader: the CPU).
    await page.reload({ waitUntil: 'load', timeout: RUN_TIMEOUT });

    await waitForText(page, byTestId('engine-status'), /GPU ready/, RUN_TIMEOUT);
    await goTo(page, 'train');
    const listed = await waitForText(page, byTestId('interrupted-runs'), /checkpoint at step \d+/, RUN_TIMEOUT);
    const saved = Number(/checkpoint at step (\d+)/.exec(listed)?.[1]);
    expect(saved).toBeGreaterThanOrEqual(1);
    expect(saved).toBeLessThanOrEqual(atReload);
    // No model is loaded after the reload: Resume loads the demo model and the dataset by itself.
    await click(page, byTestId('resume-run'));
    await page.waitForFunction(
      (n) => Number.parseInt(document.querySelector('[data-testid="run-step"]')?.textContent ?? '', 10) > n,
      { timeout: RUN_TIMEOUT, polling: 250 },
      saved,
    );
    // The same run goes on: its step count and total, not a new run from step 0.
    expect((await text(page, byTestId('run-step'))).split('/')[1].trim()).toBe(total);
    await click(page, byTestId('stop'));
    await page.waitForFunction(() => document.querySelector('[data-testid="run"]')?.getAttribute('data-status') === 'cancelled', {
      timeout: RUN_TIMEOUT,
    });
    expect(await stepOf(page)).toBeGreaterThan(saved);
  });
});
