// The Export panel of the Adapters screen, in one browser session on the demo model: the shipped SFT adapter imported
// (no training here: the Train screen has its own tests), then exported in every format. What the browser saves is
// byte for byte what the Node writers give for the same model and adapter (read back from the PEFT export itself),
// and those writers are checked against llama.cpp and PyTorch (export/gguf/llama-cpp.test.ts, export/merge.test.ts).
// Single files go through the File System Access path (a save picker answered with a file of the origin-private file
// system) or a download; folders arrive as one .zip. A cancelled or failed write leaves no file.
// Bytes are compared by expectSameBytes, never toEqual: a failed toEqual of two megabyte arrays has vitest diff them
// element by element, which blocks Node for hours (and with it every timeout): the hang this file once had.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { slug } from '../apps/studio/src/lib/format.ts';
import { fileBytes } from '../packages/trainer/src/export/files.ts';
import { ggufLoraFile } from '../packages/trainer/src/export/gguf/lora.ts';
import { ggufModelFile } from '../packages/trainer/src/export/gguf/model.ts';
import { mergeAdapters } from '../packages/trainer/src/export/merge.ts';
import { safetensorsFiles } from '../packages/trainer/src/export/safetensors-out.ts';
import { DEMO_MODEL, loadAdapter, loadBase } from '../packages/trainer/src/export/testing/node-fixtures.ts';
import type { AdapterRecord } from '../packages/trainer/src/store/db.ts';
import { unzip } from '../packages/trainer/src/store/zip.ts';
import {
  byTestId,
  click,
  expectSameBytes,
  goodSft,
  goTo,
  loadDemo,
  overflowing,
  resize,
  STUDIO,
  text,
  typeInto,
  upload,
  useStudio,
  waitForDownload,
  waitForText,
  writeTemp,
} from './support/studio.ts';

const s = useStudio();

const { base, files: demoFiles } = await loadBase(DEMO_MODEL);
const json = (n: string) => JSON.parse(new TextDecoder().decode(demoFiles.get(n)));
const tokenizer = { json: json('tokenizer.json'), config: json('tokenizer_config.json') };
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const sftFile = writeTemp('export-cards.jsonl', goodSft());
/**
 * The demo's shipped SFT adapter (scripts/demo/ship-adapters.sh) as a PEFT folder to import, naming the demo model as
 * its base (the shipped config names the training script's folder, "model"; the panel offers adapters of the loaded model).
 */
const shippedSft = (() => {
  const from = join(STUDIO, 'public/demo/adapters/quick/sft');
  const dir = mkdtempSync(join(tmpdir(), 'webtune-export-adapter-'));
  for (const f of ['adapter_model.safetensors', 'training_config.json', 'README.md'])
    writeFileSync(join(dir, f), readFileSync(join(from, f)));
  const config = JSON.parse(readFileSync(join(from, 'adapter_config.json'), 'utf8'));
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ ...config, base_model_name_or_path: 'webtune-demo' }));
  return ['adapter_config.json', 'adapter_model.safetensors', 'training_config.json', 'README.md'].map((f) => join(dir, f));
})();

/** The adapter the page trained, read back from its own PEFT export; its name as the panel shows it. */
let adapter: AdapterRecord;
let adapterName = '';

/** Choose the format and number type, wait for the exact size, export; the size the panel announced. */
async function exportAs(format: string, dtype = ''): Promise<number> {
  const { page } = s;
  await click(page, byTestId(`export-format-${format}`));
  if (dtype) await page.select(byTestId('export-dtype'), dtype);
  await page.waitForFunction(() => document.querySelector('[data-testid="export-plan"]')?.hasAttribute('data-bytes'), {
    polling: 100,
    timeout: 60_000,
  });
  const bytes = Number(await page.$eval(byTestId('export-plan'), (e) => e.getAttribute('data-bytes')));
  await click(page, byTestId('export-start'));
  return bytes;
}

