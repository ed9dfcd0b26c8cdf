// The CLI's front door: help, unknown commands, bad options, no browser.
import { describe, expect, it } from 'vitest';
import { cli } from './support/cli.ts';

describe('pnpm cli', () => {
  it('--help lists the commands', () => {
    const r = cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('usage: pnpm cli <command>');
    expect(r.stdout).toMatch(/^ {2}kernels /m);
  });

  it('an unknown command exits 2 and names it', () => {
    const r = cli(['trian']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "trian"');
  });

  it('a bad option exits 2 with a one-line reason', () => {
    const r = cli(['gpu', '--gpu', 'cuda']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('must be auto, hardware or swiftshader');
  });

  it('a missing browser is a clear one-line error', () => {
    const r = cli(['gpu'], { env: { ...process.env, WEBTUNE_CHROMIUM: '/nonexistent/chromium' } });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      'webtune gpu: WEBTUNE_CHROMIUM=/nonexistent/chromium does not exist. Point it at a Chromium or Chrome executable, or unset it.',
    );
  });

  it('gpu reports the adapter headless Chromium finds', () => {
    const r = cli(['gpu', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const adapter = JSON.parse(r.stdout);
    expect(adapter.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(Array.isArray(adapter.features)).toBe(true);
  });
});
