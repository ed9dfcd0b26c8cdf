// Argument checks every op runs before any GPU work. Each throws naming the op and the tensors,
// so a bad call fails where it is made, not later as a WebGPU validation error at submit.
import { ShapeError } from './errors.ts';
import { type DType, shapeStr, type Tensor } from './tensor.ts';

/** Tensors with the names an op's docs give them. */
export type Named = [name: string, tensor: Tensor][];

const list = (...tensors: Named) => tensors.map(([name, t]) => `${name} ${shapeStr(t)}`).join(', ');

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

export function requireF32(op: string, tensors: Named): void {
  for (const [name, t] of tensors) requireDtype(op, name, t, 'f32');
}

function requireDtype(op: string, name: string, t: Tensor, dtype: DType): void {
  if (t.dtype !== dtype) throw new ShapeError(op, `${name} must be ${dtype}, got ${t.dtype}`);
}

export function requireSameShape(op: string, tensors: Named): void {
  const [first] = tensors;
  if (!tensors.every(([, t]) => sameShape(t.shape, first[1].shape))) {
    throw new ShapeError(op, `${tensors.map(([name]) => name).join(', ')} must have the same shape; got ${list(...tensors)}`);
  }
}

/** A tensor's expected shape and dtype (f32 unless given). */
export type Expected = readonly [name: string, tensor: Tensor, shape: readonly number[], dtype?: DType];

/** Each tensor of its shape, then its dtype. `context` names what implies the shapes ("x h[4, 6]"). */
export function requireShapes(op: string, expected: readonly Expected[], context?: string): void {
  for (const [name, t, shape, dtype = 'f32'] of expected) {
    if (!sameShape(t.shape, shape)) {
      throw new ShapeError(op, `${name} must be ${shapeStr(shape)}${context ? ` for ${context}` : ''}; got ${name} ${shapeStr(t)}`);
    }
    requireDtype(op, name, t, dtype);
  }
}

/** Do two tensors share bytes? Views of one buffer at different offsets do not. */
export function overlaps(a: Tensor, b: Tensor): boolean {
  // Views start on BINDING_ALIGN (a multiple of 16), so the 16-byte rounding of each binding
  // never reaches the next view: element ranges overlap exactly when bound ranges do.
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/**
 * WebGPU's rule for the storage bindings of one dispatch (Chromium rejects a break of it when
 * the command encoder finishes; checks.gpu.test.ts proves the rule on the running browser):
 * - a buffer bound writable must not also be bound read-only, whatever the ranges: a buffer's
 *   usage is tracked whole, so `written` must share no buffer with `read`;
 * - two writable bindings of one buffer are fine unless their ranges overlap, so `written`
 *   tensors may be disjoint views of one buffer.
 * Ops whose dispatches bind different subsets (split passes) check the union: one rule for
 * every shape, rather than one that passes only when the work needs a single pass.
 */
export function requireDisjoint(op: string, written: Named, read: Named): void {
  for (const [i, [wName, w]] of written.entries()) {
    for (const [name, t] of written.slice(i + 1)) {
      if (overlaps(w, t)) throw new ShapeError(op, `${wName} must not overlap ${name}; got ${list([wName, w], [name, t])}`);
    }
    for (const [name, t] of read) {
      if (w.buffer === t.buffer)
        throw new ShapeError(op, `${wName} must not share a buffer with ${name}; got ${list([wName, w], [name, t])}`);
    }
  }
}

/** An elementwise op's checks: every tensor f32 and of one shape, `written` disjoint from the rest. */
export function requireElementwise(op: string, written: Named, read: Named): void {
  requireF32(op, [...written, ...read]);
  requireSameShape(op, [...written, ...read]);
  requireDisjoint(op, written, read);
}

export function requireFinite(op: string, name: string, value: number): void {
  if (!Number.isFinite(value)) throw new RangeError(`${op}: ${name} must be a finite number, got ${value}`);
}
