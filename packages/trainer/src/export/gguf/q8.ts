// Q8_0, llama.cpp's 8-bit block format: each run of 32 values along a row is one 34-byte block, an f16 scale d then
// 32 int8 quants, value ≈ d·q. The quantiser is ggml's reference, quantize_row_q8_0_ref (ggml-org/llama.cpp at
// 36491e4024b3016e6e2d21afc140add042b44bec, ggml/src/ggml-quants.c; gguf-py/gguf/quants.py's Q8_0 at
// 150f157acf0fd4bd5379bdb3aae3dde1aa1397a5 is its bit-exact numpy twin, which convert_hf_to_gguf.py runs):
//   amax = max |x|,  d = amax / 127,  id = d ? 1/d : 0,  q = roundf(x·id)  (half away from zero),  d stored as f16
// all in float32: each step below is one float32 operation, which Math.fround of the exact double result gives
// (a double-precision +,−,×,÷ of float32 operands rounded once to float32 is the float32 operation).
import { f16BitsToFloat } from '../../model/safetensors.ts';
import { toF16Bits } from '../dtype.ts';
import { ExportError } from '../files.ts';

export const Q8_0_BLOCK = 32;
export const Q8_0_BLOCK_BYTES = 34;

/** C's roundf: to nearest, halves away from zero (|x| + 0.5 is exact in double for a float32 |x| < 2^23). */
const roundf = (x: number) => Math.sign(x) * Math.floor(Math.abs(x) + 0.5);

/** The Q8_0 bytes of `data` (row-major, rows of `rowLen` values, rowLen a multiple of 32). */
export function quantizeQ8_0(data: Float32Array, rowLen: number): Uint8Array {
  if (rowLen % Q8_0_BLOCK !== 0 || data.length % rowLen !== 0)
    throw new ExportError(`Q8_0 needs rows of a multiple of ${Q8_0_BLOCK} values (rows here hold ${rowLen})`);
  const blocks = data.length / Q8_0_BLOCK;
  const out = new Uint8Array(blocks * Q8_0_BLOCK_BYTES);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const x = data.subarray(b * Q8_0_BLOCK, (b + 1) * Q8_0_BLOCK);
    let amax = 0;
    for (const v of x) amax = Math.max(amax, Math.abs(v));
    const d = Math.fround(amax / 127);
    const id = d === 0 ? 0 : Math.fround(1 / d);
    const at = b * Q8_0_BLOCK_BYTES;
    view.setUint16(at, toF16Bits(d), true);
    for (let j = 0; j < Q8_0_BLOCK; j++) view.setInt8(at + 2 + j, roundf(Math.fround(x[j] * id)));
  }
  return out;
}

/** The values a Q8_0 block row stands for, as ggml's dequantize_row_q8_0 computes them (q · f16 d, in float32). */
export function dequantizeQ8_0(bytes: Uint8Array): Float32Array {
  const blocks = bytes.length / Q8_0_BLOCK_BYTES;
  const out = new Float32Array(blocks * Q8_0_BLOCK);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < blocks; b++) {
    const d = f16BitsToFloat(view.getUint16(b * Q8_0_BLOCK_BYTES, true));
    for (let j = 0; j < Q8_0_BLOCK; j++) out[b * Q8_0_BLOCK + j] = view.getInt8(b * Q8_0_BLOCK_BYTES + 2 + j) * d;
  }
  return out;
}
