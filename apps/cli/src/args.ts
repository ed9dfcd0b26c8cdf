// Command-line parsing on node:util's parseArgs, with errors that say what to do.

import { type ParseArgsConfig, parseArgs } from 'node:util';
import { type GpuChoice, parseGpuChoice } from '@webtune/harness';
import { HYPER_PARAMS, parseDecimal, rangeText } from '@webtune/trainer';

/** A bad command line: printed as one line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** An error is one line on stderr, however its message was written. */
export function oneLine(message: string): string {
  return message
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/**
 * A value that starts with a dash after an option that takes one (`--max-steps -1`, `--seed -3`) is that option's
 * value, not an unknown flag: written `--max-steps=-1` for node:util's parseArgs, which refuses the spaced form.
 */
function joinNegativeValues(argv: string[], options: OptionSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') ? argv[i].slice(2) : undefined;
    const next = argv[i + 1];
    if (name && options[name]?.type === 'string' && next !== undefined && /^-(\d|\.\d|Infinity)/.test(next)) {
      out.push(`${argv[i]}=${next}`);
      i++;
    } else out.push(argv[i]);
  }
  return out;
}

export function parseCommandArgs<O extends OptionSpec>(command: string, argv: string[], options: O, allowPositionals = false) {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: boolean; strict: true; tokens: true }>>;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(argv, options),
      options,
      allowPositionals,
      strict: true as const,
      tokens: true as const,
    });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    const unknown = /^Unknown option '--?([^'=]+)'/.exec(reason)?.[1];
    const guess = unknown === undefined ? undefined : closestFlag(unknown, Object.keys(options));
    // node:util's own advice (put it after `--`) is for positionals, which no command takes: the flag is the problem.
    if (unknown !== undefined)
      throw new UsageError(`unknown option --${unknown}${guess ? `: did you mean --${guess}?` : ''} (see \`pnpm cli ${command} --help\`)`);
    throw new UsageError(`${reason} (see \`pnpm cli ${command} --help\`)`);
  }
  // parseArgs keeps the last of a repeated flag: a typo in a long command line would change the run unseen.
  const seen = new Map<string, (string | undefined)[]>();
  for (const t of parsed.tokens) if (t.kind === 'option') seen.set(t.name, [...(seen.get(t.name) ?? []), t.value]);
  for (const [name, values] of seen)
    if (values.length > 1) {
      const given = values.some((v) => v !== undefined) ? ` (${values.map((v) => v ?? '(no value)').join(', ')})` : '';
      throw new UsageError(`--${name} is given ${values.length} times${given}: give it once`);
    }
  return { values: parsed.values, positionals: parsed.positionals };
}

/**
 * The flag a mistyped one most likely meant: TRL's name for it (`--learning_rate`, `--per-device-train-batch-size`),
 * its initials (`--lr`), or a spelling within two edits (`--lerning-rate`); undefined when none is close.
 */
export function closestFlag(typed: string, flags: string[]): string | undefined {
  const kebab = typed.toLowerCase().replaceAll('_', '-');
  if (flags.includes(kebab)) return kebab;
  const trl = HYPER_PARAMS.find((p) => p.trl === kebab.replaceAll('-', '_') && flags.includes(p.flag));
  if (trl) return trl.flag;
  if (ABBREVIATIONS[kebab] && flags.includes(ABBREVIATIONS[kebab])) return ABBREVIATIONS[kebab];
  const initials = flags.filter(
    (f) =>
      f.includes('-') &&
      f
        .split('-')
        .map((w) => w[0])
        .join('') === kebab,
  );
  if (initials.length === 1) return initials[0];
  let best: { flag: string; distance: number } | undefined;
  for (const flag of flags) {
    const distance = editDistance(kebab, flag);
    if (distance <= 2 && distance < kebab.length && (!best || distance < best.distance)) best = { flag, distance };
  }
  return best?.flag;
}

/** What people type for a flag out of habit (other trainers' CLIs), where its initials would be ambiguous (lora-r). */
const ABBREVIATIONS: Record<string, string> = { lr: 'learning-rate', epochs: 'num-train-epochs', bs: 'batch-size', steps: 'max-steps' };

/** Levenshtein distance: insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
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
  const value = parseDecimal(raw);
  if (value === null) throw new UsageError(`--${name} must be a number (got "${raw}")`);
  if (value < min || value > max) throw new UsageError(`--${name} must be ${rangeText(min, max)} (got ${value})`);
  return value;
}

/** A count option (batch size, tokens, seed): a whole number in [min, max]. */
export function integerOption(name: string, raw: string | undefined, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const value = numberOption(name, raw, fallback, min, max);
  if (!Number.isInteger(value)) throw new UsageError(`--${name} must be a whole number (got ${value})`);
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

/** Where the trainer runs: a page in headless Chromium, or this Node process on Dawn (engine.ts). */
export const RUNTIMES = ['browser', 'dawn'] as const;
export type Runtime = (typeof RUNTIMES)[number];

/** `--runtime` (or $WEBTUNE_RUNTIME), browser by default. */
export function runtimeOption(raw: string | undefined): Runtime {
  const value = raw ?? process.env.WEBTUNE_RUNTIME ?? 'browser';
  const runtime = RUNTIMES.find((r) => r === value);
  if (runtime) return runtime;
  throw new UsageError(`${raw === undefined ? 'WEBTUNE_RUNTIME' : '--runtime'} must be ${RUNTIMES.join(' or ')} (got "${value}")`);
}

/** The help lines of the model commands' --runtime and --gpu. */
export const RUNTIME_HELP = `  --runtime browser|dawn         where the trainer runs: headless Chromium (default), or this Node process on Dawn
                                 (the webgpu package, no browser: for a GPU server without one, and less memory;
                                 adapters and checkpoints last only as long as the command; $WEBTUNE_RUNTIME)
  --gpu auto|hardware|swiftshader which adapter: a real GPU if one is found (auto, the default), a real GPU or
                                 fail (hardware), or the CPU's SwiftShader (slow; for tests); $WEBTUNE_GPU`;
