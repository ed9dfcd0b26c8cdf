// The static build (`pnpm --filter @webtune/studio build`) works from any path on any static host: served under a
// deep sub-path by a plain file server, it starts its worker, finds the embedded demo model and loads it, and asks
// for nothing outside its own folder.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium } from '@webtune/harness';
import type { Browser } from 'puppeteer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byTestId, loadDemo, STUDIO, waitForText } from './support/studio.ts';
import { buildStudio, type StaticHost, serveStatic } from './support/studio-build.ts';

const PREFIX = '/some/deep/path/studio/';
let host: StaticHost;
let browser: Browser;
let dist: string;

beforeAll(async () => {
  dist = buildStudio();
  host = await serveStatic(dist, PREFIX);
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await host?.close();
});

describe('studio build', () => {
  it('references its assets and worker relatively', () => {
    expect(existsSync(join(dist, 'index.html'))).toBe(true);
    if (existsSync(join(STUDIO, 'public/demo/model/config.json'))) expect(existsSync(join(dist, 'demo/model/config.json'))).toBe(true);
  });

  it('runs from a sub-path: the worker starts and the demo model loads', async () => {
    const page = await browser.newPage();
    try {
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(host.url, { waitUntil: 'load' });
      expect(await page.title()).toBe('webtune studio');
      await waitForText(page, byTestId('engine-status'), /GPU ready/);
      if (existsSync(join(STUDIO, 'public/demo/model/config.json'))) {
        await loadDemo(page);
      }
      expect(errors).toEqual([]);
      expect(host.requests.filter((p) => !p.startsWith(PREFIX))).toEqual([]);
      expect(host.requests.some((p) => /\/assets\/worker-[\w-]+\.js$/.test(p))).toBe(true);
    } finally {
      await page.close();
    }
  });
});
