// The CLI's page: starts the trainer worker and lets Node call any TrainerService method through
// window.__webtuneCall. Uint8Arrays cross puppeteer as {__b64} (JSON cannot carry them), and a
// method's callback argument becomes window.__webtuneEvent(payload) calls into Node.
import { callback, createTrainer, type TrainerService } from '@webtune/trainer';

declare global {
  interface Window {
    __webtuneCall(method: keyof TrainerService, args: unknown[], withCallback: boolean): Promise<unknown>;
    __webtuneEvent(payload: unknown): Promise<void>;
    __webtuneReady: boolean;
  }
}

const trainer = createTrainer();

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function encode(value: unknown): unknown {
  if (value instanceof Uint8Array) return { __b64: toBase64(value) };
  if (value instanceof Float32Array || value instanceof Float64Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(encode);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v)]));
  return value;
}

function decode(value: unknown): unknown {
  if (value && typeof value === 'object' && '__b64' in value)
    return Uint8Array.from(atob((value as { __b64: string }).__b64), (c) => c.charCodeAt(0));
  if (Array.isArray(value)) return value.map(decode);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v)]));
  return value;
}

// A failure comes back as a value, {__error: {name, message, stack}}, not as a rejection: puppeteer
// would fold the worker's stack into the message, and the CLI prints one line per error.
window.__webtuneCall = async (method, args, withCallback) => {
  try {
    const fn = trainer.api[method] as unknown as (...a: unknown[]) => Promise<unknown>;
    const decoded = args.map(decode);
    if (withCallback) decoded.push(callback((payload: unknown) => void window.__webtuneEvent(encode(payload))));
    return encode(await fn(...decoded));
  } catch (err) {
    const e = err instanceof Error || err instanceof DOMException ? err : new Error(String(err));
    return { __error: { name: e.name, message: e.message, stack: e instanceof Error ? (e.stack ?? '') : '' } };
  }
};
window.__webtuneReady = true;
