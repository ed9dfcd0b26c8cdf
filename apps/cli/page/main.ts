// The CLI's page: starts the trainer worker and lets Node call any TrainerApi method as window.__webtuneCall, through
// the harness's PageCalls (a call may take hours, a training run, without holding a DevTools request open past its
// protocol timeout).
// Arguments and results cross puppeteer in the wire codec (src/wire.ts); a method's callback argument, and init's
// handlers, become window.__webtuneEvent(event) calls into Node.
import { callback, createTrainer, type TrainerApi, type TrainerHandlers } from '@webtune/trainer';
import { fromWire, toWire, type Wire, type WireEvent } from '../src/wire.ts';

declare global {
  interface Window {
    __webtuneCall(method: keyof TrainerApi, args: Wire, withCallback: boolean): Promise<Wire>;
    __webtuneEvent(event: WireEvent): Promise<void>;
    __webtuneReady: boolean;
  }
}

const trainer = createTrainer();

/** Resolves once Node has handled the event: a callback that awaits it (an export's chunks) gets Node's backpressure and errors. */
const send = (channel: WireEvent['channel'], ...args: unknown[]) => window.__webtuneEvent({ channel, args: toWire(args) });

/** init's handlers, each forwarded to Node (engine.ts hands them to the handlers Engine.init was given). */
const handlers: Required<TrainerHandlers> = {
  onDeviceLost: (message) => void send('onDeviceLost', message),
  onGpuError: (name, message) => void send('onGpuError', name, message),
  onProgress: (progress) => void send('onProgress', progress),
};

// A failure rejects with the trainer's error: PageCalls sends its name, message and stack back to Node.
window.__webtuneCall = async (method, args, withCallback) => {
  const fn = trainer.api[method] as unknown as (...a: unknown[]) => Promise<unknown>;
  const decoded = fromWire(args) as unknown[];
  if (method === 'init') decoded[0] = callback(handlers);
  if (withCallback) decoded.push(callback((...payload: unknown[]) => send('callback', ...payload)));
  return toWire(await fn(...decoded));
};
window.__webtuneReady = true;
