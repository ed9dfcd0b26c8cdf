// The studio as a user meets it: served by vite, opened in headless Chromium with WebGPU (SwiftShader on machines
// without a GPU), driven through its screens: model, data, SFT, DPO on top, compare, adapters (reload, export,
// import), errors; a reload in the middle of a run is studio-resume.test.ts. Each step leaves a screenshot
// (support/studio.ts: SCREENSHOTS).
// The steps share one browser and build on each other, in order. Step counts and lengths are tiny: SwiftShader is slow.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSafetensors, weightToFloat32, writeSafetensors } from '../packages/trainer/src/model/safetensors.ts';
import { zip } from '../packages/trainer/src/store/zip.ts';
import {
  badSft,
  byTestId,
  click,
  clickText,
  FIXTURES,
  failNextCall,
  goodDpo,
  goodSft,
  goTo,
  HUB_MISSING,
  HUB_REPO,
  loadDemo,
  longTasks,
  type MainThreadTask,
  messagesSft,
  overflowing,
  readZip,
  refuseStorageWrites,
  resize,
  STUDIO,
  safetensorsHeader,
  screenshot,
  text,
  traceMainThread,
  typeInto,
  upload,
  useStudio,
  waitForDownload,
  waitForText,
  watchLongTasks,
  writeTemp,
} from './support/studio.ts';

const s = useStudio();
const TRAIN_TIMEOUT = 480_000;
const HAS_PYTHON = spawnSync('python3', ['-c', 'import zipfile, lzma'], { stdio: 'ignore' }).status === 0;
if (!HAS_PYTHON) process.stderr.write('SKIPPED studio.test.ts import of deflated and LZMA zips: no python3 (with lzma) on PATH\n');
/** Seconds per optimizer step on this machine's GPU, measured by the first SFT run. */
let secondsPerStep = 10;

/** `bytes` (safetensors) with `value` in every tensor whose name has `part`, as float32. */
function withOverflow(file: string, bytes: Uint8Array, part: string, value = 1e30): Uint8Array {
  const parsed = parseSafetensors(file, bytes);
  const tensors = [...parsed.tensors.values()].map((t) => {
    const data = weightToFloat32(file, bytes, parsed.dataOffset, t);
    if (t.name.includes(part)) data.fill(value);
    return { name: t.name, shape: t.shape, data };
  });
  return writeSafetensors(tensors);
}

/** Settings for a quick run: a few steps of tiny batches. */
async function quickSettings(method: 'sft' | 'dpo', steps: number, extra: Record<string, string> = {}) {
  const { page } = s;
  await click(page, byTestId(`train-method-${method}`));
  // Settings outside the essentials live in closed <details>: open them all.
  await page.$$eval('details', (ds) => {
    for (const d of ds) (d as HTMLDetailsElement).open = true;
  });
  const set = (flag: string, value: string) => typeInto(page, `[data-param="${flag}"]`, value);
  await set('max-steps', String(steps));
  await set('batch-size', '2');
  await set('max-length', '48');
  for (const [flag, value] of Object.entries(extra)) await set(flag, value);
}

async function waitForRun(status: string) {
  await s.page.waitForFunction(
    (st) => {
      const run = document.querySelector('[data-testid="run"]');
      return run?.getAttribute('data-status') === st || run?.getAttribute('data-status') === 'failed';
    },
    { timeout: TRAIN_TIMEOUT, polling: 500 },
    status,
  );
  const got = await s.page.$eval(byTestId('run'), (e) => e.getAttribute('data-status'));
  if (got !== status) throw new Error(`the run ended ${got}: ${await text(s.page, byTestId('run'))}`);
}

/**
 * No main-thread task may run for more than 50 ms while training. Judged on the CPU time Chrome's tracing records
 * for each task of the page's main thread: under SwiftShader the GPU's work is software on the same few cores, so a
 * 'longtask' entry's wall-clock time also counts the waits for a core (those are logged, for the record).
 * On a hardware GPU (WEBTUNE_GPU=hardware) the GPU's work leaves the CPU free, so a task's wall-clock time is the
 * page's own delay, what a user feels as a stutter: there it must stay under 50 ms too.
 */
function expectResponsive(trace: { total: number; slow: MainThreadTask[] }, observed: { duration: number }[]) {
  expect(trace.total, 'the trace saw the page work').toBeGreaterThan(20);
  const heavy = trace.slow.filter((t) => t.cpuMs > 50 || (process.env.WEBTUNE_GPU === 'hardware' && t.wallMs > 50));
  expect(heavy, `main-thread tasks that ran over 50 ms: ${JSON.stringify(heavy)}`).toEqual([]);
  if (observed.length > 0) {
    const waits = trace.slow.map((t) => `${t.wallMs.toFixed(0)} ms wall / ${t.cpuMs.toFixed(0)} ms CPU`).join(', ');
    console.info(`longtask entries (wall clock): ${observed.map((o) => o.duration).join(', ')} ms; traced: ${waits}`);
  }
}

async function chartPoints(id: string): Promise<number> {
  return s.page.$eval(byTestId(`chart-${id}`), (e) => Number(e.getAttribute('data-points')));
}

