import { afterEach, describe, expect, it, vi } from 'vitest';
import { closestFlag, integerOption, numberOption, parseCommandArgs, runtimeOption, UsageError } from './args.ts';

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
    // No upper bound: said as one, not as 9007199254740991 or Infinity.
    expect(() => integerOption('batch-size', '0', 8, 1)).toThrow('--batch-size must be at least 1 (got 0)');
    expect(() => numberOption('memory-budget-gib', '-1', 0, 0)).toThrow('--memory-budget-gib must be at least 0 (got -1)');
  });

  it('reads decimal numbers only: a hex or binary literal is a typo, not a value', () => {
    expect(numberOption('beta', ' 2e-4 ', 0.1)).toBe(2e-4);
    expect(numberOption('beta', '.5', 0.1)).toBe(0.5);
    expect(numberOption('max-steps', '-1', 0)).toBe(-1);
    for (const raw of ['0x10', '0b1', '0o7', '1_000', 'Infinity', '1e400', '--1'])
      expect(() => numberOption('max-steps', raw, 0), raw).toThrow(`--max-steps must be a number (got "${raw}")`);
  });
});

describe('closestFlag: what a mistyped flag most likely meant', () => {
  const flags = ['learning-rate', 'num-train-epochs', 'batch-size', 'lora-r', 'lora-alpha', 'max-steps', 'out'];
  it("takes TRL's names, snake_case, initials and near spellings", () => {
    expect(closestFlag('learning_rate', flags)).toBe('learning-rate');
    expect(closestFlag('per_device_train_batch_size', flags)).toBe('batch-size');
    expect(closestFlag('per-device-train-batch-size', flags)).toBe('batch-size');
    expect(closestFlag('lr', flags)).toBe('learning-rate');
    expect(closestFlag('max-step', flags)).toBe('max-steps');
    expect(closestFlag('lora_rank', flags)).toBeUndefined();
    expect(closestFlag('ou', flags)).toBe('out');
    expect(closestFlag('epochs', flags)).toBe('num-train-epochs');
    expect(closestFlag('la', flags)).toBe('lora-alpha'); // its initials, the only flag with them
    expect(closestFlag('o', flags)).toBeUndefined(); // two edits from "out", but a one-letter flag is too short to guess
  });
});

describe('flags mean what they say', () => {
  const options = { 'max-steps': { type: 'string' }, seed: { type: 'string' }, overwrite: { type: 'boolean' } } as const;

  it('a negative value after a flag that takes one is its value (--max-steps -1), in both spellings', () => {
    expect(parseCommandArgs('train', ['--max-steps', '-1'], options).values['max-steps']).toBe('-1');
    expect(parseCommandArgs('train', ['--max-steps=-1'], options).values['max-steps']).toBe('-1');
    expect(parseCommandArgs('train', ['--max-steps', '-0.5', '--seed', '3'], options).values).toEqual({ 'max-steps': '-0.5', seed: '3' });
  });

  it('a flag given twice is refused, naming it and both values', () => {
    expect(() => parseCommandArgs('train', ['--max-steps', '3', '--seed', '1', '--max-steps', '5'], options)).toThrow(
      '--max-steps is given 2 times (3, 5): give it once',
    );
    expect(() => parseCommandArgs('train', ['--overwrite', '--overwrite'], options)).toThrow('--overwrite is given 2 times: give it once');
  });

  it('a count must be a whole number', () => {
    expect(integerOption('batch-size', '4', 8, 1)).toBe(4);
    expect(() => integerOption('batch-size', '2.5', 8, 1)).toThrow('--batch-size must be a whole number (got 2.5)');
  });
});

describe('runtimeOption', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('--runtime, else $WEBTUNE_RUNTIME, else the browser', () => {
    vi.stubEnv('WEBTUNE_RUNTIME', 'dawn');
    expect(runtimeOption(undefined)).toBe('dawn');
    expect(runtimeOption('browser')).toBe('browser');
    vi.stubEnv('WEBTUNE_RUNTIME', undefined);
    expect(runtimeOption(undefined)).toBe('browser');
  });

  it('names where a bad value came from', () => {
    expect(() => runtimeOption('node')).toThrow(new UsageError('--runtime must be browser or dawn (got "node")'));
    vi.stubEnv('WEBTUNE_RUNTIME', 'chrome');
    expect(() => runtimeOption(undefined)).toThrow(new UsageError('WEBTUNE_RUNTIME must be browser or dawn (got "chrome")'));
  });
});
