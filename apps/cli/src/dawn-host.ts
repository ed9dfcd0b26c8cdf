// The trainer in this Node process on Dawn (the `webgpu` package), no browser: for a GPU server that has none, and
// for memory (no page, renderer or browser process beside the model: docs/performance.md). The TrainerService is the
// worker's own, called directly. Its store is fake-indexeddb's IndexedDB, in this process's memory: adapters and
// checkpoints last as long as the command, so a killed run cannot resume (train refuses --resume here).
import 'fake-indexeddb/auto';
import './raw-imports.ts';
import { openDawn, pageError, startStaticServer } from '@webtune/harness';
import type { TrainerHandlers } from '@webtune/trainer';
import type { HostEvent, HostOptions, TrainerHost } from './engine.ts';
import { handleSignals } from './interrupt.ts';
import { localMounts } from './mount.ts';

/** What crosses between the CLI and the trainer is copied, as the worker's structured clone copies it in the browser. */
const copy = <T>(value: T): T => structuredClone(value);

/** The trainer's failure as the browser runtime reports it (a PageError), whatever it threw. */
function trainerError(err: unknown): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  return pageError({ name: e.name, message: e.message, stack: e.stack ?? '' });
}

/**
 * The trainer's console on stderr as the browser's page forwards it (harness/session.ts): warnings and errors (a GPU
 * error, a failed cache write) always, log, info and debug with --verbose only, so stdout stays the command's own.
 */
export function forwardConsole(verbose: boolean | undefined): () => void {
  const methods = ['log', 'info', 'debug', 'warn', 'error'] as const;
  const saved = methods.map((m) => console[m]);
  for (const m of methods) {
    const loud = m === 'warn' || m === 'error';
    console[m] =
      loud || verbose ? (...a: unknown[]) => process.stderr.write(`[trainer console.${m}] ${a.map(String).join(' ')}\n`) : () => {};
  }
  return () => {
    for (const [i, m] of methods.entries()) console[m] = saved[i];
  };
}

export async function openDawnHost(options: HostOptions): Promise<TrainerHost> {
  await openDawn(options.gpu); // navigator.gpu and the WebGPU globals, as the page has them
  // Imported once the WGSL hook is registered (raw-imports.ts): the service's kernels import their shaders as text.
  const { TrainerService } = await import('@webtune/trainer/service');
  const service = new TrainerService();
  const server = await startStaticServer(null, [localMounts(options.mounts)]);
  const restoreConsole = forwardConsole(options.verbose);
  handleSignals(undefined); // nothing to end but this process
  const dispatch =
    (channel: HostEvent['channel']) =>
    (...args: unknown[]) =>
      options.dispatch({ channel, args: copy(args) });
  const handlers: Required<TrainerHandlers> = {
    onDeviceLost: dispatch('onDeviceLost'),
    onGpuError: dispatch('onGpuError'),
    onProgress: dispatch('onProgress'),
  };
  return {
    serverUrl: server.url,
    async run(method, args, withCallback) {
      const call = copy(args);
      if (method === 'init') call[0] = handlers;
      if (withCallback) call.push(dispatch('callback'));
      const fn = service[method] as unknown as (...a: unknown[]) => Promise<unknown>;
      try {
        return copy(await fn.apply(service, call));
      } catch (err) {
        throw trainerError(err);
      }
    },
    async close() {
      restoreConsole();
      await server.close();
    },
  };
}