async function waitForOutcome(phase: string): Promise<string> {
  await s.page.waitForFunction(
    (p) => document.querySelector('[data-testid="export-outcome"]')?.getAttribute('data-phase') === p,
    { timeout: 120_000, polling: 100 },
    phase,
  );
  return text(s.page, byTestId('export-outcome'));
}

/** The saved download whose name is `name`, checked against the size announced before writing. */
async function downloaded(name: string, announced: number): Promise<Uint8Array> {
  const path = await waitForDownload(s.downloads, new RegExp(`^${name.replace(/[.]/g, '\\.')}$`));
  expect(statSync(path).size, name).toBe(announced);
  return new Uint8Array(readFileSync(path));
}

/**
 * Answers the save picker with a file of the origin-private file system (what a picked file on disk is to the page);
 * `delayMs` slows each write (to cancel mid-way), `failAt` makes that write fail as a full disk does.
 */
async function pickIntoOpfs(options: { delayMs?: number; failAt?: number } = {}): Promise<void> {
  await s.page.evaluate(({ delayMs = 0, failAt = -1 }) => {
    (window as unknown as { showSaveFilePicker: unknown }).showSaveFilePicker = async ({ suggestedName }: { suggestedName: string }) => {
      const root = await navigator.storage.getDirectory();
      const handle = await root.getFileHandle(suggestedName, { create: true });
      const createWritable = handle.createWritable.bind(handle);
      let n = 0;
      return Object.assign(Object.create(handle), {
        getFile: () => handle.getFile(),
        remove: () => root.removeEntry(suggestedName),
        async createWritable() {
          const w = await createWritable();
          return {
            async write(chunk: Uint8Array) {
              await new Promise((r) => setTimeout(r, delayMs));
              if (n++ === failAt) throw new DOMException('The disk is full.', 'QuotaExceededError');
              return w.write(chunk as Uint8Array<ArrayBuffer>);
            },
            close: () => w.close(),
            abort: () => w.abort(),
          };
        },
      });
    };
  }, options);
}

/** SHA-256 of an origin-private file, or null when there is none. */
const opfsSha = (name: string) =>
  s.page.evaluate(async (n) => {
    const root = await navigator.storage.getDirectory();
    const file = await root
      .getFileHandle(n)
      .then((h) => h.getFile())
      .catch(() => null);
    if (!file) return null;
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()));
    return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
  }, name);

const noPicker = () => s.page.evaluate(() => ((window as unknown as { showSaveFilePicker: unknown }).showSaveFilePicker = undefined));

