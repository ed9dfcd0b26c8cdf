// What the pairs commands (candidates, pairs, ab) share: reading their input files strictly (UTF-8, size-checked,
// each named by its flag) and the sampling flags. Everything here runs in Node, before any browser starts.
import { GENERATION_LIMITS, PairsError } from '@webtune/trainer';
import { integerOption, numberOption, UsageError } from '../args.ts';
import { readTextFile } from '../model-arg.ts';

/** A text file given as `--<flag> <value>`: its text and base name, or a UsageError naming the flag. */
export function readInputFile(flag: string, value: string | undefined, what: string): { text: string; file: string } {
  if (!value) throw new UsageError(`--${flag} is required: ${what}`);
  return readTextFile(`--${flag}`, value);
}

/** `read()`'s result; a PairsError (a bad line of a file, checked in Node) becomes a usage error: exit 2, one line. */
export function checked<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof PairsError) throw new UsageError(err.message);
    throw err;
  }
}

export const SAMPLING_HELP = `  --temperature T        sampling temperature (default DEFAULT_T)
  --top-p P              nucleus sampling (default 1)
  --max-new-tokens N     longest answer in tokens (default 64)
  --seed S               the run's seed: the same seed and settings write the same file (default 0)
  --chat                 plain-text prompts become user messages, rendered with the chat template`;

export const SAMPLING_FLAGS = {
  temperature: { type: 'string' },
  'top-p': { type: 'string' },
  'max-new-tokens': { type: 'string' },
  seed: { type: 'string' },
  chat: { type: 'boolean' },
} as const;

export function samplingOptions(
  values: { temperature?: string; 'top-p'?: string; 'max-new-tokens'?: string; seed?: string },
  defaultTemperature: number,
) {
  const { maxNewTokens: tok, temperature: temp, topP: p } = GENERATION_LIMITS;
  return {
    temperature: numberOption('temperature', values.temperature, defaultTemperature, temp.min, temp.max),
    top_p: numberOption('top-p', values['top-p'], p.default, p.min, p.max),
    max_new_tokens: integerOption('max-new-tokens', values['max-new-tokens'], tok.default, tok.min, tok.max),
    seed: integerOption('seed', values.seed, 0, 0, 2 ** 31 - 1),
  };
}
