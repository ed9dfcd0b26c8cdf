// The CLI's front door: help, unknown commands, bad options, no browser.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { REPO_ROOT } from '@webtune/harness';
import { describe, expect, it } from 'vitest';
import { cli } from './support/cli.ts';

describe('pnpm cli', () => {
  it('--help lists the commands', () => {
    const r = cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('usage: pnpm cli <command>');
    expect(r.stdout).toMatch(/^ {2}kernels /m);
  });

  it('no command: the usage on stderr, exit 2', () => {
    const r = cli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('usage: pnpm cli <command>');
  });

  it('paths are relative to the folder `pnpm cli` was typed in, not the repository root pnpm runs it from', () => {
    // A folder inside the checkout (pnpm finds the workspace from it), removed after; a path relative to it names
    // nothing from the root.
    const typedIn = mkdtempSync(join(REPO_ROOT, 'docs', '.cwd-test-'));
    const out = mkdtempSync(join(tmpdir(), 'webtune-cwd-'));
    try {
      const cands = { id: 'p1', prompt: 'Q', candidates: ['a full answer', 'another answer'] };
      writeFileSync(join(typedIn, 'cands.jsonl'), `${JSON.stringify(cands)}\n`);
      const r = spawnSync(
        'pnpm',
        ['-s', 'cli', 'pairs', '--candidates', 'cands.jsonl', '--degrade', '--out', relative(typedIn, join(out, 'pairs'))],
        {
          cwd: typedIn,
          encoding: 'utf8',
        },
      );
      expect(r.stderr).toContain(`wrote ${join(out, 'pairs', 'pairs.jsonl')}`);
      expect(r.status).toBe(0);
      expect(readFileSync(join(out, 'pairs', 'pairs.jsonl'), 'utf8')).toContain('"chosen"');
    } finally {
      rmSync(typedIn, { recursive: true, force: true });
      rmSync(out, { recursive: true, force: true });
    }
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
