// The studio as a user meets it: served by vite, opened in headless Chromium with WebGPU.
import { join } from 'node:path';
import { type GpuSession, openGpuSession, REPO_ROOT } from '@webtune/harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const STUDIO = join(REPO_ROOT, 'apps/studio');
let session: GpuSession;

beforeAll(async () => {
  session = await openGpuSession({ root: STUDIO, configFile: join(STUDIO, 'vite.config.ts'), path: '/' });
});
afterAll(() => session?.close());

describe('studio', () => {
  it('opens and finds WebGPU', async () => {
    const { page } = session;
    expect(await page.title()).toBe('webtune studio');
    await page.waitForFunction(() => document.querySelector('[role=status]')?.textContent?.startsWith('WebGPU ready'));
  });
});
