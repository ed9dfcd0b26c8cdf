// Argument checks shared by the flat-buffer ops (elementwise, dropout, sumsq, adamw). Each throws
// before any GPU work, naming the op and the tensors.
import { ShapeError } from '../../runtime/errors.ts';
import { shapeStr, type Tensor } from '../../runtime/tensor.ts';

type Named = [name: string, tensor: Tensor][];

const list = (tensors: Named) => tensors.map(([name, t]) => `${name} ${shapeStr(t)}`).join(', ');

export function requireF32(op: string, tensors: Named): void {
  for (const [name, t] of tensors) {
    if (t.dtype !== 'f32') throw new ShapeError(op, `${name} must be f32, got ${t.dtype}`);
  }
}

export function requireSameShape(op: string, tensors: Named): void {
  const [first] = tensors;
  const same = tensors.every(([, t]) => t.shape.length === first[1].shape.length && t.shape.every((d, i) => d === first[1].shape[i]));
  if (!same) throw new ShapeError(op, `${tensors.map(([name]) => name).join(', ')} must have the same shape; got ${list(tensors)}`);
}

/** Do two tensors share bytes? Views of one buffer at different offsets do not. */
export function overlaps(a: Tensor, b: Tensor): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/** WebGPU rejects a written binding that overlaps any other binding of the same dispatch. */
export function requireDisjoint(op: string, written: Named, read: Named): void {
  const all = [...written, ...read];
  for (const [i, [wName, w]] of written.entries()) {
    for (const [j, [name, t]] of all.entries()) {
      if (j === i || !overlaps(w, t)) continue;
      const pair: Named = [
        [wName, w],
        [name, t],
      ];
      throw new ShapeError(op, `${wName} must not overlap ${name}; got ${list(pair)}`);
    }
  }
}

export function requireFinite(op: string, name: string, value: number): void {
  if (!Number.isFinite(value)) throw new RangeError(`${op}: ${name} must be a finite number, got ${value}`);
}
