import { describe, expect, it } from 'vitest';
import { tensorToFloat32 } from '../model/safetensors.ts';
import { toBf16Bits, toF16Bits } from './dtype.ts';

/** Every 16-bit pattern decoded by the safetensors reader (an independent decoder). */
function decodeAll(dtype: 'F16' | 'BF16'): Float32Array {
  const bytes = new Uint8Array(new Uint16Array(Array.from({ length: 65536 }, (_, i) => i)).buffer);
  return tensorToFloat32('t', bytes, 0, { name: 'all', dtype, shape: [65536], begin: 0, end: bytes.length });
}

describe('float32 -> f16 / bf16', () => {
  for (const [dtype, bits] of [['F16', toF16Bits] as const, ['BF16', toBf16Bits] as const]) {
    it(`${dtype}: every non-NaN 16-bit value round-trips, and midpoints round to even`, () => {
      const all = decodeAll(dtype);
      const wrong: number[] = [];
      for (let h = 0; h < 65536; h++) if (!Number.isNaN(all[h]) && bits(all[h]) !== h) wrong.push(h);
      expect(wrong).toEqual([]);
      // Between consecutive positive finite values a and b (bit patterns h, h+1): just below the midpoint goes to a,
      // just above to b, the midpoint itself to the even pattern.
      const maxFinite = dtype === 'F16' ? 0x7bff : 0x7f7f;
      for (let h = 1; h < maxFinite; h += 97) {
        const a = all[h];
        const b = all[h + 1];
        const mid = (a + b) / 2; // exact in float64, and in float32 for these formats
        expect(bits(mid)).toBe(h % 2 === 0 ? h : h + 1);
        expect(bits(mid - (b - a) / 1024)).toBe(h);
        expect(bits(mid + (b - a) / 1024)).toBe(h + 1);
      }
      expect(Number.isNaN(all[bits(Number.NaN)])).toBe(true);
      expect(bits(Number.POSITIVE_INFINITY)).toBe(dtype === 'F16' ? 0x7c00 : 0x7f80);
      expect(bits(-0)).toBe(0x8000);
    });
  }
  it('f16 overflows to infinity past the largest half (65504), rounding first', () => {
    expect(toF16Bits(65519)).toBe(0x7bff);
    expect(toF16Bits(65520)).toBe(0x7c00);
    expect(toF16Bits(1e6)).toBe(0x7c00);
    expect(toF16Bits(2 ** -25)).toBe(0); // half the smallest subnormal: ties to even (zero)
    expect(toF16Bits(2 ** -25 * 1.5)).toBe(1);
  });
});
