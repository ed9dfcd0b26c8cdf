// Packs a uniform struct field by field, in declaration order. All our uniform structs hold
// 4-byte scalars only, so the layout is their order; the size is rounded up to 16 bytes.

/** The most bytes a Params struct holds (UniformWriter's capacity: it refuses more): a bound on any dispatch's uniform. */
export const UNIFORM_MAX_BYTES = 256;

export class UniformWriter {
  private readonly view: DataView;
  private offset = 0;

  constructor(private readonly capacity = UNIFORM_MAX_BYTES) {
    this.view = new DataView(new ArrayBuffer(capacity));
  }

  u32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`uniform u32 field out of range: ${v}`);
    this.view.setUint32(this.take(), v, true);
    return this;
  }

  i32(v: number): this {
    this.view.setInt32(this.take(), v, true);
    return this;
  }

  f32(v: number): this {
    this.view.setFloat32(this.take(), v, true);
    return this;
  }

  bytes(): ArrayBuffer {
    return this.view.buffer.slice(0, Math.max(16, Math.ceil(this.offset / 16) * 16)) as ArrayBuffer;
  }

  private take(): number {
    if (this.offset + 4 > this.capacity) throw new RangeError('uniform struct larger than the writer');
    const o = this.offset;
    this.offset += 4;
    return o;
  }
}
