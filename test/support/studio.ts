// The studio end to end: served by vite from its sources, opened in headless Chromium with WebGPU, driven the way
// a user drives it (clicks, typing, file pickers), with downloads captured and screenshots written (for the README with `pnpm screenshots`).
import { mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type GpuSession, hubMock, openGpuSession, REPO_ROOT } from '@webtune/harness';
import type { ElementHandle, Page } from 'puppeteer';
import { afterAll, beforeAll } from 'vitest';

export const STUDIO = join(REPO_ROOT, 'apps/studio');
/** Where screenshots go: test-results/ (ignored by git), or WEBTUNE_SCREENSHOTS (`pnpm screenshots`: the README's). */
export const SCREENSHOTS = resolve(REPO_ROOT, process.env.WEBTUNE_SCREENSHOTS || 'test-results/screenshots');
export const FIXTURES = join(REPO_ROOT, 'packages/trainer/test/fixtures');
/** A Hub repo the mock serves (a tiny fixture checkpoint), and one it does not. */
export const HUB_REPO = 'webtune-test/tiny-llama';
export const HUB_MISSING = 'webtune-test/no-such-model';

export interface StudioSession {
  session: GpuSession;
  page: Page;
  /** Where the browser saves downloads. */
  downloads: string;
  /** The mock Hub's endpoint, as the page reaches it. */
  hubEndpoint: string;
  /** The same mock Hub, slow enough to cancel a download. */
  slowHubEndpoint: string;
  close(): Promise<void>;
}

export async function openStudio(): Promise<StudioSession> {
  const hub = hubMock({ root: FIXTURES, repos: { [HUB_REPO]: 'llama-tied-f32' }, latencyMs: 20, chunkBytes: 16 * 1024 });
  // The same repo, trickling in (about 10 s), to cancel mid-download.
  const slow = hubMock({ root: FIXTURES, repos: { [HUB_REPO]: 'llama-tied-f32' }, latencyMs: 300, chunkBytes: 4096, prefix: '/__slowhub' });
  const session = await openGpuSession({
    root: STUDIO,
    configFile: join(STUDIO, 'vite.config.ts'),
    path: '/',
    plugins: [hub, slow],
    watchNetwork: true, // waitForNetworkIdle, request interception
  });
  const { page, browser } = session;
  await page.setViewport({ width: 1280, height: 900 });
  const downloads = mkdtempSync(join(tmpdir(), 'webtune-studio-downloads-'));
  const cdp = await browser.target().createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads, eventsEnabled: true });
  page.on('dialog', (d) => void d.accept());
  return {
    session,
    page,
    downloads,
    hubEndpoint: `${session.server.url}${hub.prefix.replace(/^\//, '')}`,
    slowHubEndpoint: `${session.server.url}${slow.prefix.replace(/^\//, '')}`,
    close: () => session.close(),
  };
}

/** The studio opened before the file's tests and closed after them: its fields are there once the tests run. */
export function useStudio(): StudioSession {
  const s = {} as StudioSession;
  beforeAll(async () => {
    Object.assign(s, await openStudio());
  });
  afterAll(() => s.close?.());
  return s;
}

// ---- driving the page ------------------------------------------------------------------------------------------

export const byTestId = (id: string) => `[data-testid="${id}"]`;

export async function click(page: Page, selector: string): Promise<void> {
  const el = await page.waitForSelector(selector, { visible: true });
  await page.waitForFunction((s) => !(document.querySelector(s) as HTMLButtonElement | null)?.disabled, {}, selector);
  await (el as ElementHandle<Element>).click();
}

/** Click the button (or link) whose text contains `text`. */
export async function clickText(page: Page, text: string, within = 'body'): Promise<void> {
  const handle = await page.waitForFunction(
    (t, w) =>
      [...document.querySelectorAll(`${w} button, ${w} a`)].find(
        (b) => b.textContent?.includes(t) && !(b as HTMLButtonElement).disabled && (b as HTMLElement).offsetParent !== null,
      ),
    {},
    text,
    within,
  );
  await (handle as ElementHandle<Element>).click();
}

