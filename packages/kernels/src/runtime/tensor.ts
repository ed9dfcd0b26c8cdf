// A tensor is a typed, shaped view of (part of) a GPUBuffer. Row-major, no strides: ops that
// need strided access (attention heads) take explicit strides instead.

export type DType = 'f32' | 'u32' | 'i32';

/** WebGPU's required alignment for a storage binding's offset. Views are placed on it. */
export const BINDING_ALIGN = 256;

export class Tensor {
  constructor(
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: DType = 'f32',
    readonly label = '',
    /** Byte offset of element 0 in `buffer`; a multiple of BINDING_ALIGN. */
    readonly byteOffset = 0,
  ) {}

  get size(): number {
    return numel(this.shape);
  }

  get byteLength(): number {
    return this.size * 4;
  }

  /** A view of `shape` starting `elementOffset` elements in. */
  view(shape: readonly number[], elementOffset = 0, label = this.label): Tensor {
    const byteOffset = this.byteOffset + elementOffset * 4;
    if (byteOffset % BINDING_ALIGN !== 0) {
      throw new RangeError(`view of ${this.label}: byte offset ${byteOffset} is not a multiple of ${BINDING_ALIGN}`);
    }
    if (elementOffset + numel(shape) > this.size) {
      throw new RangeError(`view of ${this.label}: [${shape}] at ${elementOffset} runs past its ${this.size} elements`);
    }
    return new Tensor(this.buffer, shape, this.dtype, label, byteOffset);
  }

  toString(): string {
    return `${this.label || 'tensor'}[${this.shape.join(', ')}]`;
  }
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function shapeStr(t: Tensor | readonly number[]): string {
  return t instanceof Tensor ? t.toString() : `[${t.join(', ')}]`;
}
