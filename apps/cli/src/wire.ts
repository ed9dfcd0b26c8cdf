// The one codec of the CLI's Node/page boundary. Puppeteer carries JSON both ways (page.evaluate's arguments and
// results, exposed functions' arguments), which loses what the worker's structured clone keeps: typed arrays,
// undefined (inside objects and arrays), NaN and the infinities, -0, and Errors with their names. Node (engine.ts)
// and the page (page/main.ts) both encode with `toWire` and decode with `fromWire`, so what a trainer call takes
// and returns arrives as it left. No Node or DOM-only API here: the page bundles this file too.

/** A value as it crosses: JSON, with the kinds JSON lacks boxed as {"__wire": kind, ...}. */
export type Wire = null | boolean | number | string | Wire[] | { [key: string]: Wire };

const TYPED_ARRAYS = {
  Uint8Array,
  Int8Array,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
  Float32Array,
  Float64Array,
} as const;
type TypedArrayName = keyof typeof TYPED_ARRAYS;

/** A value the boundary cannot carry (a function, a Map, a class instance): a bug in the caller, named by its path. */
export class WireError extends Error {
  override name = 'WireError';
}

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const s = atob(text);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}

function typedArrayName(value: ArrayBufferView): TypedArrayName | undefined {
  const name = value.constructor.name;
  return name in TYPED_ARRAYS ? (name as TypedArrayName) : undefined;
}

export function toWire(value: unknown, path = 'value'): Wire {
  if (value === undefined) return { __wire: 'undefined' };
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') {
    if (Object.is(value, -0)) return { __wire: 'number', value: '-0' }; // String(-0) is "0"
    return Number.isFinite(value) ? value : { __wire: 'number', value: String(value) };
  }
  if (Array.isArray(value)) return value.map((v, i) => toWire(v, `${path}[${i}]`));
  if (ArrayBuffer.isView(value)) {
    const type = typedArrayName(value);
    if (!type) throw new WireError(`${path}: a ${value.constructor.name} cannot cross to the page`);
    const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    return { __wire: type, base64: toBase64(bytes) };
  }
  if (value instanceof Error || (typeof DOMException !== 'undefined' && value instanceof DOMException))
    return { __wire: 'Error', name: value.name, message: value.message, stack: value.stack ?? '' };
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: { [key: string]: Wire } = {};
    for (const [k, v] of Object.entries(value)) out[k] = toWire(v, `${path}.${k}`);
    return out;
  }
  const kind = typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
  throw new WireError(`${path}: a ${kind} cannot cross to the page (plain data, typed arrays and Errors only)`);
}

export function fromWire(wire: Wire): unknown {
  if (wire === null || typeof wire !== 'object') return wire;
  if (Array.isArray(wire)) return wire.map(fromWire);
  const kind = wire.__wire;
  if (kind === undefined) return Object.fromEntries(Object.entries(wire).map(([k, v]) => [k, fromWire(v)]));
  if (kind === 'undefined') return undefined;
  if (kind === 'number') return Number(wire.value);
  if (kind === 'Error') {
    const err = new Error(String(wire.message));
    err.name = String(wire.name);
    err.stack = String(wire.stack);
    return err;
  }
  if (typeof kind === 'string' && kind in TYPED_ARRAYS) {
    const bytes = fromBase64(String(wire.base64));
    const Type = TYPED_ARRAYS[kind as TypedArrayName];
    return new Type(bytes.buffer, 0, bytes.byteLength / Type.BYTES_PER_ELEMENT);
  }
  throw new WireError(`unknown boxed kind ${JSON.stringify(kind)} from across the page boundary`);
}

/** What the page sends Node besides a call's result: a call's callback argument, or one of init's handlers. */
export interface WireEvent {
  channel: 'callback' | 'onDeviceLost' | 'onGpuError' | 'onProgress';
  args: Wire;
}
