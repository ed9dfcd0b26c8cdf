// The CLI's page as a production build, made once per change of its sources and kept in a cache keyed by their hash,
// so a command serves plain files (harness/static-server.ts) instead of running vite's dev server, and its esbuild
// child, in its own process for the whole run. The build runs in a child process (page-build.ts): its memory goes back
// when it ends. Two commands starting at once each build into their own temporary folder and rename it into place;
// the second rename finds the first's and uses it.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from '@webtune/harness';

/**
 * What the CLI's page is built from, relative to the repository. Every file under these (tests and test folders
 * aside) goes into the bundle's key, and the build refuses a module from anywhere else but node_modules (pinned by the
 * lockfile and the patches): no source edit can leave a stale bundle in use.
 */
export const PAGE_SOURCES = ['apps/cli/page', 'apps/cli/src', 'packages', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', 'patches'];
const SKIPPED_FOLDERS = new Set(['node_modules', 'dist', 'test', '.vite']);
const isTest = (name: string) => name.endsWith('.test.ts');

/** The page's entry, relative to the repository; the bundle serves its HTML at the same path. */
export const CLI_PAGE = 'apps/cli/page/index.html';
export const BUNDLE_MANIFEST = 'bundle.json';
/** Where bundles are kept by default, relative to the repository: one folder per key. */
export const PAGE_CACHE = 'node_modules/.cache/webtune-cli-page';
const BUILD_SCRIPT = fileURLToPath(new URL('./page-build.ts', import.meta.url));

/** A built page: its folder, and the paths in it of the page's script and the trainer's worker script. */
export interface PageBundle {
  dir: string;
  script: string;
  worker: string;
}

/** Every source file of the page, absolute, sorted. */
export function pageSources(root = REPO_ROOT): string[] {
  const files: string[] = [];
  const walk = (path: string) => {
    if (!existsSync(path)) return;
    if (!statSync(path).isDirectory()) {
      if (!isTest(path)) files.push(path);
      return;
    }
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      if (entry.isDirectory() && SKIPPED_FOLDERS.has(entry.name)) continue;
      walk(join(path, entry.name));
    }
  };
  for (const source of PAGE_SOURCES) walk(join(root, source));
  return [...new Set(files)].sort();
}

/** The hash of the page's sources, paths and contents: the bundle's folder name in the cache. */
export function sourceKey(root = REPO_ROOT): string {
  const hash = createHash('sha256');
  for (const file of pageSources(root))
    hash
      .update(`${relative(root, file)}\0`)
      .update(readFileSync(file))
      .update('\0');
  return hash.digest('hex').slice(0, 24);
}

/** The modules of a build that lie outside the page's sources and node_modules (vite's virtual modules aside). */
export function outsideSources(moduleIds: Iterable<string>, sources: Set<string>): string[] {
  const outside = new Set<string>();
  for (const id of moduleIds) {
    const path = id.split('?')[0];
    if (id.startsWith('\0') || !path.startsWith(sep) || path.includes(`${sep}node_modules${sep}`)) continue;
    if (!sources.has(path)) outside.add(path);
  }
  return [...outside].sort();
}

/** Reads a finished bundle's manifest; undefined when the folder holds none, or one that does not name both scripts. */
function readBundle(dir: string): PageBundle | undefined {
  try {
    const { script, worker } = JSON.parse(readFileSync(join(dir, BUNDLE_MANIFEST), 'utf8')) as Partial<PageBundle>;
    if (typeof script !== 'string' || typeof worker !== 'string') return undefined;
    if (!existsSync(join(dir, script)) || !existsSync(join(dir, worker))) return undefined;
    return { dir, script, worker };
  } catch {
    return undefined; // no manifest, or not JSON
  }
}

/** Folders of other keys not used for a day, and temporary folders of builds that died an hour ago or more. */
function prune(cacheRoot: string, keep: string): void {
  const now = Date.now();
  for (const entry of readdirSync(cacheRoot)) {
    if (entry === keep) continue;
    const path = join(cacheRoot, entry);
    const age = now - statSync(path).mtimeMs;
    if (age > (entry.startsWith('.') ? 3_600_000 : 86_400_000)) rmSync(path, { recursive: true, force: true });
  }
}

export interface BundleOptions {
  /** Where bundles are kept, one folder per key: PAGE_CACHE by default. */
  cacheRoot?: string;
  /** The sources' key; sourceKey() by default. */
  key?: string;
  /** Writes the bundle (with its manifest) into an empty folder; buildInChild by default. */
  build?: (outDir: string) => Promise<void>;
  /** Told once, before a build starts. */
  onBuild?: () => void;
}

/** The bundle of the page's current sources: the cached one, or one built now. */
export async function cliPageBundle(options: BundleOptions = {}): Promise<PageBundle> {
  const cacheRoot = options.cacheRoot ?? join(REPO_ROOT, PAGE_CACHE);
  const key = options.key ?? sourceKey();
  const dir = join(cacheRoot, key);
  const cached = readBundle(dir);
  if (cached) return cached;
  let building: string;
  try {
    mkdirSync(cacheRoot, { recursive: true });
    // A folder of this key that is not a whole bundle (a disk that filled, a hand edit) is moved aside (renamed, so a
    // whole one that another command renames into place meanwhile is never removed) and built again.
    if (existsSync(dir) && !readBundle(dir)) {
      const aside = join(cacheRoot, `.broken-${key}-${process.pid}`);
      try {
        renameSync(dir, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // another command moved it first
      }
      rmSync(aside, { recursive: true, force: true });
    }
    building = mkdtempSync(join(cacheRoot, `.building-${key}-`));
  } catch (err) {
    throw new Error(
      `could not create the cache of the CLI's page, ${cacheRoot} (${(err as NodeJS.ErrnoException).code ?? String(err)}): make that folder writable, or free disk space, and run the command again.`,
    );
  }
  options.onBuild?.();
  try {
    await (options.build ?? buildInChild)(building);
    if (!readBundle(building)) throw new Error(`the build wrote no ${BUNDLE_MANIFEST}`);
  } catch (err) {
    rmSync(building, { recursive: true, force: true });
    throw new Error(
      `could not build the CLI's page (${CLI_PAGE}) into ${cacheRoot}: ${err instanceof Error ? err.message : String(err)}. ` +
        'Fix what the build reports (a source error shows with its file) and run the command again.',
    );
  }
  try {
    renameSync(building, dir);
  } catch (err) {
    // Another command built the same sources meanwhile: use its bundle.
    rmSync(building, { recursive: true, force: true });
    if (!readBundle(dir)) throw err;
  }
  prune(cacheRoot, key);
  return readBundle(dir) as PageBundle;
}

/** Runs page-build.ts (or `script`) in a child Node process to write the bundle into `outDir`. */
export function buildInChild(outDir: string, script = BUILD_SCRIPT): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, outDir], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (s: Buffer) => {
      output = (output + s.toString('utf8')).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (err) => reject(new Error(`could not start node for the build (${err.message})`)));
    child.once('close', (code, signal) => {
      if (code === 0) return resolve();
      const lines = output.trim().split('\n').slice(-12).join(' | ');
      reject(
        new Error(`the build (${relative(REPO_ROOT, script)}) ended with ${signal ?? `exit code ${code}`}${lines ? `: ${lines}` : ''}`),
      );
    });
  });
}
