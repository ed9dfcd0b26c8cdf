// The two-stage loop end to end on the demo model (issue 15): SFT a few steps holding 6 rows out (their eval_loss on
// the chart), candidates from the SFT model for those 6 held-out prompts, judged with the keyboard (one edit, one tie,
// one skip, one both-bad), a reload in the middle of judging that loses nothing, the saved TRL JSONL (fields, order,
// the edit kept, ties dropped), synthetic pairs (each answer over a degraded copy) saved after the judged ones, a
// smoke test that fails (its verdict kept across a reload) and DPO asking before it starts on top of SFT, DPO
// evaluated on an eval file of its own, then a blind A/B of SFT vs SFT+DPO on 6 prompts.
import { readFileSync, rmSync } from 'node:fs';
import type { KeyInput } from 'puppeteer';
import { describe, expect, it } from 'vitest';
import {
  byTestId,
  click,
  goodDpo,
  goTo,
  loadDemo,
  text,
  typeInto,
  upload,
  useStudio,
  waitForDownload,
  waitForText,
  writeTemp,
} from './support/studio.ts';

const s = useStudio();
/** Comparisons to judge (6 prompts, 2 candidates each). */
let total = 6;

/** What the judge sees now: the prompt and both answers. */
async function shown() {
  const { page } = s;
  return page.evaluate(() => ({
    prompt: document.querySelector('[data-testid="pairs-prompt"]')?.textContent ?? '',
    left: document.querySelector('[data-testid="pairs-left"] pre')?.textContent ?? '',
    right: document.querySelector('[data-testid="pairs-right"] pre')?.textContent ?? '',
  }));
}

/** The pairs file and its provenance sidecar the Download button saves (then removed, so the next has their names). */
async function downloadPairs(): Promise<{ rows: Record<string, unknown>[]; prov: Record<string, unknown>[] }> {
  await click(s.page, byTestId('pairs-download'));
  const read = async (name: RegExp) => {
    const path = await waitForDownload(s.downloads, name);
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    rmSync(path);
    return lines.map((l) => JSON.parse(l));
  };
  return { rows: await read(/^judged-pairs\.jsonl$/), prov: await read(/^judged-pairs\.provenance\.jsonl$/) };
}

async function press(key: KeyInput, judgedAfter: number) {
  const { page } = s;
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.keyboard.press(key);
  await waitForText(page, byTestId('pairs-progress'), new RegExp(`^${judgedAfter} of ${total} judged`), 10_000);
}