describe('studio: export', () => {
  it('imports the shipped SFT adapter and offers every format with its size before writing', async () => {
    const { page } = s;
    await loadDemo(page);
    await goTo(page, 'data');
    await upload(page, byTestId('data-drop-file'), sftFile);
    await waitForText(page, byTestId('data-report'), /export-cards\.jsonl/);
    await goTo(page, 'adapters');
    await typeInto(page, '#import-name', 'export cards');
    await upload(page, byTestId('adapter-import-file'), ...shippedSft);
    adapterName = await waitForText(page, byTestId('adapter-name'), /export cards/);
    const id = await page.$eval(byTestId('adapter'), (e) => e.getAttribute('data-adapter-id'));
    await page.select(byTestId('export-adapter'), id as string);
    // An adapter format needs the adapter; every format shows its exact size before a byte is written.
    await click(page, byTestId('export-format-gguf'));
    await waitForText(page, byTestId('export-plan'), /-f16\.gguf: [\d.]+ (KB|MB|KiB|MiB)\. /);
    await resize(page, 360, 800);
    expect(await overflowing(page)).toEqual([]);
    await resize(page, 1280, 900);
  });

  it('peft: a .zip download of the adapter folder', async () => {
    await noPicker();
    const name = `${slug(adapterName)}-peft.zip`;
    const bytes = await downloaded(name, await exportAs('peft'));
    expect(await waitForOutcome('saved')).toBe(`Saved ${name} to your downloads.`);
    const dir = mkdtempSync(join(tmpdir(), 'webtune-export-peft-'));
    for (const [path, data] of unzip(bytes)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), data);
    }
    adapter = loadAdapter(join(dir, `${slug(adapterName)}-peft`));
    expect(adapter.tensors.some((t) => t.name.includes('lora_B') && t.data.some((x) => x !== 0))).toBe(true);
  });

  it('gguf F16: streamed into the picked file, byte for byte the Node writer', async () => {
    await pickIntoOpfs();
    const name = `${slug(adapterName)}-f16.gguf`;
    await exportAs('gguf', 'F16');
    expect(await waitForOutcome('saved')).toBe(`Saved ${name} to the file you picked.`);
    const want = await fileBytes(
      ggufModelFile(mergeAdapters(base, [adapter]), { type: 'F16', name: `webtune-demo + ${adapterName}`, tokenizer }),
    );
    expect(await opfsSha(name), name).toBe(sha256(want));
  });

  it('merged BF16, ollama Q8_0, gguf-lora and trl-run: downloads as the Node writers give them', async () => {
    await noPicker();
    const merged = mergeAdapters(base, [adapter]);
    const stem = slug(adapterName);

    const mergedZip = unzip(await downloaded(`${stem}-merged.zip`, await exportAs('merged', 'BF16')));
    const [weights] = safetensorsFiles(merged, 'BF16');
    expectSameBytes(mergedZip.get(`${stem}-merged/model.safetensors`), await fileBytes(weights), 'merged model.safetensors');
    expect([...mergedZip.keys()].map((k) => k.slice(stem.length + 8)).sort()).toEqual([
      'README.md',
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);

    const ollama = unzip(await downloaded(`${stem}-ollama.zip`, await exportAs('ollama', 'Q8_0')));
    const q8 = await fileBytes(ggufModelFile(merged, { type: 'Q8_0', name: `webtune-demo + ${adapterName}`, tokenizer }));
    expectSameBytes(ollama.get(`${stem}-ollama/model.gguf`), q8, 'ollama model.gguf');
    expect(new TextDecoder().decode(ollama.get(`${stem}-ollama/Modelfile`))).toContain('FROM ./model.gguf\n');

    const lora = await downloaded(`${stem}-lora-f32.gguf`, await exportAs('gguf-lora', 'F32'));
    expectSameBytes(lora, await fileBytes(ggufLoraFile(base.config, [adapter], { name: `webtune-demo + ${adapterName}` })), 'lora');

    const run = unzip(await downloaded(`${stem}-trl-run.zip`, await exportAs('trl-run')));
    expect(new TextDecoder().decode(run.get(`${stem}-trl-run/train.jsonl`))).toBe(readFileSync(sftFile, 'utf8'));
    expect(new TextDecoder().decode(run.get(`${stem}-trl-run/README.md`))).toContain('trl sft --config config.yaml');
    expect(await waitForOutcome('saved')).toBe(`Saved ${stem}-trl-run.zip to your downloads.`);
  });

  it('a cancelled export and a failed write leave no file, and say so', async () => {
    const { page } = s;
    await pickIntoOpfs({ delayMs: 1500 });
    await exportAs('gguf', 'F32');
    await click(page, byTestId('export-cancel'));
    expect(await waitForOutcome('cancelled')).toBe('Cancelled: nothing was saved.');
    expect(await opfsSha(`${slug(adapterName)}-f32.gguf`)).toBeNull();
    await pickIntoOpfs({ failAt: 1 });
    await exportAs('gguf', 'F32');
    expect(await waitForOutcome('failed')).toBe('The export stopped: nothing was saved.');
    expect(await text(page, `${byTestId('export-panel')} [role=alert]`)).toMatch(/Browser storage is full/);
    expect(await opfsSha(`${slug(adapterName)}-f32.gguf`)).toBeNull();
  });
});