/** Load the embedded demo model from the Model screen and wait until it is the loaded model. */
export async function loadDemo(page: Page): Promise<void> {
  await click(page, byTestId('load-demo'));
  await waitForText(page, byTestId('model-info'), /the demo model/);
}

export async function goTo(page: Page, screen: string): Promise<void> {
  await click(page, `nav a[data-screen="${screen}"]`);
  await page.waitForSelector(byTestId(`screen-${screen}`));
}

/** The element's text, white space collapsed. */
export async function text(page: Page, selector: string): Promise<string> {
  return page.$eval(selector, (e) => (e.textContent ?? '').replace(/\s+/g, ' ').trim());
}

/** Wait until the element's text matches. */
export async function waitForText(page: Page, selector: string, pattern: RegExp, timeout = 120_000): Promise<string> {
  await page.waitForFunction(
    (s, src, flags) => new RegExp(src, flags).test((document.querySelector(s)?.textContent ?? '').replace(/\s+/g, ' ').trim()),
    { timeout, polling: 200 },
    selector,
    pattern.source,
    pattern.flags,
  );
  return text(page, selector);
}

/** Set a number or text input as a user would: select all, type. */
export async function typeInto(page: Page, selector: string, value: string): Promise<void> {
  const el = (await page.waitForSelector(selector, { visible: true })) as ElementHandle<HTMLInputElement>;
  await el.click({ count: 3 });
  await el.evaluate((e) => {
    e.select?.();
  });
  await page.keyboard.press('Backspace');
  await el.type(value);
  await el.evaluate((e) => e.dispatchEvent(new Event('change', { bubbles: true })));
  // Typing into a field the user cannot see (a closed <details>) goes elsewhere: say so rather than run on.
  const got = await el.evaluate((e) => e.value);
  if (got !== value) throw new Error(`typed "${value}" into ${selector}, but it holds "${got}"`);
}

