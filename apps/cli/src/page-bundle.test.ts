// The CLI page's bundle cache: keyed by its sources, built once, safe when two commands build at once, never a
// partial folder, and a build that fails says what failed and what to do.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUNDLE_MANIFEST, buildInChild, cliPageBundle, outsideSources, pageSources, sourceKey } from './page-bundle.ts';

const temp = mkdtempSync(join(tmpdir(), 'webtune-page-bundle-test-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string) => join(temp, `${name}-${n++}`);

/** A fake repository with page sources, a test file, a test folder and node_modules. */
function fakeRepo(): string {
  const root = fresh('repo');
  const files: Record<string, string> = {
    'apps/cli/page/main.ts': 'page',
    'apps/cli/src/wire.ts': 'wire',
    'apps/cli/src/wire.test.ts': 'a test',
    'packages/trainer/src/worker.ts': 'worker',
    'packages/trainer/test/fixture.bin': 'fixture',
    'packages/trainer/node_modules/dep/index.js': 'dep',
    'packages/trainer/package.json': '{}',
    'pnpm-lock.yaml': 'lock',
    'README.md': 'not a source',
  };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

/** A build that writes a page and its manifest, counting its calls. */
function fakeBuild() {
  const calls: string[] = [];
  const build = async (outDir: string) => {
    calls.push(outDir);
    writeFileSync(join(outDir, 'index.js'), 'built');
    writeFileSync(join(outDir, 'worker.js'), 'built');
    writeFileSync(join(outDir, BUNDLE_MANIFEST), JSON.stringify({ script: 'index.js', worker: 'worker.js' }));
  };
  return { calls, build };
}

describe('pageSources and sourceKey', () => {
  it('lists the page sources, not tests, test folders, node_modules or files outside the source folders', () => {
    const root = fakeRepo();
    expect(pageSources(root).map((f) => f.slice(root.length + 1))).toEqual([
      'apps/cli/page/main.ts',
      'apps/cli/src/wire.ts',
      'packages/trainer/package.json',
      'packages/trainer/src/worker.ts',
      'pnpm-lock.yaml',
    ]);
  });

  it('changes with a source edit, a new source file or the lockfile, and not with a test edit', () => {
    const root = fakeRepo();
    const key = sourceKey(root);
    expect(key).toMatch(/^[0-9a-f]{24}$/);
    writeFileSync(join(root, 'apps/cli/src/wire.test.ts'), 'another test');
    writeFileSync(join(root, 'README.md'), 'edited');
    expect(sourceKey(root)).toBe(key);
    writeFileSync(join(root, 'packages/trainer/src/worker.ts'), 'worker, edited');
    const edited = sourceKey(root);
    expect(edited).not.toBe(key);
    writeFileSync(join(root, 'packages/trainer/src/new.ts'), '');
    expect(sourceKey(root)).not.toBe(edited);
    const added = sourceKey(root);
    writeFileSync(join(root, 'pnpm-lock.yaml'), 'lock 2');
    expect(sourceKey(root)).not.toBe(added);
  });

  it("names a build's modules outside the sources, leaving out node_modules and vite's virtual modules", () => {
    const sources = new Set(['/repo/packages/trainer/src/worker.ts', '/repo/packages/kernels/src/ops/a.wgsl']);
    const ids = [
      '/repo/packages/trainer/src/worker.ts?worker_file&type=module',
      '/repo/packages/kernels/src/ops/a.wgsl?raw',
      '/repo/node_modules/.pnpm/comlink@4/node_modules/comlink/dist/esm/comlink.mjs',
      '\0vite/modulepreload-polyfill.js',
      '/repo/scripts/elsewhere.ts',
    ];
    expect(outsideSources(ids, sources)).toEqual(['/repo/scripts/elsewhere.ts']);
  });
});

describe('cliPageBundle', () => {
  it('builds once per key, into the cache, and uses the cached bundle after', async () => {
    const cacheRoot = fresh('cache');
    const { calls, build } = fakeBuild();
    let told = 0;
    const first = await cliPageBundle({ cacheRoot, key: 'k1', build, onBuild: () => told++ });
    expect(first).toEqual({ dir: join(cacheRoot, 'k1'), script: 'index.js', worker: 'worker.js' });
    expect(await cliPageBundle({ cacheRoot, key: 'k1', build, onBuild: () => told++ })).toEqual(first);
    expect([calls.length, told]).toEqual([1, 1]);
    expect(readdirSync(cacheRoot)).toEqual(['k1']); // the temporary folder was renamed, none left
    await cliPageBundle({ cacheRoot, key: 'k2', build });
    expect(calls.length).toBe(2);
  });

  it('two commands building the same key at once: both get the one bundle in place, no temporary folder left', async () => {
    const cacheRoot = fresh('cache');
    const { calls, build } = fakeBuild();
    const [a, b] = await Promise.all([cliPageBundle({ cacheRoot, key: 'k', build }), cliPageBundle({ cacheRoot, key: 'k', build })]);
    expect(calls.length).toBe(2);
    expect(a).toEqual(b);
    expect(readdirSync(cacheRoot)).toEqual(['k']);
  });

  it('a failed build: an error naming the page, the cause and what to do, and nothing left in the cache', async () => {
    const cacheRoot = fresh('cache');
    const failing = async () => {
      throw new Error('packages/trainer/src/worker.ts (3:1): Unexpected token');
    };
    await expect(cliPageBundle({ cacheRoot, key: 'k', build: failing })).rejects.toThrow(
      `could not build the CLI's page (apps/cli/page/index.html) into ${cacheRoot}: packages/trainer/src/worker.ts (3:1): Unexpected token. ` +
        'Fix what the build reports (a source error shows with its file) and run the command again.',
    );
    await expect(cliPageBundle({ cacheRoot, key: 'k', build: async () => {} })).rejects.toThrow('the build wrote no bundle.json');
    expect(readdirSync(cacheRoot)).toEqual([]);
  });

  it('a folder of the key that is not a whole bundle (manifest cut short, a script missing) is built again', async () => {
    const cacheRoot = fresh('cache');
    const { calls, build } = fakeBuild();
    const first = await cliPageBundle({ cacheRoot, key: 'k', build });
    writeFileSync(join(first.dir, BUNDLE_MANIFEST), '{"script": "ind');
    expect(await cliPageBundle({ cacheRoot, key: 'k', build })).toEqual(first);
    rmSync(join(first.dir, 'worker.js'));
    expect(await cliPageBundle({ cacheRoot, key: 'k', build })).toEqual(first);
    expect(calls.length).toBe(3);
  });

  it('a cache folder that cannot be made: which folder, why, and what to do', async () => {
    const file = fresh('a-file');
    writeFileSync(file, '');
    const cacheRoot = join(file, 'cache');
    await expect(cliPageBundle({ cacheRoot, key: 'k', build: fakeBuild().build })).rejects.toThrow(
      `could not create the cache of the CLI's page, ${cacheRoot} (ENOTDIR): make that folder writable, or free disk space, and run the command again.`,
    );
  });

  it("removes other keys' bundles unused for a day and dead builds' folders, keeping recent ones", async () => {
    const cacheRoot = fresh('cache');
    const { build } = fakeBuild();
    for (const name of ['old', 'recent', '.building-old-x']) mkdirSync(join(cacheRoot, name), { recursive: true });
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    utimesSync(join(cacheRoot, 'old'), twoDaysAgo, twoDaysAgo);
    utimesSync(join(cacheRoot, '.building-old-x'), twoDaysAgo, twoDaysAgo);
    await cliPageBundle({ cacheRoot, key: 'new', build });
    expect(readdirSync(cacheRoot).sort()).toEqual(['new', 'recent']);
  });
});

describe('buildInChild', () => {
  it('a build script that fails: its exit code and the last lines it printed', async () => {
    const script = join(fresh('script'), 'fail.ts');
    mkdirSync(join(script, '..'));
    writeFileSync(script, "console.error('first line');\nconsole.error('[vite] Could not resolve ./missing.ts');\nprocess.exit(3);\n");
    await expect(buildInChild(fresh('out'), script)).rejects.toThrow(
      /ended with exit code 3: first line \| \[vite\] Could not resolve \.\/missing\.ts$/,
    );
  });
});
