import { describe, expect, it } from 'vitest';
import { numberOption, parseCommandArgs, UsageError } from './args.ts';

describe('parseCommandArgs', () => {
  it('parses known options', () => {
    const { values } = parseCommandArgs('train', ['--beta', '0.1'], { beta: { type: 'string' } });
    expect(values.beta).toBe('0.1');
  });

  it('turns an unknown option into a usage error that points at --help', () => {
    expect(() => parseCommandArgs('train', ['--betta', '0.1'], { beta: { type: 'string' } })).toThrow(UsageError);
    expect(() => parseCommandArgs('train', ['--betta', '0.1'], { beta: { type: 'string' } })).toThrow(
      /--betta.*see `pnpm cli train --help`/,
    );
  });
});

describe('numberOption', () => {
  it('returns the fallback when absent and the number when valid', () => {
    expect(numberOption('beta', undefined, 0.1)).toBe(0.1);
    expect(numberOption('beta', '0.5', 0.1, 0)).toBe(0.5);
  });

  it('names the option and the bad value', () => {
    expect(() => numberOption('learning-rate', 'fast', 1e-4)).toThrow('--learning-rate must be a number (got "fast")');
    expect(() => numberOption('beta', '', 0.1)).toThrow('--beta must be a number (got "")');
    expect(() => numberOption('lora-r', '0', 8, 1, 256)).toThrow('--lora-r must be between 1 and 256 (got 0)');
  });
});
