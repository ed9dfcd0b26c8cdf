// PageCalls in a real headless Chromium (a blank page, no WebGPU), with puppeteer's protocol timeout cut to 2 s (as in
// test/cli-faults.test.ts: the browser's own start must fit in it under load): a call longer than that comes back, and
// each way a call can end without a result names its reason. About 5 s.
import type { Browser, Page } from 'puppeteer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChromium, launchChromium } from './chromium.ts';
import { PageCalls, PageError } from './page-calls.ts';

declare global {
  interface Window {
    /** Defined by this test's page: resolves with `value` after `ms`. */
    __testLater(ms: number, value: unknown): Promise<unknown>;
    /** Defined by this test's page: throws what `kind` names. */
    __testFails(kind: 'range' | 'named' | 'string' | 'circular'): Promise<unknown>;
  }
}

const PROTOCOL_TIMEOUT_MS = 2000;

// The page's functions, as a script (not a function of this file: the page gets them as source).
const PAGE_SCRIPT = `
window.__testStarted = 0;
window.__testLater = (ms, value) => {
  window.__testStarted += 1;
  return new Promise((resolve) => setTimeout(() => resolve(value), ms));
};
window.__testFails = async (kind) => {
  if (kind === 'range') throw new RangeError('index 7 is past the end');
  if (kind === 'named') throw Object.assign(new Error('lr must be positive'), { name: 'ConfigError' });
  if (kind === 'string') throw 'a bare string';
  const loop = {};
  loop.self = loop;
  return loop;
};
`;

/** A browser whose DevTools requests time out after PROTOCOL_TIMEOUT_MS. */
async function launchImpatient(): Promise<Browser> {
  const before = process.env.WEBTUNE_TEST_PROTOCOL_TIMEOUT_MS;
  process.env.WEBTUNE_TEST_PROTOCOL_TIMEOUT_MS = String(PROTOCOL_TIMEOUT_MS);
  try {
    return await launchChromium({ gpu: 'swiftshader' });
  } finally {
    if (before === undefined) delete process.env.WEBTUNE_TEST_PROTOCOL_TIMEOUT_MS;
    else process.env.WEBTUNE_TEST_PROTOCOL_TIMEOUT_MS = before;
  }
}

/** Once the page runs the call (and so Node has had the reply to the request that started it). */
const started = (page: Page) => page.waitForFunction('window.__testStarted > 0', { polling: 50 });

async function open(browser: Browser): Promise<{ page: Page; calls: PageCalls }> {
  const page = await browser.newPage();
  const calls = await PageCalls.attach(page);
  await page.evaluate(PAGE_SCRIPT);
  return { page, calls };
}

let chromium = '';
try {
  chromium = findChromium();
} catch {
  // no browser: the tests below are skipped, with the reason in their names
}
const noBrowser = chromium ? '' : ' (skipped: no Chromium found)';

describe.skipIf(!chromium)(`PageCalls${noBrowser}`, { timeout: 20_000 }, () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchImpatient();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('a call longer than the DevTools protocol timeout comes back with its result (page.evaluate times out)', async () => {
    const { page, calls } = await open(browser);
    const slow = PROTOCOL_TIMEOUT_MS * 1.5;
    const value = { rows: [{ case: 'NN 64', ms: 1.5 }], skipped: null };
    const [direct, called] = await Promise.allSettled([
      page.evaluate((ms) => window.__testLater(ms, 1), slow),
      calls.call('__testLater', slow, value),
    ]);
    expect(direct.status === 'rejected' && String(direct.reason)).toMatch('Runtime.callFunctionOn timed out');
    expect(called).toEqual({ status: 'fulfilled', value });
    await page.close();
  });

  it("an error thrown in the page comes back as a PageError: its message (a builtin's class named), class and stack", async () => {
    const { page, calls } = await open(browser);
    const fails = async (kind: Parameters<Window['__testFails']>[0]) => {
      const err = await calls.call('__testFails', kind).catch((e: unknown) => e);
      if (!(err instanceof PageError)) throw new Error(`expected a PageError, got ${String(err)}`);
      return err;
    };
    const range = await fails('range');
    expect([range.message, range.pageName]).toEqual(['RangeError: index 7 is past the end', 'RangeError']);
    expect(range.pageStack).toMatch(/^RangeError: index 7 is past the end\n\s+at /);
    expect(range.stack).toMatch(/^PageError \(RangeError in the page\): RangeError: index 7/);
    const named = await fails('named');
    expect([named.message, named.pageName]).toEqual(['lr must be positive', 'ConfigError']);
    expect([(await fails('string')).message, (await fails('string')).pageName]).toEqual(['a bare string', 'Error']);
    // A result JSON cannot carry ends the call with that error, rather than never coming back.
    expect((await fails('circular')).message).toMatch(/^TypeError: Converting circular structure to JSON/);
    // A function the page does not define (a page not yet loaded, a misspelt name).
    await expect(calls.call('__testMissing' as '__testLater', 0, 0)).rejects.toThrow('the page defines no function __testMissing to call');
    await page.close();
  });

  it('a call still running when the page closes fails with that reason', async () => {
    const { page, calls } = await open(browser);
    const pending = calls.call('__testLater', 60_000, 'never');
    await started(page);
    await page.close();
    await expect(pending).rejects.toThrow("the browser's page closed before the call finished");
  });

  it('a call still running when the page crashes fails with that reason', async () => {
    const { page, calls } = await open(browser);
    const pending = calls.call('__testLater', 60_000, 'never');
    await started(page);
    void page.goto('chrome://crash').catch(() => {}); // the navigation fails too: the call's error is the one asserted
    await expect(pending).rejects.toThrow(/^the browser's page crashed \(.+\) before the call finished$/);
    await page.close();
  });

  it('a call still running when the browser exits fails with that reason', async () => {
    const own = await launchChromium({ gpu: 'swiftshader' });
    const { page, calls } = await open(own);
    const pending = calls.call('__testLater', 60_000, 'never');
    await started(page);
    own.process()?.kill('SIGKILL');
    await expect(pending).rejects.toThrow('the browser exited before the call finished');
  });
});
