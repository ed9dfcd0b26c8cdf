// The only way the studio and the CLI page talk to the trainer: a Comlink proxy of the worker's
// TrainerService. Callbacks (progress, events) cross the thread boundary wrapped in `callback`.
import * as Comlink from 'comlink';
import type { TrainerService } from './service.ts';

export interface TrainerClient {
  api: Comlink.Remote<TrainerService>;
  terminate(): void;
}

export function createTrainer(): TrainerClient {
  const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'webtune-trainer' });
  return { api: Comlink.wrap<TrainerService>(worker), terminate: () => worker.terminate() };
}

/** Wrap a callback so the worker can call it back. */
export const callback = Comlink.proxy;