describe('Pairs screen', () => {
  const expected: { prompt: string; chosen: string; rejected: string }[] = [];

  it('trains SFT 3 steps with 6 rows of the demo data held out, and charts their eval_loss', async () => {
    const { page } = s;
    await waitForText(page, byTestId('engine-status'), /GPU ready/);
    await loadDemo(page);
    await goTo(page, 'data');
    await click(page, byTestId('demo-data-sft'));
    await goTo(page, 'train');
    await click(page, byTestId('train-method-sft'));
    await page.$$eval('details', (ds) => {
      for (const d of ds) (d as HTMLDetailsElement).open = true;
    });
    for (const [flag, value] of [
      ['max-steps', '3'],
      ['batch-size', '2'],
      ['max-length', '48'],
      ['val-size', '6'],
      ['eval-steps', '3'],
    ])
      await typeInto(page, `[data-param="${flag}"]`, value);
    await page.select('#sft-param-eval-strategy', 'steps');
    await click(page, byTestId('start-training'));
    await page.waitForFunction(
      () => ['completed', 'failed'].includes(document.querySelector('[data-testid="run"]')?.getAttribute('data-status') ?? ''),
      { timeout: 300_000, polling: 500 },
    );
    expect(await page.$eval(byTestId('run'), (e) => e.getAttribute('data-status'))).toBe('completed');
    expect(await text(page, byTestId('chart-loss'))).toMatch(/eval_loss\s*\d/);
  });

  it('generates 2 candidates from the SFT model for each of the 6 prompts its run held out', async () => {
    const { page } = s;
    await goTo(page, 'pairs');
    const sft = await page.$$eval(`${byTestId('pairs-model')} option`, (os) =>
      os.find((o) => o.textContent?.startsWith('SFT:'))?.getAttribute('value'),
    );
    expect(sft).toBeTruthy();
    await page.select(byTestId('pairs-model'), sft as string);
    await click(page, byTestId('pairs-held-out'));
    await page.waitForFunction(
      () => (document.querySelector('[data-testid="pairs-prompts"]') as HTMLTextAreaElement)?.value.split('\n').length === 6,
    );
    // The fields' min and max are hints: one candidate (no pair can come of it) is refused by name, nothing generated.
    await typeInto(page, byTestId('pairs-k'), '1');
    await click(page, byTestId('pairs-generate'));
    await waitForText(
      page,
      `${byTestId('screen-pairs')} [role=alert]`,
      /These settings cannot be used\s*candidates per prompt must be a whole number from 2 to 4 \(got 1\)/,
    );
    expect(await text(page, byTestId('pairs-generated'))).toMatch(/^0 of /);
    await typeInto(page, byTestId('pairs-k'), '2');
    await typeInto(page, byTestId('pairs-max-tokens'), '16');
    // The demo model is sure of itself: at 0.8 two samples are often the same words.
    await typeInto(page, byTestId('pairs-temperature'), '1.5');
    await click(page, byTestId('pairs-generate'));
    await waitForText(page, byTestId('pairs-generated'), /^6 of 6 prompts have candidates/, 300_000);
    // One comparison per prompt, but for a prompt whose two answers came out the same (never asked about).
    total = Number((await waitForText(page, byTestId('pairs-progress'), /^0 of \d judged/)).split(' ')[2]);
    expect(total).toBeGreaterThanOrEqual(5);
  });

  it('judges with the keyboard: an edit kept, a tie, a skip; a reload loses nothing', async () => {
    const { page } = s;
    // 1: edit the left answer (E), then left is better.
    let now = await shown();
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await page.keyboard.press('e');
    await page.waitForSelector(byTestId('pairs-left-edit'));
    await page.focus(byTestId('pairs-left-edit'));
    await page.keyboard.press('End');
    await page.keyboard.type(' (edited)');
    await page.keyboard.press('Escape');
    await press('ArrowLeft', 1);
    expected.push({ prompt: now.prompt, chosen: `${now.left} (edited)`, rejected: now.right });
    await press('t', 2);
    await press('s', 3);

    await page.reload({ waitUntil: 'load' });
    await waitForText(page, byTestId('engine-status'), /GPU ready/);
    await goTo(page, 'pairs');
    await waitForText(page, byTestId('pairs-progress'), new RegExp(`^3 of ${total} judged`), 30_000);
    expect(await text(page, byTestId('pairs-generated'))).toMatch(/^6 of 6/);

    now = await shown();
    await press('ArrowRight', 4);
    expected.push({ prompt: now.prompt, chosen: now.right, rejected: now.left });
    await press('b', 5);
    // Undo takes the both-bad back; judged again as left better.
    await press('u', 4);
    now = await shown();
    await press('ArrowLeft', 5);
    expected.push({ prompt: now.prompt, chosen: now.left, rejected: now.right });
    if (total === 6) await press('b', 6);
    await page.waitForSelector(byTestId('pairs-all-judged'));
    expect(await text(page, byTestId('pairs-made'))).toBe(`3 pairs; 1 ties, ${total === 6 ? 1 : 0} both bad and 1 skipped make none.`);
  });

  it('says when the work kept in this browser cannot be read, and leaves it as it was for the next visit', async () => {
    const { page } = s;
    const judged = await text(page, byTestId('pairs-progress'));
    // The next page's reads of the Pairs database fail, as a damaged disk's would.
    const { identifier } = await page.evaluateOnNewDocument(() => {
      const get = IDBObjectStore.prototype.get;
      IDBObjectStore.prototype.get = function (this: IDBObjectStore, key: IDBValidKey | IDBKeyRange) {
        if (this.transaction.db.name === 'webtune-pairs') throw new DOMException('The disk could not be read', 'UnknownError');
        return get.call(this, key);
      };
    });
    await page.reload({ waitUntil: 'load' });
    await waitForText(page, byTestId('engine-status'), /GPU ready/);
    await goTo(page, 'pairs');
    await waitForText(
      page,
      `${byTestId('screen-pairs')} [role=alert]`,
      /could not be read \(The disk could not be read\); it is left as it was: reload the page to try again/,
    );
    expect(await text(page, byTestId('pairs-generated'))).toMatch(/^0 of 0/);
    await page.removeScriptToEvaluateOnNewDocument(identifier);
    await page.reload({ waitUntil: 'load' });
    await waitForText(page, byTestId('engine-status'), /GPU ready/);
    await goTo(page, 'pairs');
    expect(await waitForText(page, byTestId('pairs-progress'), /judged/, 30_000)).toBe(judged);
    expect(await text(page, byTestId('pairs-generated'))).toMatch(/^6 of 6/);
  });

  it('saves TRL JSONL with the edit kept and ties dropped, and a provenance file line for line', async () => {
    const { rows, prov } = await downloadPairs();
    expect(rows).toEqual(expected);
    expect(rows.map((r) => Object.keys(r))).toEqual(rows.map(() => ['prompt', 'chosen', 'rejected']));
    expect(prov.map((p) => [p.line, p.source, p.edited])).toEqual([
      [1, 'human', true],
      [2, 'human', false],
      [3, 'human', false],
    ]);
    expect(`${prov[0].original_chosen} (edited)`).toBe(rows[0].chosen);
  });

  it('makes synthetic pairs, each first candidate over a degraded copy of it, saved after the judged ones', async () => {
    const { page } = s;
    // (Against the base model's answer, same seed, the 3-step SFT adapter wrote the same words for all 6 prompts: no
    // pair, and a generation per prompt; the cut-down copy is free and always differs.)
    await page.select(byTestId('pairs-synthetic-rule'), 'degrade');
    await click(page, byTestId('pairs-synthetic'));
    const made = await waitForText(page, byTestId('pairs-synthetic-made'), /^\d+ synthetic pairs/);
    const [, n, same] =
      made.match(/^(\d+) synthetic pairs \(rejected: the first half of the answer itself \(cut mid-thought\)\); (\d+) prompts/) ?? [];
    expect(Number(n) + Number(same)).toBe(6);
    const { rows, prov } = await downloadPairs();
    expect(rows.slice(0, expected.length)).toEqual(expected);
    expect(rows).toHaveLength(expected.length + Number(n));
    const synthetic = prov.slice(expected.length);
    expect(synthetic.map((p) => [p.line, p.source, p.rule])).toEqual(
      synthetic.map((_, i) => [expected.length + i + 1, 'synthetic', 'answer over its first half (degraded)']),
    );
    for (const p of synthetic) expect((p.chosen_from as { adapter: string | null }).adapter).toMatch(/\S/); // the SFT adapter's name
    for (const r of rows.slice(expected.length)) {
      const words = String(r.chosen).trim().split(/\s+/);
      expect(r.rejected).toBe(words.slice(0, Math.floor(words.length / 2)).join(' '));
    }
  });

  it('uses the pairs as the DPO dataset in one click, and trains a DPO step on them, evaluated on an eval file', async () => {
    const { page } = s;
    // The reload above left no model loaded: the pairs wait in the DPO slot until one is.
    await goTo(page, 'model');
    await loadDemo(page);
    await goTo(page, 'pairs');
    await click(page, byTestId('pairs-use'));
    await page.waitForSelector(byTestId('screen-train'));
    await click(page, byTestId('train-method-dpo'));
    await waitForText(page, byTestId('train-dataset'), /judged-pairs\.jsonl/);
    // The smoke test of the SFT model DPO starts from: a check its answers do not pass (they are not JSON objects).
    await page.waitForSelector(byTestId('smoke-test'));
    await page.$eval(byTestId('smoke-test'), (d) => ((d as HTMLDetailsElement).open = true));
    await page.select(byTestId('smoke-kind'), 'regex');
    await typeInto(page, byTestId('smoke-pattern'), '^\\{');
    await typeInto(page, byTestId('smoke-max-tokens'), '8');
    await page.waitForFunction(() => (document.querySelector('[data-testid="smoke-prompts"]') as HTMLTextAreaElement)?.value.trim() !== '');
    await click(page, byTestId('smoke-run'));
    await page.waitForSelector(byTestId('smoke-verdict'), { timeout: 120_000 });
    expect(await page.$eval(byTestId('smoke-verdict'), (e) => e.getAttribute('data-passed'))).toBe('false');
    expect(await text(page, byTestId('smoke-message'))).toMatch(/^The smoke test failed: 0 of \d+ of the SFT model's answers/);
    // The verdict outlives a reload (and so does the DPO data).
    await page.reload({ waitUntil: 'load' });
    await waitForText(page, byTestId('engine-status'), /GPU ready/);
    await goTo(page, 'model');
    await loadDemo(page);
    await goTo(page, 'train');
    await click(page, byTestId('train-method-dpo'));
    await waitForText(page, byTestId('train-dataset'), /judged-pairs\.jsonl/);
    await waitForText(page, byTestId('smoke-verdict'), /^failed: 0 of \d+$/);
    expect(await text(page, byTestId('smoke-message'))).toMatch(/^The smoke test failed: 0 of \d+ of the SFT model's answers/);
    await page.$$eval('details', (ds) => {
      for (const d of ds) (d as HTMLDetailsElement).open = true;
    });
    await typeInto(page, '[data-param="max-steps"]', '1');
    await typeInto(page, '[data-param="batch-size"]', '1');
    await typeInto(page, '[data-param="max-length"]', '48');
    // Evaluation on a file of its own (the CLI's --eval-data): asked for without rows, the run says what it needs.
    await page.select('#dpo-param-eval-strategy', 'steps');
    await typeInto(page, '[data-param="eval-steps"]', '1');
    await waitForText(page, byTestId('train-blocker'), /^eval_strategy "steps" needs rows to evaluate/);
    const evalPairs = goodDpo().split('\n').slice(0, 2).join('\n');
    await upload(page, byTestId('eval-file'), writeTemp('eval-pairs.jsonl', `${evalPairs}\n`));
    await waitForText(page, byTestId('eval-file-name'), /Evaluating on eval-pairs\.jsonl/);
    expect(await page.$(byTestId('train-blocker'))).toBeNull();
    // DPO asks before starting on top of it; Cancel starts nothing, "anyway" starts.
    await click(page, byTestId('start-training'));
    await page.waitForSelector(byTestId('smoke-confirm'));
    await click(page, byTestId('smoke-confirm-no'));
    expect(await page.$(byTestId('smoke-confirm'))).toBeNull();
    expect(await page.$(byTestId('run'))).toBeNull();
    await click(page, byTestId('start-training'));
    await click(page, byTestId('smoke-confirm-yes'));
    await page.waitForFunction(
      () => ['completed', 'failed'].includes(document.querySelector('[data-testid="run"]')?.getAttribute('data-status') ?? ''),
      { timeout: 300_000, polling: 500 },
    );
    expect(await page.$eval(byTestId('run'), (e) => e.getAttribute('data-status'))).toBe('completed');
    expect(await text(page, byTestId('chart-loss'))).toMatch(/eval_loss\s*\d/);
    expect(await text(page, byTestId('chart-accuracies'))).toMatch(/eval_rewards\/accuracies/);
  });

  it('runs a blind A/B of SFT vs SFT+DPO: names hidden until done, a reload loses nothing', async () => {
    const { page } = s;
    await goTo(page, 'compare');
    // 6 prompts (the demo's held-out ones, and more typed in), short greedy answers.
    const given = await page.$$eval(byTestId('compare-prompt'), (els) => els.length);
    for (let i = given; i < 6; i++) {
      await click(page, byTestId('add-prompt'));
      await typeInto(page, `#compare-prompt-${i}`, `Describe animal number ${i + 1}.`);
    }
    const prompts = await page.$$eval(
      byTestId('compare-prompt'),
      (els) => els.filter((e) => (e as HTMLTextAreaElement).value.trim()).length,
    );
    expect(prompts).toBe(6);
    await typeInto(page, byTestId('compare-max-tokens'), '12');
    const sftId = await page.$$eval(`${byTestId('ab-first')} option`, (os) =>
      os.find((o) => o.textContent?.startsWith('SFT:'))?.getAttribute('value'),
    );
    await page.select(byTestId('ab-first'), sftId as string);
    const sftName = (
      await page.$eval(`${byTestId('ab-first')}`, (e) => (e as HTMLSelectElement).selectedOptions[0].textContent ?? '')
    ).replace(/^SFT: /, '');
    const second = await page.$eval(byTestId('ab-second'), (e) => (e as HTMLSelectElement).selectedOptions[0].textContent ?? '');
    expect(second).toMatch(/^DPO: /);
    await click(page, byTestId('ab-start'));
    await page.waitForSelector(byTestId('ab-a'), { timeout: 120_000 });
    const key = async (k: KeyInput, judged: number) => {
      // The next prompt's answers may still be coming.
      await page.waitForSelector(byTestId('ab-a'), { timeout: 120_000 });
      await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      await page.keyboard.press(k);
      await waitForText(page, byTestId('ab-progress'), new RegExp(`^${judged} of ${prompts} judged`), 120_000);
    };
    await key('a', 1);
    expect(await page.$(byTestId('ab-summary'))).toBeNull();
    await page.reload({ waitUntil: 'load' });
    await waitForText(page, byTestId('engine-status'), /GPU ready/);
    await goTo(page, 'compare');
    await waitForText(page, byTestId('ab-progress'), new RegExp(`^1 of ${prompts} judged`), 30_000);
    await key('b', 2);
    for (let i = 2; i < prompts; i++) await key('t', i + 1);
    await page.waitForSelector(byTestId('ab-summary'));
    // Who was A on each prompt, now shown; the SFT model wins prompt 1 if it was A there, and prompt 2 if it was B.
    const wasA = await page.$$eval(`${byTestId('ab-summary')} tbody tr`, (rows) => rows.map((r) => r.children[1].textContent));
    const baseWins = (wasA[0] === sftName ? 1 : 0) + (wasA[1] === sftName ? 0 : 1);
    expect(await text(page, byTestId('ab-first-name'))).toBe(sftName);
    const k = baseWins + (prompts - 2) / 2;
    const z = 1.959963984540054;
    const p = k / prompts;
    const centre = (p + (z * z) / (2 * prompts)) / (1 + (z * z) / prompts);
    const half = (z / (1 + (z * z) / prompts)) * Math.sqrt((p * (1 - p)) / prompts + (z * z) / (4 * prompts * prompts));
    const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
    expect(await text(page, byTestId('ab-summary'))).toContain(
      `${sftName}: ${baseWins} wins, win rate ${pct(p)} (95% interval ${pct(centre - half)}–${pct(centre + half)})`,
    );
  });
});
