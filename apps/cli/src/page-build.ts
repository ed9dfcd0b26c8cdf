// `node --import tsx page-build.ts <outDir>`: vite's production build of the CLI's page into outDir, run by
// page-bundle.ts in a child process. Writes bundle.json (the page's script and the trainer's worker script, for the
// test faults) last: a folder without it is not a bundle. Refuses a module outside PAGE_SOURCES, which the bundle's
// key would not cover.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@webtune/harness';
import { webtuneTrainer } from '@webtune/trainer/vite';
import { build, type Plugin } from 'vite';
import { BUNDLE_MANIFEST, CLI_PAGE, outsideSources, PAGE_SOURCES, pageSources } from './page-bundle.ts';

const outDir = process.argv[2];
if (!outDir) throw new Error('usage: page-build.ts <output folder>');

const modules = new Set<string>();
const entries: { worker: boolean; fileName: string }[] = [];
/** Records every module the build read and the entry chunk it wrote; `worker`: in the worker's own bundle. */
const record = (worker: boolean): Plugin => ({
  name: 'webtune-page-record',
  buildEnd() {
    for (const id of this.getModuleIds()) modules.add(id);
  },
  generateBundle(_, bundle) {
    for (const chunk of Object.values(bundle))
      if (chunk.type === 'chunk' && chunk.isEntry) entries.push({ worker, fileName: chunk.fileName });
  },
});

await build({
  root: REPO_ROOT,
  configFile: false,
  logLevel: 'warn',
  clearScreen: false,
  plugins: [webtuneTrainer(), record(false)],
  worker: { format: 'es', plugins: () => [record(true)] },
  build: {
    outDir,
    emptyOutDir: false,
    // Chromium runs the code as written; unminified, the page's errors keep their names and readable stacks.
    target: 'esnext',
    minify: false,
    modulePreload: { polyfill: false },
    rollupOptions: { input: join(REPO_ROOT, CLI_PAGE) },
  },
});

const outside = outsideSources(modules, new Set(pageSources()));
if (outside.length > 0) {
  throw new Error(
    `the page imports ${outside.join(', ')}, outside the sources its cache key covers (${PAGE_SOURCES.join(', ')}): add the folder to PAGE_SOURCES in apps/cli/src/page-bundle.ts`,
  );
}
const one = (worker: boolean) => {
  const found = entries.filter((e) => e.worker === worker);
  if (found.length !== 1) throw new Error(`expected one ${worker ? 'worker' : 'page'} script in the build, found ${found.length}`);
  return found[0].fileName;
};
writeFileSync(join(outDir, BUNDLE_MANIFEST), `${JSON.stringify({ script: one(false), worker: one(true) }, null, 2)}\n`);