export async function upload(page: Page, inputSelector: string, ...files: string[]): Promise<void> {
  const input = (await page.waitForSelector(inputSelector)) as ElementHandle<HTMLInputElement>;
  await input.uploadFile(...files);
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`) as `${string}.png`;
  // Let charts settle (one animation frame) and take focus rings off buttons clicked with the mouse.
  await page.evaluate(
    () =>
      new Promise<void>((r) => {
        (document.activeElement as HTMLElement | null)?.blur();
        requestAnimationFrame(() => requestAnimationFrame(() => r()));
      }),
  );
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Set the viewport and wait two frames for the layout (and the charts' measurements) to follow. */
export async function resize(page: Page, width: number, height: number): Promise<void> {
  await page.setViewport({ width, height });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

/**
 * What sticks out past the viewport's right edge (inside a box that scrolls or clips is fine: its box does not),
 * and whether the page scrolls sideways. Empty at a width that reads well.
 */
export async function overflowing(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const w = document.documentElement.clientWidth;
    const clipped = (e: Element) => {
      for (let p = e.parentElement; p; p = p.parentElement) if (/auto|scroll|hidden/.test(getComputedStyle(p).overflowX)) return true;
      return false;
    };
    const out = [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > w + 0.5 && !clipped(e))
      .map((e) => `${e.tagName.toLowerCase()}.${e.getAttribute('class') ?? ''}: ${(e.textContent ?? '').trim().slice(0, 40)}`);
    const scroll = document.documentElement.scrollWidth - w;
    if (scroll > 0) out.push(`the page scrolls ${scroll} px sideways`);
    return out;
  });
}

/**
 * Make the page's next call of `method` on the trainer fail with `error`, as if the worker had thrown it. The call
 * is answered at the client/worker boundary and never reaches the worker: the reply is what Comlink (4.x) sends for
 * a thrown Error, a 'HANDLER' 'throw' message with the call's id, so the studio receives exactly what a real failure
 * of that call gives it (an Error with the worker's `name` and `message`).
 */
export async function failNextCall(page: Page, method: string, error: { name: string; message: string }): Promise<void> {
  await page.evaluate(
    (method, error) => {
      const w = window as unknown as { __failNext?: Map<string, { name: string; message: string }> };
      if (!w.__failNext) {
        const failNext = new Map<string, { name: string; message: string }>();
        w.__failNext = failNext;
        const post = Worker.prototype.postMessage;
        Worker.prototype.postMessage = function (this: Worker, message: unknown, transfer?: unknown) {
          const m = message as { id?: string; type?: string; path?: string[] } | null;
          const name = m?.type === 'APPLY' ? (m.path ?? []).join('.') : '';
          const fail = failNext.get(name);
          if (!fail) return Reflect.apply(post, this, [message, transfer]);
          failNext.delete(name);
          const reply = { id: m?.id, type: 'HANDLER', name: 'throw', value: { isError: true, value: { ...fail, stack: '' } } };
          setTimeout(() => this.dispatchEvent(new MessageEvent('message', { data: reply })));
        } as typeof Worker.prototype.postMessage;
      }
      w.__failNext.set(method, error);
    },
    method,
    error,
  );
}

export interface MainThreadTask {
  /** Wall-clock duration: what a PerformanceObserver 'longtask' entry reports. */
  wallMs: number;
  /** Time the main thread actually ran: the page's own cost, whatever else competes for the CPU. */
  cpuMs: number;
  /** The biggest pieces of work inside the task. */
  top: string[];
}

/**
 * Runs `body` under Chrome tracing and returns every task of the page's renderer main thread that took over
 * `minMs` (wall or CPU). On a machine where SwiftShader (the GPU, in software) saturates every core, the main thread
 * waits for a core mid-task, so wall-clock durations measure the machine; the CPU time measures the page.
 */
export async function traceMainThread(
  page: Page,
  body: () => Promise<void>,
  minMs = 30,
): Promise<{ total: number; slow: MainThreadTask[] }> {
  await page.tracing.start({ categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8.execute'] });
  let failure: unknown;
  try {
    await body();
  } catch (e) {
    failure = e;
  }
  const buf = await page.tracing.stop();
  if (failure) throw failure;
  if (!buf) throw new Error('Chrome returned no trace');
  return mainThreadTasks(JSON.parse(new TextDecoder().decode(buf)), page.url(), minMs);
}

interface TraceEvent {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  tdur?: number;
  args?: { name?: string; data?: { frames?: { url?: string; processId?: number }[]; functionName?: string; url?: string } };
}

function mainThreadTasks(
  trace: { traceEvents: TraceEvent[] } | TraceEvent[],
  url: string,
  minMs: number,
): { total: number; slow: MainThreadTask[] } {
  const events = Array.isArray(trace) ? trace : trace.traceEvents;
  const origin = new URL(url).origin;
  const pid = events
    .filter((e) => e.name === 'TracingStartedInBrowser')
    .flatMap((e) => e.args?.data?.frames ?? [])
    .find((f) => f.url?.startsWith(origin))?.processId;
  const main = events.find((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain' && e.pid === pid);
  if (!main) throw new Error(`the trace has no renderer main thread for ${origin}`);
  const onMain = events.filter((e) => e.pid === main.pid && e.tid === main.tid && e.ph === 'X');
  const tasks = onMain.filter((e) => e.name === 'RunTask');
  if (!tasks.some((t) => (t.tdur ?? 0) > 0)) throw new Error('the trace records no thread (CPU) times for the main thread');
  const slow = tasks
    .filter((e) => (e.dur ?? 0) > minMs * 1000 || (e.tdur ?? 0) > minMs * 1000)
    .map((t) => {
      const end = t.ts + (t.dur ?? 0);
      const inside = onMain
        .filter((e) => e !== t && e.ts >= t.ts && e.ts + (e.dur ?? 0) <= end && (e.tdur ?? 0) > 1000)
        .sort((a, b) => (b.tdur ?? 0) - (a.tdur ?? 0))
        .slice(0, 4)
        .map((e) => `${e.name} ${((e.tdur ?? 0) / 1000).toFixed(1)} ms${e.args?.data?.functionName ? ` ${e.args.data.functionName}` : ''}`);
      return { wallMs: (t.dur ?? 0) / 1000, cpuMs: (t.tdur ?? 0) / 1000, top: inside };
    });
  return { total: tasks.length, slow };
}

/** Start collecting main-thread long tasks (>= 50 ms) in the page. */
export async function watchLongTasks(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __longTasks: { start: number; duration: number }[]; __longTaskObserver?: PerformanceObserver };
    w.__longTaskObserver?.disconnect();
    w.__longTasks = [];
    w.__longTaskObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.__longTasks.push({ start: e.startTime, duration: e.duration });
    });
    w.__longTaskObserver.observe({ type: 'longtask' });
  });
}

export async function longTasks(page: Page): Promise<{ start: number; duration: number }[]> {
  return page.evaluate(() => (window as unknown as { __longTasks: { start: number; duration: number }[] }).__longTasks ?? []);
}

/** The file the browser downloaded whose name matches, once it is complete. */
export async function waitForDownload(dir: string, pattern: RegExp, timeout = 60_000): Promise<string> {
  const end = Date.now() + timeout;
  while (Date.now() < end) {
    const name = readdirSync(dir).find((f) => pattern.test(f) && !f.endsWith('.crdownload'));
    if (name) {
      const path = join(dir, name);
      const size = statSync(path).size;
      await new Promise((r) => setTimeout(r, 200));
      if (statSync(path).size === size && size > 0) return path;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no download matching ${pattern} in ${dir} after ${timeout} ms (have: ${readdirSync(dir).join(', ') || 'nothing'})`);
}

