// A tensor is a typed, shaped view of (part of) a GPUBuffer. Row-major, no strides: ops that
// need strided access (attention heads) take explicit strides instead.

/**
 * Element types. bf16 and f16 are packed two to a 32-bit word, element 2i in the low half (the
 * byte order of a little-endian safetensors file): frozen weights kept in their checkpoint's
 * dtype, widened to f32 in the kernels that read them (matmul's B, the embedding gather).
 */
export type DType = 'f32' | 'u32' | 'i32' | 'bf16' | 'f16';

/** The packed half-precision types. */
export type HalfDType = 'bf16' | 'f16';

export function bytesPerElement(dtype: DType): number {
  return dtype === 'bf16' || dtype === 'f16' ? 2 : 4;
}

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

  /** Bytes of the elements, in whole 32-bit words (an odd count of halves fills its last word). */
  get byteLength(): number {
    return Math.ceil((this.size * bytesPerElement(this.dtype)) / 4) * 4;
  }

  /** A view of `shape` starting `elementOffset` elements in. */
  view(shape: readonly number[], elementOffset = 0, label = this.label): Tensor {
    const byteOffset = this.byteOffset + elementOffset * bytesPerElement(this.dtype);
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