describe('studio', () => {
  it('opens and starts the engine on WebGPU', async () => {
    const { page } = s;
    expect(await page.title()).toBe('webtune studio');
    await waitForText(page, byTestId('engine-status'), /GPU ready/);
    // The navigation lists the two-stage pattern in order.
    const nav = await page.$$eval('nav a', (as) => as.map((a) => a.getAttribute('data-screen')));
    expect(nav).toEqual(['model', 'data', 'train', 'pairs', 'compare', 'adapters', 'classroom']);
  });

  it('refuses a Hub id that does not exist, saying why', async () => {
    const { page } = s;
    await page.click('details summary');
    // An address without its scheme is refused where it was typed, not fetched under the studio's own address.
    await typeInto(page, byTestId('hub-endpoint'), 'hf-mirror.com');
    await typeInto(page, byTestId('hub-id'), HUB_MISSING);
    await click(page, byTestId('load-hub'));
    await waitForText(
      page,
      byTestId('hub-endpoint-problem'),
      /^Hub address "hf-mirror\.com" is not a web address: give it whole, with https:\/\//,
    );
    await typeInto(page, byTestId('hub-endpoint'), s.hubEndpoint);
    await click(page, byTestId('load-hub'));
    const message = await waitForText(page, '[role=alert]', /There is no model repo/);
    expect(message).toContain(HUB_MISSING);
    expect(await page.$(byTestId('model-info'))).toBeNull();
  });

  it('downloads a Hub model with progress per file, then reads it from the cache', async () => {
    const { page } = s;
    // Record what the loading panel shows: it is on screen only while files arrive.
    await page.evaluate(() => {
      const w = window as unknown as { __loading: string[] };
      w.__loading = [];
      new MutationObserver(() => {
        const el = document.querySelector('[data-testid="model-loading"]') as HTMLElement | null;
        if (el) w.__loading.push(el.textContent ?? '');
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await typeInto(page, byTestId('hub-id'), HUB_REPO);
    await click(page, byTestId('load-hub'));
    await waitForText(page, byTestId('model-info'), new RegExp(HUB_REPO));
    expect(await text(page, byTestId('model-architecture'))).toBe('LlamaForCausalLM');
    let seen = await page.evaluate(() => (window as unknown as { __loading: string[] }).__loading.join('\n'));
    expect(seen).toMatch(/model\.safetensors/);
    expect(seen).toMatch(/KiB of .*KiB/);

    await page.evaluate(() => {
      (window as unknown as { __loading: string[] }).__loading = [];
    });
    // A cached load can finish before the loading panel paints, so the loaded card says where the files came from.
    await click(page, byTestId('load-hub'));
    await waitForText(page, byTestId('model-info'), /read from this browser's cache/);
    seen = await page.evaluate(() => (window as unknown as { __loading: string[] }).__loading.join('\n'));
    expect(seen).not.toMatch(/KiB of/);
  });

  it('cancels a download and keeps the model it had', async () => {
    const { page } = s;
    await typeInto(page, byTestId('hub-endpoint'), s.slowHubEndpoint);
    await click(page, byTestId('load-hub'));
    await waitForText(page, byTestId('model-loading'), /KiB/, 60_000);
    await clickText(page, 'Cancel', byTestId('model-loading'));
    expect(await waitForText(page, '[role=alert]', /Download cancelled/)).toContain(`${HUB_REPO} is still loaded`);
    expect(await text(page, byTestId('model-architecture'))).toBe('LlamaForCausalLM');
    await typeInto(page, byTestId('hub-endpoint'), s.hubEndpoint);
  });

  it('refuses a local folder that cannot work, saying why, and loads one that can', async () => {
    const { page } = s;
    const dir = join(FIXTURES, 'llama-gqa-bf16');
    // No tokenizer.
    await upload(page, byTestId('model-drop-file'), join(dir, 'config.json'), join(dir, 'model.safetensors'));
    expect(await waitForText(page, '[role=alert]', /tokenizer\.json/)).toMatch(/not among the picked files/);
    // An architecture webtune does not train.
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    const gpt2 = writeTemp('config.json', JSON.stringify({ ...config, architectures: ['GPT2LMHeadModel'], model_type: 'gpt2' }));
    await upload(
      page,
      byTestId('model-drop-file'),
      gpt2,
      ...['tokenizer.json', 'tokenizer_config.json', 'model.safetensors'].map((f) => join(dir, f)),
    );
    const refused = await waitForText(page, '[role=alert]', /GPT2LMHeadModel/);
    expect(refused).toMatch(/not supported/);
    expect(refused).toContain(`${HUB_REPO} is still loaded`);
    // The whole folder loads.
    await upload(
      page,
      byTestId('model-drop-file'),
      ...['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'].map((f) => join(dir, f)),
    );
    await waitForText(page, byTestId('model-info'), /local model/);
    expect(await text(page, byTestId('model-architecture'))).toBe('LlamaForCausalLM');
  });

  it('loads the demo model and says what it is and what it needs', async () => {
    const { page } = s;
    await loadDemo(page);
    expect(await text(page, byTestId('model-architecture'))).toMatch(/ForCausalLM$/);
    expect(await text(page, byTestId('model-parameters'))).toMatch(/\d/);
    expect(await text(page, byTestId('model-vocab'))).toMatch(/\d+ ids/);
    await waitForText(page, byTestId('memory-total'), /(KiB|MiB|GiB)/);
    // The picture for the README: the Hub form as a newcomer sees it.
    await typeInto(page, byTestId('hub-id'), '');
    await page.$$eval('details', (ds) => {
      for (const d of ds) (d as HTMLDetailsElement).open = false;
    });
    await screenshot(page, 'model');
    await page.$$eval('details', (ds) => {
      for (const d of ds) (d as HTMLDetailsElement).open = true;
    });
  });

  it('keeps the loaded model when another load fails', async () => {
    const { page } = s;
    const before = await text(page, '#loaded-title');
    await typeInto(page, byTestId('hub-id'), HUB_MISSING);
    await click(page, byTestId('load-hub'));
    expect(await waitForText(page, '[role=alert]', /There is no model repo/)).toMatch(/still loaded/);
    expect(await text(page, '#loaded-title')).toBe(before);
  });

  it('offers the demo datasets with one click', async () => {
    const { page } = s;
    await goTo(page, 'data');
    if (!existsSync(join(STUDIO, 'public/demo/data/sft.jsonl'))) return; // built without demo data
    await click(page, byTestId('demo-data-sft'));
    await waitForText(page, byTestId('data-report'), /sft\.jsonl/);
    expect(Number(await text(page, byTestId('rows-kept')))).toBeGreaterThan(10);
    expect(await page.$$eval(`${byTestId('data-preview')} .completion`, (els) => els.length)).toBeGreaterThan(0);
  });

  it('reports every bad row of a dataset with its line number', async () => {
    const { page } = s;
    const bad = badSft();
    await upload(page, byTestId('data-drop-file'), writeTemp('bad-sft.jsonl', bad.text));
    await waitForText(page, byTestId('rows-rejected'), new RegExp(`^${bad.badLines.length}$`));
    expect(await text(page, byTestId('rows-kept'))).toBe('4');
    const list = await text(page, byTestId('rejected-list'));
    for (const line of bad.badLines) expect(list).toContain(`line ${line}`);
    expect(list).toMatch(/invalid JSON/);
    expect(list).toMatch(/"conversations" is not a TRL format/);
    await screenshot(page, 'data-rejected');
    // A file saved as Latin-1: named by its line, never trained with replacement characters; the report shown stays.
    const latin1 = Buffer.concat([
      Buffer.from('{"prompt": "Q:", "completion": " ok"}\n{"prompt": "Caf'),
      Buffer.from([0xe9]),
      Buffer.from('?", "completion": " oui"}\n'),
    ]);
    await upload(page, byTestId('data-drop-file'), writeTemp('latin1.jsonl', latin1));
    expect(await waitForText(page, '[role=alert]', /latin1\.jsonl/)).toMatch(
      /latin1\.jsonl line 2 is not valid UTF-8 \(near byte 53 of the file\): save the file as UTF-8/,
    );
    expect(await text(page, byTestId('rows-kept'))).toBe('4');
    await clickText(page, 'Dismiss');
  });

  it('shows a conversational (messages) dataset through the chat template, prompt and completion apart', async () => {
    const { page } = s;
    await upload(page, byTestId('data-drop-file'), writeTemp('animals-messages.jsonl', messagesSft()));
    await waitForText(page, byTestId('data-report'), /animals-messages\.jsonl/);
    await waitForText(page, byTestId('rows-kept'), /^4$/);
    expect(await text(page, `${byTestId('data-report')} strong`)).toBe('messages');
    // The demo tokenizer's template: the user turn becomes "Question: …\nAnswer:\n", the assistant's turn follows.
    const first = await page.$eval(`${byTestId('data-preview')} .example`, (e) => ({
      prompt: e.querySelector('.prompt')?.textContent ?? '',
      completion: e.querySelector('.completion')?.textContent ?? '',
      look: [e.querySelector('.prompt'), e.querySelector('.completion')].map((x) => {
        const c = getComputedStyle(x as Element);
        return `${c.color} ${c.backgroundColor} ${c.textDecorationLine}`;
      }),
    }));
    expect(first.prompt).toBe('Question: Describe the fox.\nAnswer:\n');
    // The template puts a blank line between turns: it belongs to the completion.
    expect(first.completion).toMatch(/^\n\nAnimal: fox\nHome: forest\nFood: mice/);
    expect(first.look[0]).not.toBe(first.look[1]);
  });

  it('says how a multi-turn conversation is trained', async () => {
    const { page } = s;
    // The messages file above is still shown.
    expect(await text(page, `${byTestId('data-report')} strong`)).toBe('messages');
    expect(await text(page, byTestId('multi-turn'))).toMatch(/learns every assistant message[\s\S]*system and user messages are context/);
  });

  it('shows a clean dataset as the model sees it, its lengths and what max length cuts', async () => {
    const { page } = s;
    await upload(page, byTestId('data-drop-file'), writeTemp('animals-sft.jsonl', goodSft()));
    await waitForText(page, byTestId('data-report'), /animals-sft\.jsonl/);
    await waitForText(page, byTestId('rows-kept'), /^11$/);
    // At the default max length (1024) the axis still fits the data, and points to the limit far past its end.
    const hist = byTestId('length-histogram');
    expect(await page.$eval(hist, (e) => e.getAttribute('data-limit-on-axis'))).toBe('false');
    expect(Number(await page.$eval(hist, (e) => e.getAttribute('data-axis-end')))).toBeLessThan(200);
    expect(await text(page, `${hist} svg`)).toContain('max length 1024 →');
    expect(await text(page, byTestId('rows-rejected'))).toBe('0');
    // Prompt and completion are marked apart in the preview.
    expect(await page.$$eval(`${byTestId('data-preview')} .completion`, (els) => els.length)).toBeGreaterThan(0);
    expect(await page.$$eval(`${byTestId('data-preview')} .prompt`, (els) => els.length)).toBeGreaterThan(0);
    // A short max length cuts the one long row; the histogram has bars.
    await typeInto(page, byTestId('data-max-length'), '48');
    await waitForText(page, byTestId('truncation'), /^1 of 11 rows are longer than 48 tokens/);
    expect(await text(page, byTestId('rows-truncated'))).toBe('1');
    expect(await page.$$eval(`${hist} rect`, (r) => r.length)).toBeGreaterThan(0);
    // Now the limit is on the axis, and the cut row is drawn as cut; no "longest 48" beside "longer than 48".
    await page.waitForSelector(`${hist} ${byTestId('length-limit')}`);
    expect(await page.$$eval(`${hist} rect.cut`, (r) => r.length)).toBeGreaterThan(0);
    const caption = await text(page, `${hist} figcaption`);
    expect(caption).not.toMatch(/longest 48\b/);
    // The lengths are the uncut ones: the long row's real length shows.
    expect(Number(caption.match(/before any cut: median \d+, longest (\d+)/)?.[1])).toBeGreaterThan(48);
    await screenshot(page, 'data');
  });

  it('warns on the Model screen and holds the Train button while the estimate is over the memory budget the user set', async () => {
    const { page } = s;
    await goTo(page, 'train');
    await typeInto(page, byTestId('memory-budget'), '0.0001');
    await waitForText(
      page,
      byTestId('train-blocker'),
      /^This run would not fit: The run needs about [\d.]+ [KMG]iB of GPU memory, more than the budget of 104\.9 KiB/,
    );
    expect(await page.$eval(byTestId('start-training'), (b) => (b as HTMLButtonElement).disabled)).toBe(true);
    await goTo(page, 'model');
    await waitForText(page, byTestId('memory-problem'), /more than the budget of 104\.9 KiB: lower the batch size, max length or LoRA r/);
    await goTo(page, 'train');
    await typeInto(page, byTestId('memory-budget'), '0');
    await page.waitForFunction((sel) => !document.querySelector(sel), {}, byTestId('train-blocker'));
  });

  it('refuses a value a field cannot take where it was typed, and holds Start until a good one; names an eval file it cannot read', async () => {
    const { page } = s;
    const gone = (id: string) => page.waitForFunction((sel) => !document.querySelector(sel), {}, byTestId(id));
    // Data: a max length of 0 is refused by the field; the data stays counted for the length before it.
    await goTo(page, 'data');
    await typeInto(page, byTestId('data-max-length'), '0');
    await waitForText(
      page,
      byTestId('data-max-length-problem'),
      /^Give a whole number of tokens from 2 to 65536; the data is still counted for 48\.$/,
    );
    expect(await text(page, byTestId('truncation'))).toMatch(/^1 of 11 rows are longer than 48 tokens/);
    await typeInto(page, byTestId('data-max-length'), '48');
    await gone('data-max-length-problem');
    // Train: a refused learning rate stays on screen, so Start must not train with the value before it.
    await goTo(page, 'train');
    await typeInto(page, '[data-param="learning-rate"]', '5');
    await waitForText(page, byTestId('train-blocker'), /^Learning rate: Give a number from 0 to 1\.$/);
    expect(await page.$eval(byTestId('start-training'), (b) => (b as HTMLButtonElement).disabled)).toBe(true);
    await typeInto(page, '[data-param="learning-rate"]', '0.0002');
    await gone('train-blocker');
    await typeInto(page, byTestId('memory-budget'), '-1');
    await waitForText(
      page,
      byTestId('memory-budget-problem'),
      /^Give 0 \(no budget\) or a number of GiB above 0; the budget stays 0 GiB\.$/,
    );
    await typeInto(page, byTestId('memory-budget'), '0');
    await gone('memory-budget-problem');
    // An eval file that is not UTF-8 is named by line, as a dataset is, and not taken.
    await upload(
      page,
      byTestId('eval-file'),
      writeTemp('latin1-eval.jsonl', Buffer.from('{"prompt": "caf\xe9", "completion": " ok"}\n', 'latin1')),
    );
    await waitForText(
      page,
      byTestId('eval-file-problem'),
      /^latin1-eval\.jsonl line 1 is not valid UTF-8 .*The eval file was not changed\.$/,
    );
    expect(await page.$(byTestId('eval-file-name'))).toBeNull();
  });

  it('trains SFT with live charts, and no main-thread task over 50 ms', async () => {
    const { page } = s;
    await goTo(page, 'train');
    await quickSettings('sft', 4, { 'learning-rate': '0.002' });
    await watchLongTasks(page);
    // Note when each step shows, to size the resumable run below to this GPU's speed.
    await page.evaluate(() => {
      const w = window as unknown as { __steps: [number, string][] };
      w.__steps = [];
      new MutationObserver(() => {
        const t = document.querySelector('[data-testid="run-step"]')?.textContent?.trim() ?? '';
        if (t !== w.__steps.at(-1)?.[1]) w.__steps.push([performance.now(), t]);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    const trace = await traceMainThread(page, async () => {
      await click(page, byTestId('start-training'));
      // The loss chart grows while the run goes.
      await page.waitForFunction(() => Number(document.querySelector('[data-testid="chart-loss"]')?.getAttribute('data-points')) >= 2, {
        timeout: TRAIN_TIMEOUT,
        polling: 200,
      });
      expect(await text(page, byTestId('run-step'))).toMatch(/^\d \/ 4$/);
      await waitForRun('completed');
    });
    expect(await chartPoints('loss')).toBe(4);
    expect(await chartPoints('grad-norm')).toBe(4);
    expect(await chartPoints('lr')).toBe(4);
    expectResponsive(trace, await longTasks(page));
    expect(await text(page, byTestId('run-done'))).toMatch(/Saved as/);
    const steps = await page.evaluate(() => (window as unknown as { __steps: [number, string][] }).__steps);
    const timed = steps.map(([t, label]) => [t, Number.parseInt(label, 10)]).filter(([, n]) => n >= 1);
    if (timed.length >= 2)
      secondsPerStep = (timed[timed.length - 1][0] - timed[0][0]) / 1000 / Math.max(1, timed[timed.length - 1][1] - timed[0][1]);
    await screenshot(page, 'train-sft');
  });

  it('trains DPO on top of the SFT adapter, with reward charts', async () => {
    const { page } = s;
    await goTo(page, 'data');
    await upload(page, byTestId('data-drop-file'), writeTemp('animals-dpo.jsonl', goodDpo()));
    // A file of pairs switches the screen to DPO by itself.
    await waitForText(page, byTestId('data-report'), /animals-dpo\.jsonl/);
    expect(await page.$eval(byTestId('data-method-dpo'), (e) => (e as HTMLInputElement).checked)).toBe(true);
    await waitForText(page, byTestId('rows-kept'), /^10$/);
    await goTo(page, 'train');
    await quickSettings('dpo', 3, { 'learning-rate': '0.001' });
    const parent = await page.$eval(byTestId('dpo-parent'), (e) => (e as HTMLSelectElement).selectedOptions[0].textContent);
    expect(parent).toMatch(/^SFT adapter: /);
    await watchLongTasks(page);
    const trace = await traceMainThread(page, async () => {
      await click(page, byTestId('start-training'));
      await waitForRun('completed');
    });
    for (const id of ['loss', 'margins', 'accuracies', 'logps', 'rewards', 'grad-norm', 'lr']) expect(await chartPoints(id), id).toBe(3);
    expect(await text(page, '#run-title')).toMatch(/on SFT/);
    expectResponsive(trace, await longTasks(page));
    await screenshot(page, 'train-dpo');
  });

  it('counts a DPO file in pairs, not rows, all over the Data screen', async () => {
    const { page } = s;
    await goTo(page, 'data');
    await waitForText(page, byTestId('data-report'), /animals-dpo\.jsonl/);
    const said = await page.$$eval([byTestId('data-report'), byTestId('data-lengths'), byTestId('data-preview')].join(', '), (els) =>
      els.map((e) => e.textContent?.replace(/\s+/g, ' ') ?? '').join(' | '),
    );
    expect(said).toMatch(/10 pairs kept/);
    expect(said).toMatch(/0 pairs left out/);
    expect(said).toMatch(/No pair is longer than|of 10 pairs are longer/);
    expect(said).not.toMatch(/\brows?\b/i);
  });

  it('compares base, SFT and SFT+DPO on the same prompts', async () => {
    const { page } = s;
    await goTo(page, 'compare');
    // Prompts come prefilled (the demo's held-out prompts, or the datasets'); keep one, of our own.
    await page.waitForNetworkIdle({ idleTime: 300 });
    const prompts = await page.$$eval(byTestId('compare-prompt'), (els) => els.map((e) => (e as HTMLTextAreaElement).value));
    expect(prompts.length).toBeGreaterThanOrEqual(1);
    expect(prompts[0].trim()).not.toBe('');
    while ((await page.$$(byTestId('remove-prompt'))).length > 1) await click(page, byTestId('remove-prompt'));
    // The demo model's own prompt format; the trailing line break is part of the prompt.
    await typeInto(page, byTestId('compare-prompt'), 'Question: Describe the fox.\nAnswer:\n');
    expect(await page.$eval(byTestId('compare-prompt'), (e) => (e as HTMLTextAreaElement).value)).toBe(
      'Question: Describe the fox.\nAnswer:\n',
    );
    await typeInto(page, byTestId('compare-max-tokens'), '12');
    await click(page, byTestId('run-compare'));
    await page.waitForFunction(
      () => {
        const cells = [...document.querySelectorAll('[data-testid="compare-cell"]')];
        return cells.length === 3 && cells.every((c) => c.querySelector('pre')?.getAttribute('aria-busy') === 'false');
      },
      { timeout: TRAIN_TIMEOUT, polling: 500 },
    );
    const columns = await page.$$eval(byTestId('compare-cell'), (cells) => cells.map((c) => c.querySelector('h4')?.textContent));
    expect(columns[0]).toBe('Base model');
    expect(columns.slice(1).every((c) => c && c.length > 0)).toBe(true);
    const errors = await page.$$eval(`${byTestId('compare-cell')} .error`, (e) => e.map((x) => x.textContent));
    expect(errors).toEqual([]);
    await screenshot(page, 'compare');
  });

  it('reads each output against the model it changes: what differs is highlighted, a repeat is named with why', async () => {
    const { page } = s;
    // The outputs above: each adapter against its parent when shown (DPO against SFT), else against the base model.
    const cells = await page.$$eval(byTestId('compare-cell'), (els) =>
      els.map((c) => ({
        column: c.getAttribute('data-column'),
        text: c.querySelector('pre')?.textContent ?? '',
        marks: c.querySelectorAll('mark').length,
        same: c.querySelector('[data-testid="same-as"]')?.textContent ?? null,
      })),
    );
    const [base, sft, dpo] = cells;
    expect(base.marks + (base.same === null ? 0 : 1)).toBe(0);
    for (const [cell, ref, refName] of [
      [sft, base, 'Base model'],
      [dpo, sft, null],
    ] as const) {
      if (cell.text === ref.text) {
        expect(cell.marks).toBe(0);
        expect(cell.same).toMatch(refName ? new RegExp(`^Same as ${refName}$`) : /^Same as /);
      } else {
        expect(cell.marks).toBeGreaterThan(0);
        expect(cell.same).toBeNull();
      }
    }
    // A column that repeats its reference on every prompt (one here) is named above the outputs, with the reason.
    const repeats = await page.$$eval(byTestId('compare-same'), (els) => els.map((e) => [e.getAttribute('data-column'), e.textContent]));
    const expected = [sft.text === base.text ? sft.column : null, dpo.text === sft.text ? dpo.column : null].filter((c) => c !== null);
    expect(repeats.map(([c]) => c)).toEqual(expected);
    for (const [, t] of repeats)
      expect(t?.replace(/\s+/g, ' ')).toMatch(
        /same answers as .*, word for word, on this prompt\. .*only \d+ optimizer steps?.*too few steps/,
      );
  });

  it('keeps adapters across a reload; renames; exports a PEFT zip with the right contents', async () => {
    const { page } = s;
    await goTo(page, 'adapters');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="adapter"]').length === 2);
    const sft = '[data-testid="adapter"][data-method="sft"]';
    await click(page, `${sft} ${byTestId('rename')}`);
    await typeInto(page, byTestId('rename-input'), 'animal cards');
    await page.keyboard.press('Enter');
    await waitForText(page, `${sft} ${byTestId('adapter-name')}`, /^animal cards$/);

    await page.reload({ waitUntil: 'load' });
    await waitForText(page, byTestId('engine-status'), /GPU ready/);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="adapter"]').length === 2, { timeout: 60_000 });
    expect(await text(page, `${sft} ${byTestId('adapter-name')}`)).toBe('animal cards');

    await click(page, `${sft} ${byTestId('export-zip')}`);
    const zipPath = await waitForDownload(s.downloads, /^animal-cards\.zip$/);
    const files = readZip(new Uint8Array(readFileSync(zipPath)));
    expect([...files.keys()].sort()).toEqual(
      ['README.md', 'adapter_config.json', 'adapter_model.safetensors', 'training_config.json'].map((f) => `animal-cards/${f}`),
    );
    const config = JSON.parse(new TextDecoder().decode(files.get('animal-cards/adapter_config.json')));
    expect(config).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', bias: 'none', r: 16, lora_alpha: 32 });
    expect(config.target_modules.sort()).toEqual(['k_proj', 'o_proj', 'q_proj', 'v_proj']);
    const training = JSON.parse(new TextDecoder().decode(files.get('animal-cards/training_config.json')));
    expect(training).toMatchObject({
      trainer: 'SFTTrainer',
      max_steps: 4,
      per_device_train_batch_size: 2,
      max_length: 48,
      learning_rate: 0.002,
    });
    const header = safetensorsHeader(files.get('animal-cards/adapter_model.safetensors') as Uint8Array);
    const names = Object.keys(header.tensors);
    expect(names).toContain('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight');
    expect(names).toContain('base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight');
    for (const name of names) {
      const t = header.tensors[name];
      expect(t.dtype).toBe('F32');
      expect(name.endsWith('lora_A.weight') ? t.shape[0] : t.shape[1]).toBe(16);
    }
    const card = new TextDecoder().decode(files.get('animal-cards/README.md'));
    expect(card).toMatch(/^---\n/);
    expect(card).toContain('PeftModel');

    // The DPO adapter comes out stacked with the SFT adapter under it: one adapter of rank 16 + 16 on the base.
    const dpo = '[data-testid="adapter"][data-method="dpo"]';
    const dpoName = (await text(page, `${dpo} ${byTestId('adapter-name')}`)).replace(/[^\w.-]+/g, '-');
    await click(page, `${dpo} ${byTestId('export-zip')}`);
    const dpoFiles = readZip(new Uint8Array(readFileSync(await waitForDownload(s.downloads, new RegExp(`^${dpoName}\\.zip$`)))));
    const dpoConfig = JSON.parse(new TextDecoder().decode(dpoFiles.get(`${dpoName}/adapter_config.json`)));
    expect(dpoConfig.r).toBe(32);
    const dpoTraining = JSON.parse(new TextDecoder().decode(dpoFiles.get(`${dpoName}/training_config.json`)));
    expect(dpoTraining.trainer).toBe('DPOTrainer');
    const dpoHeader = safetensorsHeader(dpoFiles.get(`${dpoName}/adapter_model.safetensors`) as Uint8Array);
    expect(dpoHeader.tensors['base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'].shape[0]).toBe(32);
  });

  it('saves an adapter as a folder: the files of its zip, byte for byte, in a folder named after it', async () => {
    const { page } = s;
    // The folder picker is the user's to answer: here it answers with the origin-private file system, a real
    // directory handle. The screen looks for the picker as it opens, so it is opened again after the stub.
    await page.evaluate(() => {
      (window as unknown as { showDirectoryPicker: () => Promise<FileSystemDirectoryHandle> }).showDirectoryPicker = () =>
        navigator.storage.getDirectory();
    });
    await goTo(page, 'model');
    await goTo(page, 'adapters');
    const sft = '[data-testid="adapter"][data-method="sft"]';
    await click(page, `${sft} ${byTestId('save-folder')}`);
    await waitForText(page, `${sft} ${byTestId('saved-folder')}`, /^Saved the folder "animal-cards": .*adapter_model\.safetensors/);
    const saved = await page.evaluate(async () => {
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('animal-cards');
      const out: Record<string, number[]> = {};
      for await (const [name, h] of dir as unknown as AsyncIterable<[string, FileSystemFileHandle]>)
        out[name] = [...new Uint8Array(await (await h.getFile()).arrayBuffer())];
      return out;
    });
    const zipped = readZip(new Uint8Array(readFileSync(await waitForDownload(s.downloads, /^animal-cards\.zip$/))));
    expect(Object.keys(saved).sort()).toEqual([...zipped.keys()].map((k) => k.replace('animal-cards/', '')).sort());
    for (const [name, bytes] of Object.entries(saved)) expect(new Uint8Array(bytes)).toEqual(zipped.get(`animal-cards/${name}`));
  });

  it('imports the exported zip as a new adapter', async () => {
    const { page } = s;
    // After the reload no model is loaded: an import is checked against one.
    await goTo(page, 'model');
    await loadDemo(page);
    await goTo(page, 'adapters');
    const zipPath = await waitForDownload(s.downloads, /^animal-cards\.zip$/);
    await upload(page, byTestId('adapter-import-file'), zipPath);
    await waitForText(page, '[role=status].ok', /Imported "animal-cards"/);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="adapter"]').length === 3);
    await screenshot(page, 'adapters');
  });

  it('keeps the metrics an imported zip carries', async () => {
    const { page } = s;
    // The exported SFT adapter ran 4 steps: its card's final metrics come back with it.
    const facts = await page.$$eval('[data-testid="adapter"]', (els) =>
      els.map((e) => [e.querySelector('[data-testid="adapter-name"]')?.textContent, e.querySelector('.facts')?.textContent ?? '']),
    );
    const imported = facts.find(([name]) => name === 'animal-cards');
    expect(String(imported?.[1] ?? '').replace(/\s+/g, ' ')).toMatch(/Last metrics step 4 · loss \d/);
  });

  it('puts the focus in the name field to rename, and gives it back to Rename after Save or Escape', async () => {
    const { page } = s;
    const sft = '[data-testid="adapter"][data-method="sft"]';
    const focused = () => page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.tagName);
    const before = await text(page, `${sft} ${byTestId('adapter-name')}`);
    await click(page, `${sft} ${byTestId('rename')}`);
    expect(await focused()).toBe('rename-input');
    // The old name is selected: typing replaces it.
    await page.keyboard.type('cards');
    await page.keyboard.press('Enter');
    await waitForText(page, `${sft} ${byTestId('adapter-name')}`, /^cards$/);
    expect(await focused()).toBe('rename');
    await page.keyboard.press('Enter'); // the focused Rename button opens the field again
    expect(await focused()).toBe('rename-input');
    await page.keyboard.type('animal cards');
    await page.keyboard.press('Escape');
    expect(await focused()).toBe('rename');
    expect(await text(page, `${sft} ${byTestId('adapter-name')}`)).toBe('cards');
    await click(page, `${sft} ${byTestId('rename')}`);
    await page.keyboard.type(before);
    await page.keyboard.press('Enter');
    await waitForText(page, `${sft} ${byTestId('adapter-name')}`, new RegExp(`^${before}$`));
  });

  it('says which DPO dataset "Train DPO on top" will use, and asks when it was not picked in this visit', async () => {
    const { page } = s;
    // After the reload the DPO slot holds the file of the earlier visit, read back from the browser's store.
    const sft = '[data-testid="adapter"][data-method="sft"]';
    await waitForText(page, `${sft} ${byTestId('dpo-on-top-dataset')}`, /^with animals-dpo\.jsonl$/);
    await click(page, `${sft} ${byTestId('dpo-on-top')}`);
    const ask = await waitForText(page, byTestId('dpo-on-top-ask'), /animals-dpo\.jsonl/);
    expect(ask).toMatch(/kept from an earlier visit, not one you picked in this visit/);
    expect(await page.evaluate(() => location.hash)).toBe('#/adapters');
    await click(page, byTestId('dpo-on-top-use'));
    await page.waitForFunction(() => location.hash === '#/train');
    expect(await page.$eval(byTestId('train-method-dpo'), (e) => (e as HTMLInputElement).checked)).toBe(true);
    const parent = await page.$eval(byTestId('dpo-parent'), (e) => (e as HTMLSelectElement).selectedOptions[0].textContent);
    expect(parent).toMatch(/animal.cards/);
    await goTo(page, 'adapters');
  });

  it.skipIf(!HAS_PYTHON)('imports a deflated zip (as the OS or `zip -r` make them) and names what it cannot read', async () => {
    const { page } = s;
    // The exported folder zipped again by Python's zipfile: deflated, and LZMA (which webtune does not read).
    const exported = await waitForDownload(s.downloads, /^animal-cards\.zip$/);
    const rezip = (name: string, method: string) => {
      const out = writeTemp(`${name}.zip`, '');
      const script = `import sys, zipfile
src = zipfile.ZipFile(sys.argv[1])
with zipfile.ZipFile(sys.argv[2], 'w', zipfile.${method}) as z:
    for i in src.infolist():
        z.writestr(i.filename.replace('animal-cards/', '${name}/'), src.read(i))`;
      execFileSync('python3', ['-c', script, exported, out]);
      return out;
    };
    await upload(page, byTestId('adapter-import-file'), rezip('cards-deflated', 'ZIP_DEFLATED'));
    await waitForText(page, '[role=status].ok', /Imported "cards-deflated"/);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="adapter"]').length === 4);
    await upload(page, byTestId('adapter-import-file'), rezip('cards-lzma', 'ZIP_LZMA'));
    const refused = await waitForText(page, `${byTestId('screen-adapters')} [role=alert]`, /LZMA/);
    expect(refused).toMatch(
      /^These files cannot be used cards-lzma\.zip: "cards-lzma\/[\w.]+" is compressed with LZMA, which webtune cannot read/,
    );
    await clickText(page, 'Dismiss');
    expect(await page.$$eval(byTestId('adapter'), (a) => a.length)).toBe(4);
  });

  it('stops a run whose loss is not a number, says why and where, and lists no adapter for it', async () => {
    const { page } = s;
    const names = () => page.$$eval(byTestId('adapter-name'), (els) => els.map((e) => e.textContent?.trim()).sort());
    await goTo(page, 'adapters');
    // The exported SFT adapter with layer 1's v_proj LoRA at 1e30: finite, so the import takes it, but its forward
    // overflows float32, so the DPO run on top of it has a loss of NaN at its first step.
    const exported = readZip(readFileSync(await waitForDownload(s.downloads, /^animal-cards\.zip$/)));
    const files = [...exported].map(([name, data]) => ({
      name: name.replace(/^animal-cards\//, 'cards-overflow/'),
      data: name.endsWith('.safetensors') ? withOverflow(name, data, 'layers.1.self_attn.v_proj') : data,
    }));
    await upload(page, byTestId('adapter-import-file'), writeTemp('cards-overflow.zip', zip(files)));
    await waitForText(page, '[role=status].ok', /Imported "cards-overflow"/);
    const before = await names();
    await goTo(page, 'train');
    await quickSettings('dpo', 2);
    const parent = await page.$$eval(
      `${byTestId('dpo-parent')} option`,
      (os) => (os as HTMLOptionElement[]).find((o) => o.textContent?.includes('cards-overflow'))?.value,
    );
    await page.select(byTestId('dpo-parent'), parent as string);
    await click(page, byTestId('start-training'));
    await waitForRun('diverged');
    const said = await waitForText(page, `${byTestId('run')} [role=alert]`, /^Training stopped: the loss is no longer a number/);
    expect(said).toMatch(
      /Training stopped at step 1: the loss is NaN\. No step was completed, so nothing is saved; no update was made yet/,
    );
    expect(said).toMatch(/It first appeared at operation \d+ of \d+[^"]*, "L1\.v_proj lora_B"/);
    expect(await text(page, byTestId('run-done'))).toBe('No step finished, so no adapter was saved.');
    await goTo(page, 'adapters');
    expect(await names(), 'a run that kept no step listed an adapter').toEqual(before);
  });

  it('pauses, resumes and stops a run; the stopped run keeps an adapter of the steps it did', async () => {
    const { page } = s;
    const step = () => page.$eval(byTestId('run-step'), (e) => Number.parseInt(e.textContent ?? '', 10));
    const stepAtLeast = (n: number) =>
      page.waitForFunction(
        (n) => Number.parseInt(document.querySelector('[data-testid="run-step"]')?.textContent ?? '', 10) >= n,
        {
          timeout: TRAIN_TIMEOUT,
          polling: 100,
        },
        n,
      );
    await goTo(page, 'train');
    await quickSettings('sft', 50); // far more than it will run
    await typeInto(page, '#run-name', 'stopped early');
    await click(page, byTestId('start-training'));
    await stepAtLeast(1);
    await click(page, byTestId('pause'));
    await waitForText(page, '#run-title', /Paused/);
    // The micro-batch under way finishes; then no step goes by for longer than a step takes.
    const atPause = await step();
    let paused = atPause;
    for (let still = 0; still < 1.5 * secondsPerStep * 1000 && paused <= atPause + 1; ) {
      await new Promise((r) => setTimeout(r, 250));
      const now = await step();
      [paused, still] = now === paused ? [paused, still + 250] : [now, 0];
    }
    expect(paused, 'steps went on while paused').toBeLessThanOrEqual(atPause + 1);
    await click(page, byTestId('resume'));
    await waitForText(page, '#run-title', /Training SFT/);
    await stepAtLeast(paused + 1);
    await click(page, byTestId('stop'));
    await waitForRun('cancelled');
    const last = await step();
    expect(await text(page, byTestId('run-done'))).toMatch(/Saved as stopped early/);
    await goTo(page, 'adapters');
    const facts = await page.$$eval(byTestId('adapter'), (as) =>
      as.filter((a) => a.querySelector('h4')?.textContent?.trim() === 'stopped early').map((a) => a.textContent ?? ''),
    );
    expect(facts).toHaveLength(1);
    expect(facts[0].replace(/\s+/g, ' ')).toContain(`step ${last} · loss`);
  });

  it('says plainly when the GPU runs out of memory or is lost, or storage is full; the saved adapters stay', async () => {
    const { page } = s;
    const names = () => page.$$eval(byTestId('adapter-name'), (els) => els.map((e) => e.textContent?.trim()).sort());
    await goTo(page, 'adapters');
    const before = await names();
    expect(before.length).toBeGreaterThan(0);
    await goTo(page, 'train');
    await quickSettings('sft', 1);
    const alert = `${byTestId('run')} [role=alert]`;
    // Failures of the worker's train call, with the engine's own messages (packages/kernels/src/runtime/errors.ts).
    const failures = [
      {
        name: 'GpuOutOfMemoryError',
        message:
          'Out of GPU memory during the training step (createBuffer of 2.1 GiB). Use a smaller batch size or max length, a smaller ' +
          'LoRA rank, or a smaller model; closing other GPU-heavy tabs and apps also frees memory.',
        title: 'Out of GPU memory',
      },
      {
        name: 'DeviceLostError',
        message:
          'The GPU device was lost (the driver reset). This happens when the graphics driver resets, often after running out of ' +
          'memory or a very long GPU task. Reload the page (or rerun the command) to continue; saved adapters and checkpoints are kept.',
        title: 'The GPU stopped working',
      },
    ];
    for (const f of failures) {
      await failNextCall(page, 'train', { name: f.name, message: f.message });
      await click(page, byTestId('start-training'));
      await waitForRun('failed');
      expect(await waitForText(page, alert, new RegExp(`^${f.title} `))).toContain(f.message);
    }
    expect(await text(page, `${alert} button`)).toBe('Reload the page');
    // Storage full: the trainer's IndexedDB refuses its writes as a browser does when the quota is used up.
    await refuseStorageWrites(page, true);
    try {
      await click(page, byTestId('start-training'));
      await waitForRun('failed');
      const full = await waitForText(page, alert, /^Browser storage is full /);
      expect(full).toMatch(/Nothing already saved was lost/);
      expect(full).toMatch(/deleting old adapters/);
    } finally {
      await refuseStorageWrites(page, false);
    }
    await goTo(page, 'adapters');
    expect(await names()).toEqual(before);
  });

  it('labels every control and shows focus', async () => {
    const { page } = s;
    for (const screen of ['model', 'data', 'train', 'compare', 'adapters', 'classroom']) {
      await goTo(page, screen);
      const unlabelled = await page.$$eval('input:not([type=hidden]):not([aria-hidden=true]), select, textarea, button', (els) =>
        els
          .filter((e) => {
            const el = e as HTMLInputElement;
            if (el.closest('[aria-hidden=true]')) return false;
            const named =
              el.labels?.length ||
              el.getAttribute('aria-label') ||
              el.getAttribute('aria-labelledby') ||
              (el.tagName === 'BUTTON' && el.textContent?.trim());
            return !named;
          })
          .map((e) => e.outerHTML.slice(0, 120)),
      );
      expect(unlabelled, screen).toEqual([]);
    }
    // Keyboard: Tab reaches the navigation, and the focused element draws an outline.
    await page.focus('nav a[data-screen="data"]');
    await page.keyboard.press('Tab');
    const outline = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement;
      return { tag: el.tagName, style: getComputedStyle(el).outlineStyle, width: getComputedStyle(el).outlineWidth };
    });
    expect(outline.tag).toBe('A');
    expect(outline.style).toBe('solid');
    expect(Number.parseFloat(outline.width)).toBeGreaterThanOrEqual(2);
  });

  it('reads at 360 px wide on every screen, and in large text with high contrast', async () => {
    const { page } = s;
    await resize(page, 360, 800);
    for (const screen of ['model', 'data', 'train', 'compare', 'adapters', 'classroom']) {
      await goTo(page, screen);
      await page.$$eval('details', (ds) => {
        for (const d of ds) (d as HTMLDetailsElement).open = true;
      });
      await resize(page, 360, 800);
      expect(await overflowing(page), screen).toEqual([]);
    }
    await goTo(page, 'train');
    await screenshot(page, 'narrow-train');
    await resize(page, 1280, 900);
    await clickText(page, 'Large text');
    await clickText(page, 'High contrast');
    await goTo(page, 'data');
    await screenshot(page, 'projector-data');
    await clickText(page, 'Large text');
    await clickText(page, 'High contrast');
  });

  it('explains a browser without WebGPU in plain words', async () => {
    const page = await s.session.browser.newPage();
    try {
      await page.evaluateOnNewDocument(() => {
        Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
      });
      await page.goto(s.session.server.url, { waitUntil: 'load' });
      const alert = await page.waitForSelector('[role=alert]');
      const message = await alert?.evaluate((e) => e.textContent);
      expect(message).toMatch(/cannot train models here/);
      expect(message).toMatch(/Chrome, Edge/);
    } finally {
      await page.close();
    }
  });
});