/**
 * Two byte arrays are the same, or the test fails saying where they first differ. Not toEqual: vitest diffs a failed
 * toEqual element by element, which for arrays of megabytes blocks Node (and every timeout) for hours.
 */
export function expectSameBytes(got: Uint8Array | undefined, want: Uint8Array, what: string): void {
  if (!got) throw new Error(`${what}: missing`);
  if (Buffer.compare(got, want) === 0) return;
  let at = 0;
  while (at < got.length && at < want.length && got[at] === want[at]) at++;
  throw new Error(`${what}: ${got.length} bytes, expected ${want.length}; the first difference is at byte ${at}`);
}

// ---- datasets --------------------------------------------------------------------------------------------------

const ANIMALS: [string, string, string][] = [
  ['fox', 'forest', 'mice'],
  ['owl', 'forest', 'mice'],
  ['whale', 'ocean', 'krill'],
  ['shark', 'ocean', 'fish'],
  ['camel', 'desert', 'plants'],
  ['tiger', 'jungle', 'meat'],
  ['parrot', 'jungle', 'nuts'],
  ['seal', 'ocean', 'fish'],
  ['bear', 'forest', 'berries'],
  ['lizard', 'desert', 'insects'],
];

const sftRow = ([name, home, food]: [string, string, string]) => ({
  prompt: `Describe the ${name}.`,
  completion: `Animal: ${name}\nHome: ${home}\nFood: ${food}`,
});

/** A clean SFT file (prompt/completion), one long row that a short max length cuts. */
export function goodSft(): string {
  const rows: object[] = ANIMALS.map(sftRow);
  rows.push({ prompt: 'Describe every animal.', completion: ANIMALS.map((a) => sftRow(a).completion).join('\n\n') });
  return `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`;
}

/** SFT rows with problems on known lines: invalid JSON (2), a missing field (4), a non-TRL field (5), a bad type (7). */
export function badSft(): { text: string; badLines: number[] } {
  const lines = [
    JSON.stringify(sftRow(ANIMALS[0])),
    '{"prompt": "Describe the owl.", "completion": ',
    JSON.stringify(sftRow(ANIMALS[2])),
    JSON.stringify({ prompt: 'Describe the shark.' }),
    JSON.stringify({ conversations: [{ from: 'human', value: 'hi' }] }),
    JSON.stringify(sftRow(ANIMALS[4])),
    JSON.stringify({ prompt: 'Describe the tiger.', completion: 42 }),
    JSON.stringify(sftRow(ANIMALS[6])),
  ];
  return { text: `${lines.join('\n')}\n`, badLines: [2, 4, 5, 7] };
}

/** DPO pairs (prompt/chosen/rejected): the friendly closing line is preferred. */
export function goodDpo(): string {
  return `${ANIMALS.map((a) => {
    const card = sftRow(a).completion;
    return JSON.stringify({ prompt: `Describe the ${a[0]}.`, chosen: `${card}\nHave a nice day!`, rejected: `${card}\nGo away.` });
  }).join('\n')}\n`;
}

