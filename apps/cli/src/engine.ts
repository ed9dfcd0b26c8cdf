// Node's handle on the trainer: headless Chromium hosting the worker page, with local folders
// (the model, adapters) served read-only on loopback, and every TrainerService method callable.
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type GpuChoice, type GpuSession, openGpuSession, PageCalls, PageError } from '@webtune/harness';
import type { TrainerApi, TrainerHandlers } from '@webtune/trainer';
import { handleSignals } from './interrupt.ts';
import { localMounts } from './mount.ts';
import { CLI_PAGE, cliPageBundle, PAGE_CACHE } from './page-bundle.ts';
import { gpuFault, pageFault } from './test-faults.ts';
import { fromWire, toWire, type WireEvent } from './wire.ts';

type Methods = {
  [K in keyof TrainerApi]: TrainerApi[K] extends (...a: infer A) => infer R ? { args: A; result: Awaited<R> } : never;
};

/** Chromium profile kept between runs, so Hub downloads (Cache Storage) and adapters (IndexedDB) persist. */
export function profileDir(): string {
  const dir = process.env.WEBTUNE_PROFILE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'webtune', 'chromium');
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Whether the CLI page's script ran: it marks itself ready as its last statement, and a module script runs before the
 * page's load event, so the short wait is only a margin.
 */
const pageStarted = (session: GpuSession) =>
  session.page
    .waitForFunction(() => window.__webtuneReady === true, { timeout: 2_000 })
    .then(() => true)
    .catch(() => false);

/**
 * The page loaded, with its script run: the built page's files are local (page-bundle.ts), so a script that did not
 * run is retried once (a request that failed on a busy machine) before the command gives up with what to look at.
 */
async function startPage(session: GpuSession): Promise<void> {
  if (await pageStarted(session)) return;
  await session.page.reload({ waitUntil: 'load' });
  if (await pageStarted(session)) return;
  throw new Error(
    "the trainer's page did not start: its script failed to load twice (see the page's errors above, or run with --verbose). " +
      `If the page's build in ${PAGE_CACHE} looks damaged, delete that folder and run the command again.`,
  );
}

export class Engine {
  private onEvent: ((...payload: unknown[]) => unknown) | undefined;
  private handlers: TrainerHandlers = {};

  private constructor(
    private readonly session: GpuSession,
    private readonly mounts: Record<string, string>,
    private readonly calls: PageCalls,
  ) {}

  /** `mounts`: name -> local folder, served at `${localUrl(name)}`. */
  static async open(options: {
    gpu: GpuChoice;
    mounts?: Record<string, string>;
    verbose?: boolean;
    persistent?: boolean;
  }): Promise<Engine> {
    const mounts = options.mounts ?? {};
    // The page built once per change of its sources, served as files: no vite in this process (page-bundle.ts). The
    // note is for a person waiting at a terminal; scripts and tests reading stderr get the command's lines only.
    const bundle = await cliPageBundle({
      onBuild: process.stderr.isTTY
        ? () => process.stderr.write("webtune: building the CLI's page (once after its sources change)\n")
        : undefined,
    });
    const open = (userDataDir?: string) =>
      openGpuSession({
        path: CLI_PAGE,
        gpu: options.gpu,
        staticDir: bundle.dir,
        handlers: [localMounts(mounts), ...gpuFault(bundle), ...pageFault(bundle)],
        userDataDir,
        verbose: options.verbose,
        ownSignals: true, // interrupt.ts: Ctrl-C stops a run cleanly
        stableOrigin: userDataDir !== undefined, // the profile's adapters and checkpoints, whatever the port
      });
    let session: GpuSession;
    try {
      session = await open(options.persistent === false ? undefined : profileDir());
    } catch (err) {
      // Another webtune run holds the profile: carry on with a throwaway one.
      if (!/already running|lock|SingletonLock/i.test(String(err))) throw err;
      process.stderr.write('webtune: the shared browser profile is in use; using a temporary one (nothing cached this run)\n');
      session = await open(undefined);
    }
    handleSignals(() => session.kill());
    try {
      const engine = new Engine(session, mounts, await PageCalls.attach(session.page));
      await session.page.exposeFunction('__webtuneEvent', (event: WireEvent) => engine.dispatch(event));
      await startPage(session);
      return engine;
    } catch (err) {
      handleSignals(undefined);
      await session.close();
      throw err;
    }
  }

  get adapter() {
    return this.session.adapter;
  }

  /** Base URL of a mounted folder, as the page sees it. */
  localUrl(name: string): string {
    if (!(name in this.mounts)) throw new Error(`no folder mounted as ${name}`);
    return new URL(`__local/${name}/`, this.session.server.url).href;
  }

  /**
   * What the page sent besides a result: to the running call's callback, or to init's handlers. What the callback
   * returns (a promise) is what the page's call awaits, so a callback's failure reaches the trainer.
   */
  private dispatch(event: WireEvent): unknown {
    const args = fromWire(event.args) as unknown[];
    const to = event.channel === 'callback' ? this.onEvent : this.handlers[event.channel];
    return (to as ((...a: unknown[]) => unknown) | undefined)?.(...args);
  }

  /** The user gave folders, not our loopback URLs: name their files by path in messages. */
  localPaths(text: string): string {
    let out = text;
    for (const [name, dir] of Object.entries(this.mounts)) out = out.split(this.localUrl(name)).join(`${dir.replace(/\/+$/, '')}/`);
    return out;
  }

  /** Opens the trainer (its GPU and store); `handlers` get what the worker reports outside any call's result. */
  async init(handlers: TrainerHandlers = {}): Promise<Methods['init']['result']> {
    this.handlers = handlers;
    return this.call('init'); // the page passes its own handlers, which forward here
  }

  async call<K extends keyof Methods>(method: K, ...args: Methods[K]['args']): Promise<Methods[K]['result']> {
    return (await this.run(method, args, false)) as Methods[K]['result'];
  }

  /** Call a method whose last argument is a callback; `onEvent` receives what the worker sends. */
  async stream<K extends keyof Methods>(method: K, args: unknown[], onEvent: (payload: never) => unknown): Promise<Methods[K]['result']> {
    this.onEvent = onEvent as (...payload: unknown[]) => unknown;
    try {
      return (await this.run(method, args, true)) as Methods[K]['result'];
    } finally {
      this.onEvent = undefined;
    }
  }

  /**
   * Runs the method in the page through PageCalls, which waits for its result to be sent back rather than inside one
   * DevTools request: a request is bounded by puppeteer's protocol timeout, and a training run on a real model is not.
   * The page's errors name the user's folders by path.
   */
  private async run(method: keyof TrainerApi, args: unknown[], withCallback: boolean): Promise<unknown> {
    try {
      return fromWire(await this.calls.call('__webtuneCall', method, toWire(args), withCallback));
    } catch (err) {
      if (!(err instanceof PageError)) throw err;
      throw new PageError(this.localPaths(err.message), err.pageName, err.pageStack);
    }
  }

  async close(): Promise<void> {
    handleSignals(undefined);
    await this.session.close();
  }
}
