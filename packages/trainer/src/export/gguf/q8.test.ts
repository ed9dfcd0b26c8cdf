// Q8_0 blocks worked out by hand from ggml's quantize_row_q8_0_ref (q8.ts): the scale, the float32 steps and the
// rounding (halves away from zero, as C's roundf; round-half-even would give other quants in blocks 1 and 3).
import { describe, expect, it } from 'vitest';
import { ExportError } from '../files.ts';
import { matrixType } from './model.ts';
import { dequantizeQ8_0, Q8_0_BLOCK_BYTES, quantizeQ8_0 } from './q8.ts';

function block(values: number[]): Float32Array {
  const x = new Float32Array(32);
  x.set(values);
  return x;
}

const scaleBits = (bytes: Uint8Array, b: number) => bytes[b * Q8_0_BLOCK_BYTES] | (bytes[b * Q8_0_BLOCK_BYTES + 1] << 8);
const quants = (bytes: Uint8Array, b: number) => Array.from(new Int8Array(bytes.buffer, bytes.byteOffset + b * Q8_0_BLOCK_BYTES + 2, 32));

describe('Q8_0 quantiser (ggml quantize_row_q8_0_ref)', () => {
  it('block 1: amax 127 gives d = 1 (f16 0x3C00) and q = x rounded half away from zero', () => {
    const out = quantizeQ8_0(block([127, -63.5, 0.5, -0.5, 2.5, -2.5, 1.25, 0]), 32);
    expect(out.length).toBe(34);
    expect(scaleBits(out, 0)).toBe(0x3c00);
    expect(quants(out, 0)).toEqual([127, -64, 1, -1, 3, -3, 1, ...new Array(25).fill(0)]);
  });

  it('block 2: all zeros gives d = 0 and zero quants (id is 0, not 1/0)', () => {
    const out = quantizeQ8_0(new Float32Array(32), 32);
    expect(scaleBits(out, 0)).toBe(0);
    expect(quants(out, 0)).toEqual(new Array(32).fill(0));
  });

  it('block 3: amax 12.7 gives d = 0.1f (stored as f16 0x2E66), id = 10 exactly, and float32 products', () => {
    // fround(12.7) / 127 rounds to the float32 0.1 (1.00000001e-1); 1 / that rounds to 10. 0.25·10 = 2.5 -> 3 (half
    // away from zero). fround(-0.35)·10 = -3.49999994, which rounds to the float32 -3.5 -> -4: a float64 product
    // would give -3. 0.04·10 -> 0.4 -> 0; -0.05·10 -> -0.5 -> -1 (fround(-0.05)·10 rounds to the float32 -0.5).
    const out = quantizeQ8_0(block([12.7, 0.25, -0.35, 0.04, -0.05, -12.7]), 32);
    expect(scaleBits(out, 0)).toBe(0x2e66);
    expect(quants(out, 0)).toEqual([127, 3, -4, 0, -1, -127, ...new Array(26).fill(0)]);
  });

  it('blocks run along rows: a 2×64 matrix is 4 blocks in row order, each with its own scale', () => {
    const m = new Float32Array(128);
    for (let b = 0; b < 4; b++) m[b * 32] = 127 * 2 ** b; // block b's scale is 2^b
    const out = quantizeQ8_0(m, 64);
    expect(out.length).toBe(4 * 34);
    expect([0, 1, 2, 3].map((b) => scaleBits(out, b))).toEqual([0x3c00, 0x4000, 0x4400, 0x4800]);
    expect(dequantizeQ8_0(out)).toEqual(m);
  });

  it('refuses rows that are not whole blocks, and the GGUF writer keeps such matrices in F16 as the converter does', () => {
    expect(() => quantizeQ8_0(new Float32Array(88), 88)).toThrow(ExportError);
    expect(() => quantizeQ8_0(new Float32Array(88), 88)).toThrow(/multiple of 32 values \(rows here hold 88\)/);
    expect(matrixType('Q8_0', 88)).toBe('F16');
    expect(matrixType('Q8_0', 64)).toBe('Q8_0');
    expect(matrixType('BF16', 88)).toBe('BF16');
  });
});
