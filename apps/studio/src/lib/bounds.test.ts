import { describe, expect, it } from 'vitest';
import { parseInRange, rangeWords } from './bounds.ts';

const maxLength = { type: 'int', min: 2, max: 65536 } as const;
const rate = { type: 'number', min: 0, max: 1 } as const;
const steps = { type: 'int', min: 1, max: Number.MAX_SAFE_INTEGER } as const;

describe('bounds', () => {
  it('says the range in words, with a unit where one is given', () => {
    expect(rangeWords(maxLength, 'tokens')).toBe('a whole number of tokens from 2 to 65536');
    expect(rangeWords(rate)).toBe('a number from 0 to 1');
    expect(rangeWords(steps)).toBe('a whole number of at least 1');
  });

  it('takes a number in range and refuses the rest', () => {
    expect(parseInRange(' 48 ', maxLength)).toBe(48);
    expect(parseInRange('2e-4', rate)).toBe(2e-4);
    for (const bad of ['', ' ', 'abc', '1.5', '1', '65537', 'Infinity', 'NaN']) expect(parseInRange(bad, maxLength)).toBeNull();
    for (const bad of ['-0.1', '1.01', '1e400']) expect(parseInRange(bad, rate)).toBeNull();
  });
});
