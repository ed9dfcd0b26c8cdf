// The only way the studio and the CLI page talk to the trainer: a Comlink proxy of the worker's TrainerApi
// (api.ts). Callbacks (the init handlers, progress, events) cross the thread boundary wrapped in `callback`.
import * as Comlink from 'comlink';
import type { TrainerApi } from './api.ts';

export interface TrainerClient {
  api: Comlink.Remote<TrainerApi>;
  terminate(): void;
}

export function createTrainer(): TrainerClient {
  const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'webtune-trainer' });
  return { api: Comlink.wrap<TrainerApi>(worker), terminate: () => worker.terminate() };
}

/** Wrap a callback (or an object of them, such as init's handlers) so the worker can call it back. */
export const callback = Comlink.proxy;
