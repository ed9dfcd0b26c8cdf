// Node's handle on the trainer: the TrainerService in a page of headless Chromium (browser-host.ts, the default) or in
// this process on Dawn (dawn-host.ts), with local folders (the model, adapters) served read-only on loopback, and every
// TrainerService method callable the same way on either.
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type GpuChoice, PageError } from '@webtune/harness';
import type { TrainerApi, TrainerHandlers } from '@webtune/trainer';
import type { Runtime } from './args.ts';
import { openBrowserHost } from './browser-host.ts';
import type { WireEvent } from './wire.ts';

type Methods = {
  [K in keyof TrainerApi]: TrainerApi[K] extends (...a: infer A) => infer R ? { args: A; result: Awaited<R> } : never;
};

/** Chromium profile kept between runs, so Hub downloads (Cache Storage) and adapters (IndexedDB) persist. */
export function profileDir(): string {
  const dir = process.env.WEBTUNE_PROFILE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'webtune', 'chromium');
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
  return dir;
}

/** What the trainer sends besides a call's result: to the running call's callback, or to one of init's handlers. */
export interface HostEvent {
  channel: WireEvent['channel'];
  args: unknown[];
}

export interface HostOptions {
  gpu: GpuChoice;
  /** Name -> local folder, served at /__local/<name>/ (mount.ts). */
  mounts: Record<string, string>;
  verbose?: boolean;
  /** Where the host sends the trainer's events; what it returns is what the trainer awaits. */
  dispatch: (event: HostEvent) => unknown;
}

/** Where the trainer runs. */
export interface TrainerHost {
  /** The origin the mounted folders are served from, with a trailing slash. */
  readonly serverUrl: string;
  /** Runs `method(...args)`, with a last callback argument when `withCallback`; the trainer's errors reject as PageError. */
  run(method: keyof TrainerApi, args: unknown[], withCallback: boolean): Promise<unknown>;
  close(): Promise<void>;
}

export class Engine {
  private onEvent: ((...payload: unknown[]) => unknown) | undefined;
  private handlers: TrainerHandlers = {};
  private host!: TrainerHost;

  private constructor(
    private readonly mounts: Record<string, string>,
    /** Where the trainer runs: on Dawn its adapters and checkpoints last only as long as the command. */
    readonly runtime: Runtime,
  ) {}

  /** `mounts`: name -> local folder, served at `${localUrl(name)}`. */
  static async open(options: {
    runtime?: Runtime;
    gpu: GpuChoice;
    mounts?: Record<string, string>;
    verbose?: boolean;
    persistent?: boolean;
  }): Promise<Engine> {
    const runtime = options.runtime ?? 'browser';
    const engine = new Engine(options.mounts ?? {}, runtime);
    const hostOptions: HostOptions = {
      gpu: options.gpu,
      mounts: engine.mounts,
      verbose: options.verbose,
      dispatch: (e) => engine.dispatch(e),
    };
    // Dawn's host is loaded only when asked for: it installs an IndexedDB and an import hook in this process.
    engine.host =
      runtime === 'dawn'
        ? await (await import('./dawn-host.ts')).openDawnHost(hostOptions)
        : await openBrowserHost(hostOptions, options.persistent === false ? undefined : profileDir());
    return engine;
  }

  /** Base URL of a mounted folder, as the trainer sees it. */
  localUrl(name: string): string {
    if (!(name in this.mounts)) throw new Error(`no folder mounted as ${name}`);
    return new URL(`__local/${name}/`, this.host.serverUrl).href;
  }

  /**
   * What the trainer sent besides a result: to the running call's callback, or to init's handlers. What the callback
   * returns (a promise) is what the trainer's call awaits, so a callback's failure reaches the trainer.
   */
  private dispatch(event: HostEvent): unknown {
    const to = event.channel === 'callback' ? this.onEvent : this.handlers[event.channel];
    return (to as ((...a: unknown[]) => unknown) | undefined)?.(...event.args);
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
    return this.call('init'); // the host passes its own handlers, which forward here
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

  /** Runs the method on the host; the trainer's errors name the user's folders by path. */
  private async run(method: keyof TrainerApi, args: unknown[], withCallback: boolean): Promise<unknown> {
    try {
      return await this.host.run(method, args, withCallback);
    } catch (err) {
      if (!(err instanceof PageError)) throw err;
      throw new PageError(this.localPaths(err.message), err.pageName, err.pageStack);
    }
  }

  async close(): Promise<void> {
    await this.host.close();
  }
}
