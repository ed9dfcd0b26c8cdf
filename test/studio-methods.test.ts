// KTO in the studio, on its own page (studio.test.ts walks SFT and DPO): the Data screen reads a thumbs-up/down file
// (a bad label named by line, the desirable/undesirable balance and TRL's warning), the Train screen says when to
// choose each method, and a KTO run of two steps on the demo model draws KTO's own charts (kl, rewards, log-probs).
import { describe, expect, it } from 'vitest';
import { byTestId, click, goTo, loadDemo, text, typeInto, upload, useStudio, waitForText, writeTemp } from './support/studio.ts';

const s = useStudio();

const ANIMALS = ['cat', 'dog', 'fox', 'owl', 'bee', 'elk'];
/** Six rated answers (two thumbs up, four down) and one row whose label is text, on line 7. */
function ktoFile(): string {
  const rows: unknown[] = ANIMALS.map((a, i) => ({
    prompt: `What sound does a ${a} make?`,
    completion: ` A ${a} says hi.`,
    label: i % 3 === 0,
  }));
  rows.push({ prompt: 'What sound does a cow make?', completion: ' Moo.', label: 'yes' });
  return `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`;
}

describe('studio: KTO', () => {
  it('reads a KTO file: the bad label by line, the balance and the weights TRL advises', async () => {
    const { page } = s;
    await loadDemo(page);
    await goTo(page, 'data');
    await upload(page, byTestId('data-drop-file'), writeTemp('thumbs.jsonl', ktoFile()));
    await waitForText(page, byTestId('data-report'), /thumbs\.jsonl/);
    // A file of rated rows switches the screen to KTO by itself.
    expect(await page.$eval(byTestId('data-method-kto'), (e) => (e as HTMLInputElement).checked)).toBe(true);
    expect(await text(page, byTestId('rows-kept'))).toBe('6');
    expect(await text(page, byTestId('rejected-list'))).toMatch(/line 7[\s\S]*"label" is not a boolean/);
    expect(await text(page, byTestId('kto-balance'))).toMatch(/2 desirable \(thumbs up\) and 4 undesirable/);
    expect(await text(page, byTestId('kto-balance-warning'))).toMatch(/desirable_weight in \[2, 2\.66\]/);
  });

  it('says when to choose each method, and trains KTO with its own live charts', async () => {
    const { page } = s;
    await goTo(page, 'train');
    for (const m of ['orpo', 'simpo', 'kto']) {
      await click(page, byTestId(`train-method-${m}`));
      expect(await text(page, byTestId('method-when'))).toMatch(
        m === 'kto' ? /one rating per answer/ : m === 'orpo' ? /one run/ : /without a reference/,
      );
    }
    await page.$$eval('details', (ds) => {
      for (const d of ds) (d as HTMLDetailsElement).open = true;
    });
    const set = (flag: string, value: string) => typeInto(page, `[data-param="${flag}"]`, value);
    await set('max-steps', '2');
    await set('batch-size', '3');
    await set('max-length', '48');
    await set('desirable-weight', '2');
    expect(await text(page, byTestId('train-dataset'))).toMatch(/thumbs\.jsonl.*6 rows/);
    await click(page, byTestId('start-training'));
    await page.waitForFunction(
      () => ['completed', 'failed'].includes(document.querySelector('[data-testid="run"]')?.getAttribute('data-status') ?? ''),
      { timeout: 480_000, polling: 500 },
    );
    expect(await page.$eval(byTestId('run'), (e) => e.getAttribute('data-status'))).toBe('completed');
    for (const id of ['loss', 'kl', 'margins', 'logps', 'rewards', 'grad-norm', 'lr'])
      expect(await page.$eval(byTestId(`chart-${id}`), (e) => Number(e.getAttribute('data-points'))), id).toBe(2);
    expect(await page.$$(byTestId('chart-accuracies'))).toHaveLength(0);
    expect(await text(page, byTestId('run-done'))).toMatch(/Saved as/);
  });
});
