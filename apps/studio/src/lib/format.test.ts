import { describe, expect, it } from 'vitest';
import { formatBytes, formatCount, formatDuration, formatValue, listWords, slug } from './format.ts';

describe('format', () => {
  it('bytes, counts and durations read naturally', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(3 * 1024 ** 2)).toBe('3.0 MiB');
    expect(formatCount(134_515_008)).toBe('134.5 M');
    expect(formatCount(950)).toBe('950');
    expect(formatDuration(75)).toBe('1 min 15 s');
    expect(formatDuration(Number.NaN)).toBe('—');
  });

  it('metric values keep four significant digits, small ones in scientific notation', () => {
    expect(formatValue(Math.LN2)).toBe('0.6931');
    expect(formatValue(2e-4)).toBe('2e-4');
    expect(formatValue(1.5e-4)).toBe('1.5e-4');
    expect(formatValue(1.234e-5)).toBe('1.23e-5');
    expect(formatValue(undefined)).toBe('—');
  });

  it('slugs are file-name safe', () => {
    expect(slug('SFT 2026-01-02 10:00 / mine')).toBe('SFT-2026-01-02-10-00-mine');
    expect(slug('///')).toBe('adapter');
  });

  it('lists things in a sentence', () => {
    expect(listWords(['the model x'])).toBe('the model x');
    expect(listWords(['a', 'b'])).toBe('a and b');
    expect(listWords(['a', 'b', 'c'])).toBe('a, b and c');
  });
});
