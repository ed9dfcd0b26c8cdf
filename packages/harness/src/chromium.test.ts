import { describe, expect, it } from 'vitest';
import { BrowserNotFoundError, chromiumArgs, findChromium, launchChromium, parseGpuChoice } from './chromium.ts';

describe('findChromium', () => {
  it('prefers WEBTUNE_CHROMIUM, and names it when it does not exist', () => {
    expect(() => findChromium({ WEBTUNE_CHROMIUM: '/nonexistent/chrome' })).toThrow(BrowserNotFoundError);
    expect(() => findChromium({ WEBTUNE_CHROMIUM: '/nonexistent/chrome' })).toThrow(
      'WEBTUNE_CHROMIUM=/nonexistent/chrome does not exist. Point it at a Chromium or Chrome executable, or unset it.',
    );
    expect(findChromium({ WEBTUNE_CHROMIUM: process.execPath })).toBe(process.execPath);
  });

  it('falls back to PUPPETEER_EXECUTABLE_PATH', () => {
    expect(findChromium({ PUPPETEER_EXECUTABLE_PATH: process.execPath })).toBe(process.execPath);
  });
});

describe('chromiumArgs', () => {
  it('always enables WebGPU and keeps the browser off the network', () => {
    for (const gpu of ['auto', 'hardware', 'swiftshader'] as const) {
      expect(chromiumArgs(gpu)).toEqual(expect.arrayContaining(['--enable-unsafe-webgpu', '--disable-background-networking']));
    }
  });

  it('forces the software adapter only when asked', () => {
    expect(chromiumArgs('swiftshader')).toContain('--use-webgpu-adapter=swiftshader');
    expect(chromiumArgs('auto')).not.toContain('--use-webgpu-adapter=swiftshader');
    expect(chromiumArgs('hardware')).not.toContain('--enable-unsafe-swiftshader');
  });
});

describe('parseGpuChoice', () => {
  it('defaults to auto and rejects unknown values by name', () => {
    expect(parseGpuChoice(undefined)).toBe('auto');
    expect(() => parseGpuChoice('cuda')).toThrow('WEBTUNE_GPU/--gpu must be auto, hardware or swiftshader (got "cuda").');
  });
});

describe('launchChromium', () => {
  // Followed requests cost the renderer their bodies (kept for DevTools' Network.getResponseBody, up to about 200 MB).
  it('follows the network only when asked', { timeout: 60_000 }, async () => {
    for (const watchNetwork of [undefined, true]) {
      const browser = await launchChromium({ gpu: 'swiftshader', watchNetwork });
      try {
        const page = (await browser.pages())[0];
        const requests: string[] = [];
        page.on('request', (r) => void requests.push(r.url()));
        await page.goto('data:text/html,<p>hello</p>', { waitUntil: 'load' });
        expect(requests.length > 0, `requests seen: ${requests.join(', ')}`).toBe(watchNetwork === true);
      } finally {
        await browser.close();
      }
    }
  });
});
