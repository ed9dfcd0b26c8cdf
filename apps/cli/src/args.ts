// Command-line parsing on node:util's parseArgs, with errors that say what to do.

import { type ParseArgsConfig, parseArgs } from 'node:util';
import { type GpuChoice, parseGpuChoice } from '@webtune/harness';

/** A bad command line: printed as one line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<O extends OptionSpec>(command: string, argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true as const });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new UsageError(`${reason} (see \`pnpm cli ${command} --help\`)`);
  }
}

/** A number option: finite, and inside [min, max] when given. */
export function numberOption(
  name: string,
  raw: string | undefined,
  fallback: number,
  min = Number.NEGATIVE_INFINITY,
  max = Number.POSITIVE_INFINITY,
): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value)) throw new UsageError(`--${name} must be a number (got "${raw}")`);
  if (value < min || value > max) throw new UsageError(`--${name} must be between ${min} and ${max} (got ${value})`);
  return value;
}

/** `--gpu` (or $WEBTUNE_GPU): where WebGPU should come from. */
export function gpuOption(raw: string | undefined): GpuChoice {
  try {
    return parseGpuChoice(raw ?? process.env.WEBTUNE_GPU);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
