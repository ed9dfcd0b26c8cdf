// The CLI's page: starts the trainer worker and lets Node call any TrainerApi method: window.__webtuneStart(id, ...)
// starts the call and returns at once, and its result comes back as window.__webtuneResult(id, result), so a call
// may take hours (a training run) without holding a DevTools request open past its protocol timeout.
// Arguments and results cross puppeteer in the wire codec (src/wire.ts); a method's callback argument, and init's
// handlers, become window.__webtuneEvent(event) calls into Node.
import { callback, createTrainer, type TrainerApi, type TrainerHandlers } from '@webtune/trainer';
import { fromWire, toWire, type Wire, type WireEvent } from '../src/wire.ts';

declare global {
  interface Window {
    __webtuneStart(id: number, method: keyof TrainerApi, args: Wire, withCallback: boolean): void;
    __webtuneResult(id: number, result: Wire): Promise<void>;
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

// A failure comes back as a value, {result: Error}, not as a rejection: puppeteer would fold the worker's stack into
// the message, and the CLI prints one line per error.
async function call(method: keyof TrainerApi, args: Wire, withCallback: boolean): Promise<Wire> {
  try {
    const fn = trainer.api[method] as unknown as (...a: unknown[]) => Promise<unknown>;
    const decoded = fromWire(args) as unknown[];
    if (method === 'init') decoded[0] = callback(handlers);
    if (withCallback) decoded.push(callback((...payload: unknown[]) => send('callback', ...payload)));
    return toWire({ result: await fn(...decoded) });
  } catch (err) {
    return toWire({ error: err instanceof Error || err instanceof DOMException ? err : new Error(String(err)) });
  }
}

window.__webtuneStart = (id, method, args, withCallback) => {
  void call(method, args, withCallback).then((result) => window.__webtuneResult(id, result));
};
window.__webtuneReady = true;
