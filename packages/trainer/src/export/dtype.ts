// float32 -> the 16-bit float formats checkpoints store, both round-to-nearest-even as torch's `.to(dtype)` does
// (c10::BFloat16's round_to_nearest_even, and IEEE half conversion), with NaN kept NaN and infinities kept.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** bfloat16 bits of `x`: the high 16 bits of its float32, rounded to nearest even. */
export function toBf16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  if ((b & 0x7fffffff) > 0x7f800000) return ((b >>> 16) | 0x40) & 0xffff; // NaN stays a (quiet) NaN
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** IEEE binary16 bits of `x` (float32 first), rounded to nearest even; overflow gives infinity. */
export function toF16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf or NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: zero
    const m = mant | 0x800000; // implicit bit
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let h = m >>> shift;
    if (rest > half || (rest === half && h & 1)) h++;
    return sign | h; // a carry into the exponent field is the right answer
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // may carry into the exponent, up to infinity
  return sign | h;
}

export type FloatDType = 'F32' | 'F16' | 'BF16';
export const FLOAT_BYTES: Record<FloatDType, number> = { F32: 4, F16: 2, BF16: 2 };

/** Little-endian bytes of `data` in `dtype`. */
export function encodeFloats(data: Float32Array, dtype: FloatDType): Uint8Array {
  if (dtype === 'F32') {
    const out = new Uint8Array(data.length * 4);
    const view = new DataView(out.buffer);
    for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i], true);
    return out;
  }
  const out = new Uint8Array(data.length * 2);
  const view = new DataView(out.buffer);
  const conv = dtype === 'BF16' ? toBf16Bits : toF16Bits;
  for (let i = 0; i < data.length; i++) view.setUint16(2 * i, conv(data[i]), true);
  return out;
}
