// The Dawn-only build of the CLI (dawn-kit.ts), run from a folder with no node_modules, as on a GPU machine with no
// registry: it starts, defaults to Dawn, and refuses what needs a browser with a line that says so.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDawnKit, KIT_SCRIPT } from './dawn-kit.ts';

const kit = mkdtempSync(join(tmpdir(), 'webtune-dawn-kit-test-'));
afterAll(() => rmSync(kit, { recursive: true, force: true }));

/** Runs the bundle with `args` from the kit's folder: no package of the repository can be found from there. */
const webtune = (...args: string[]) => spawnSync(process.execPath, [join(kit, KIT_SCRIPT), ...args], { cwd: kit, encoding: 'utf8' });

describe('the Dawn-only build of the CLI', () => {
  beforeAll(() => buildDawnKit(kit));

  it('starts with every module inlined: the commands and their help', () => {
    const help = webtune('bench', '--help');
    expect(help.stderr).toBe('');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^pnpm bench \[--quick\]/);
    expect(help.stdout).toContain('--batch-size N');
    // The suites `bench --runtime dawn` imports on demand (bench-hosts.ts), and the trainer's service (dawn-host.ts).
    const bundle = readFileSync(join(kit, KIT_SCRIPT), 'utf8');
    for (const fn of ['runTrainingBench', 'runKernelBench', 'benchRealShape']) expect(bundle).toContain(`async function ${fn}(`);
    expect(bundle).toContain('TrainerService = class {');
  });

  it('runs on Dawn by default: without the webgpu package beside it, that is what it asks for', () => {
    const run = webtune('bench', '--only', 'bandwidth', '--quick');
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('webtune bench: the Node package "webgpu" (Dawn) cannot be loaded');
  });

  it('refuses the browser runtime and the commands that need a browser, naming the build and what to do', () => {
    const refusal = 'this is the Dawn-only build of the CLI (scripts/real-shapes/gpu-kit.sh): it has no browser';
    for (const args of [['gpu'], ['bench', '--runtime', 'browser', '--only', 'matmul', '--quick']]) {
      const run = webtune(...args);
      expect(run.status, args.join(' ')).toBe(1);
      expect(run.stderr, args.join(' ')).toContain(refusal);
    }
  });
});