/**
 * Make IndexedDB in the page's workers refuse every write as a browser does when the site's storage quota is used up
 * (a QuotaExceededError DOMException), or accept writes again. Chromium's own quota override (CDP
 * Storage.overrideQuotaForOrigin) does not take effect in headless mode, so the refusal is staged here, in the
 * trainer's worker: everything from its storage code up is the real thing.
 */
export async function refuseStorageWrites(page: Page, refuse: boolean): Promise<void> {
  const workers = page.workers();
  if (workers.length === 0) throw new Error('the page has no worker to refuse storage in');
  for (const worker of workers)
    await worker.evaluate((refuse) => {
      const g = globalThis as unknown as { __writes?: Pick<IDBObjectStore, 'put' | 'add'> };
      const store = IDBObjectStore.prototype;
      if (refuse && !g.__writes) {
        g.__writes = { put: store.put, add: store.add };
        store.put = store.add = () => {
          throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
        };
      } else if (!refuse && g.__writes) {
        store.put = g.__writes.put;
        store.add = g.__writes.add;
        delete g.__writes;
      }
    }, refuse);
}

/** SFT rows in the conversational `messages` format: the user's question, then the assistant's card. */
export function messagesSft(): string {
  return `${ANIMALS.slice(0, 4)
    .map((a) => {
      const { prompt, completion } = sftRow(a);
      return JSON.stringify({
        messages: [
          { role: 'user', content: prompt },
          { role: 'assistant', content: completion },
        ],
      });
    })
    .join('\n')}\n`;
}

export function writeTemp(name: string, content: string | Uint8Array): string {
  const dir = mkdtempSync(join(tmpdir(), 'webtune-studio-'));
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

// ---- what the export holds -------------------------------------------------------------------------------------

/** Entries of a ZIP archive (stored or not: only names, sizes and, for stored entries, bytes), read independently. */
export function readZip(bytes: Uint8Array): Map<string, Uint8Array> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let end = -1;
  for (let at = bytes.length - 22; at >= Math.max(0, bytes.length - 22 - 0xffff); at--) {
    if (view.getUint32(at, true) === 0x06054b50) {
      end = at;
      break;
    }
  }
  if (end < 0) throw new Error('not a ZIP archive: no end of central directory');
  const count = view.getUint16(end + 10, true);
  let pos = view.getUint32(end + 16, true);
  const files = new Map<string, Uint8Array>();
  for (let i = 0; i < count; i++) {
    if (view.getUint32(pos, true) !== 0x02014b50) throw new Error(`central directory entry ${i} is corrupt`);
    const method = view.getUint16(pos + 10, true);
    const size = view.getUint32(pos + 24, true);
    const nameLen = view.getUint16(pos + 28, true);
    const extraLen = view.getUint16(pos + 30, true);
    const commentLen = view.getUint16(pos + 32, true);
    const local = view.getUint32(pos + 42, true);
    const name = new TextDecoder().decode(bytes.subarray(pos + 46, pos + 46 + nameLen));
    if (method !== 0) throw new Error(`${name} is compressed (method ${method}); expected a stored entry`);
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    files.set(name, bytes.subarray(start, start + size));
    pos += 46 + nameLen + extraLen + commentLen;
  }
  return files;
}

export interface SafetensorsHeader {
  tensors: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  metadata?: Record<string, string>;
  dataBytes: number;
}

/** The JSON header of a safetensors file (8-byte little-endian length, then JSON), checked against the file size. */
export function safetensorsHeader(bytes: Uint8Array): SafetensorsHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (8 + n > bytes.length) throw new Error(`header length ${n} exceeds the file (${bytes.length} bytes)`);
  const json = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  const { __metadata__: metadata, ...tensors } = json;
  const dataBytes = bytes.length - 8 - n;
  for (const [name, t] of Object.entries(tensors as SafetensorsHeader['tensors'])) {
    const [a, b] = t.data_offsets;
    if (!(a >= 0 && b <= dataBytes && a <= b)) throw new Error(`${name}: offsets ${a}..${b} outside ${dataBytes} data bytes`);
  }
  return { tensors: tensors as SafetensorsHeader['tensors'], metadata: metadata as Record<string, string> | undefined, dataBytes };
}
