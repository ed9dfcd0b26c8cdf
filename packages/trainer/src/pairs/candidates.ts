// Candidates: K answers (2 to 4) per prompt from one model (a base, or base + adapter), sampled with a temperature and
// a seed per candidate derived from the run's seed, so the same file is made again from the same settings. One JSONL
// row per prompt: {"id","prompt","candidates","model","adapter","sampling","seeds"[,"reference"]}.
// The RNG module alone: the kernels' index imports WGSL, which the CLI's Node side cannot load.
import { mixSeed } from '@webtune/kernels/random';
import { readMessageList, typeName } from '../data/formats.ts';
import { parseJsonl } from '../data/jsonl.ts';
import { at, PairsError } from './errors.ts';
import type { Prompt } from './prompts.ts';

export const MIN_CANDIDATES = 2;
export const MAX_CANDIDATES = 4;

export interface Sampling {
  temperature: number;
  top_p: number;
  max_new_tokens: number;
  /** The run's seed; each candidate's own is in `seeds`. */
  seed: number;
}

export interface CandidateSet {
  id: string;
  prompt: Prompt;
  candidates: string[];
  /** The base model's id and the adapter's name (null: the base alone). */
  model: string;
  adapter: string | null;
  sampling: Sampling;
  seeds: number[];
  reference?: string;
}

/** The seed of each of prompt `promptIndex`'s `k` candidates: distinct streams from one run seed. */
export function candidateSeeds(seed: number, promptIndex: number, k: number): number[] {
  return Array.from({ length: k }, (_, j) => mixSeed(seed, promptIndex, j) & 0x7fffffff);
}

/** Refuses a K outside 2..4 (one candidate makes no pair; more than four is more than a person compares). */
export function checkCandidateCount(k: number, what = 'the number of candidates'): void {
  if (!Number.isInteger(k) || k < MIN_CANDIDATES || k > MAX_CANDIDATES)
    throw new PairsError(`${what} must be a whole number from ${MIN_CANDIDATES} to ${MAX_CANDIDATES} (got ${k})`);
}

/** A candidates file, every row checked; the first bad line is named (and how many more), nothing half-read. */
export function readCandidates(text: string, file: string): CandidateSet[] {
  const { rows, errors } = parseJsonl(text);
  if (errors.length > 0) throw new PairsError(`${at(file, errors[0].line)}${errors[0].reason}`);
  if (rows.length === 0) throw new PairsError(`${at(file)}no candidates: the file is empty`);
  const seen = new Map<string, number>();
  return rows.map(({ line, value }) => {
    const fail = (reason: string): never => {
      throw new PairsError(`${at(file, line)}${reason}`);
    };
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return fail(`row is not a JSON object: got ${typeName(value)}`);
    const o = value as Record<string, unknown>;
    if (typeof o.id !== 'string' || o.id === '') return fail(`field "id" must be a non-empty string (got ${typeName(o.id)})`);
    const earlier = seen.get(o.id);
    if (earlier !== undefined) return fail(`id "${o.id}" is also on line ${earlier}: every prompt needs its own id`);
    seen.set(o.id, line);
    let prompt: Prompt;
    if (o.prompt === '') return fail('field "prompt" is empty');
    if (typeof o.prompt === 'string') prompt = o.prompt;
    else {
      try {
        prompt = readMessageList(o, 'prompt');
      } catch (e) {
        return fail((e as Error).message);
      }
    }
    const c = o.candidates;
    if (!Array.isArray(c) || c.some((x) => typeof x !== 'string'))
      return fail(`field "candidates" must be a list of answer strings (got ${typeName(c)})`);
    if (c.length < MIN_CANDIDATES || c.length > MAX_CANDIDATES)
      return fail(`field "candidates" has ${c.length} answers: give ${MIN_CANDIDATES} to ${MAX_CANDIDATES}`);
    const seeds = Array.isArray(o.seeds) ? (o.seeds as number[]) : [];
    const sampling = (typeof o.sampling === 'object' && o.sampling !== null ? o.sampling : {}) as Sampling;
    return {
      id: o.id,
      prompt,
      candidates: c as string[],
      model: typeof o.model === 'string' ? o.model : '',
      adapter: typeof o.adapter === 'string' ? o.adapter : null,
      sampling,
      seeds,
      ...(typeof o.reference === 'string' && { reference: o.reference }),
    };
  });
}

export function writeCandidates(sets: CandidateSet[]): string {
  return sets.map((s) => `${JSON.stringify(s)}\n`).join('');
}
