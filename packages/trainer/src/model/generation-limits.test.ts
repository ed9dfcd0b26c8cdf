// A generation's settings are refused by name outside their bounds, whoever sends them (the studio's fields are hints).
import { describe, expect, it } from 'vitest';
import { checkGeneration, GENERATION_LIMITS } from './generation-limits.ts';

describe('checkGeneration', () => {
  it('takes the bounds and what is left out', () => {
    expect(() => checkGeneration({})).not.toThrow();
    const { maxNewTokens, temperature, topP } = GENERATION_LIMITS;
    expect(() => checkGeneration({ maxNewTokens: maxNewTokens.max, temperature: temperature.min, topP: topP.max })).not.toThrow();
  });

  it.each([
    [{ maxNewTokens: 100_000 }, 'max new tokens must be a whole number from 1 to 4096, got 100000'],
    [{ maxNewTokens: 0 }, 'max new tokens must be a whole number from 1 to 4096, got 0'],
    [{ maxNewTokens: 2.5 }, 'max new tokens must be a whole number from 1 to 4096, got 2.5'],
    [{ temperature: -1 }, 'temperature must be from 0 to 10, got -1'],
    [{ temperature: Number.NaN }, 'temperature must be from 0 to 10, got NaN'],
    [{ topP: 0 }, 'top-p must be from 0.01 to 1, got 0'],
    [{ topP: '0.9' as unknown as number }, 'top-p must be from 0.01 to 1, got "0.9"'],
  ])('refuses %j', (request, message) => {
    expect(() => checkGeneration(request)).toThrow(message);
  });
});
