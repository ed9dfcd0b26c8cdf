// `node --import tsx apps/cli/src/dawn-kit.ts <outDir>`: the CLI as one JavaScript file for a machine with a GPU, no
// browser and no package registry (a lent GPU server: scripts/real-shapes/gpu-kit.sh packs the rest). esbuild bundles
// apps/cli/src/main.ts for Node with every dependency inlined (the kernels' WGSL too: `?raw` imports become the
// file's text, as vite makes them for the page), except the `webgpu` package, whose dawn.node is native and travels
// beside the bundle. Puppeteer and vite are replaced by a stub that refuses with what to do, and the commands run on
// Dawn unless told otherwise: the kit has no browser and no page to build.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '@webtune/harness';
import { build, type Plugin } from 'esbuild';

/** The bundle's file name in outDir. */
export const KIT_SCRIPT = 'webtune.mjs';

const REFUSAL =
  'this is the Dawn-only build of the CLI (scripts/real-shapes/gpu-kit.sh): it has no browser, so its commands run with --runtime dawn (their default here)';

/** `import text from './x.wgsl?raw'`: the file's text. */
const rawText: Plugin = {
  name: 'webtune-raw',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, async (args) => {
      const found = await b.resolve(args.path.slice(0, -'?raw'.length), { kind: args.kind, resolveDir: args.resolveDir });
      return found.errors.length > 0 ? { errors: found.errors } : { path: found.path, namespace: 'raw' };
    });
    b.onLoad({ filter: /.*/, namespace: 'raw' }, async (args) => ({ contents: await readFile(args.path, 'utf8'), loader: 'text' }));
  },
};

/**
 * What the browser runtime takes from browser-host.ts (`openBrowserHost`: builds the page, launches Chromium),
 * puppeteer (harness/chromium.ts: `puppeteer.launch`, for `gpu` and the bench pages) and vite (harness/server.ts:
 * `createServer`, `preview`): each a function that throws REFUSAL. A name the stub lacks fails the build.
 */
const dawnOnly: Plugin = {
  name: 'webtune-dawn-only',
  setup(b) {
    b.onResolve({ filter: /^(puppeteer|vite|\.\/browser-host\.ts)$/ }, () => ({ path: 'stub', namespace: 'dawn-only' }));
    b.onLoad({ filter: /.*/, namespace: 'dawn-only' }, () => ({
      contents: `const refuse = async () => { throw new Error(${JSON.stringify(REFUSAL)}); };
export default { launch: refuse };
export const createServer = refuse, preview = refuse, openBrowserHost = refuse;`,
      loader: 'js',
    }));
  },
};

/** Writes the bundle, outDir/KIT_SCRIPT. */
export async function buildDawnKit(outDir: string): Promise<void> {
  await build({
    entryPoints: [join(REPO_ROOT, 'apps/cli/src/main.ts')],
    outfile: join(outDir, KIT_SCRIPT),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['webgpu'],
    plugins: [rawText, dawnOnly],
    logLevel: 'warning',
    // CommonJS dependencies bundled into an ES module still call require() for Node's own modules; and the commands
    // run on Dawn unless told otherwise ($WEBTUNE_RUNTIME, args.ts runtimeOption).
    banner: {
      js: [
        "import { createRequire as webtuneRequire } from 'node:module';",
        'const require = webtuneRequire(import.meta.url);',
        "process.env.WEBTUNE_RUNTIME ??= 'dawn';",
      ].join('\n'),
    },
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const outDir = process.argv[2];
  if (!outDir) throw new Error('usage: dawn-kit.ts <output folder>');
  await buildDawnKit(outDir);
}
