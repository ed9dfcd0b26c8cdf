// A blind A/B comparison of two models on the same prompts. Each prompt's answers are shown as A and B, the first
// model's on a side drawn per prompt from the run's seed, and the judge never sees which model wrote which until
// the summary: wins, losses and ties per model, win rates with Wilson intervals, the per-prompt table. Decided
// prompts can be saved as preference pairs (the winner chosen), so the evaluation feeds the next DPO run.
// The RNG module alone: the kernels' index imports WGSL, which the CLI's Node side cannot load.
import { mixSeed } from '@webtune/kernels/random';
import { typeName } from '../data/formats.ts';
import { parseJsonl } from '../data/jsonl.ts';
import { at, PairsError } from './errors.ts';
import type { PreferencePair } from './pairs.ts';
import type { Prompt } from './prompts.ts';
import { type TieRule, type WinRate, winRates } from './winrate.ts';

export type AbVerdict = 'A' | 'B' | 'tie';
export const AB_VERDICTS: readonly AbVerdict[] = ['A', 'B', 'tie'];

export interface AbRow {
  id: string;
  prompt: Prompt;
  /** The first and the second model's answers. */
  first: string;
  second: string;
  /** The label the first model's answer is shown under. */
  firstIs: 'A' | 'B';
  verdict?: AbVerdict;
}

/** The two models, named as the user knows them (e.g. "SFT" and "SFT+DPO"), hidden from the judge until the end. */
export interface AbModels {
  first: string;
  second: string;
}

/** The label the first model's answer gets on prompt `index`: a fair coin per prompt, replayed by the seed. */
export function firstLabel(seed: number, index: number): 'A' | 'B' {
  return (mixSeed(seed, index, 0xab) & 1) === 0 ? 'A' : 'B';
}

/** What the judge sees of a row: the prompt and the answers under their labels, nothing else. */
export function blindRow(row: AbRow): { id: string; prompt: Prompt; A: string; B: string } {
  const [A, B] = row.firstIs === 'A' ? [row.first, row.second] : [row.second, row.first];
  return { id: row.id, prompt: row.prompt, A, B };
}

/** Which model a verdict favours. */
export function winnerOf(row: AbRow): 'first' | 'second' | 'tie' | undefined {
  if (row.verdict === undefined || row.verdict === 'tie') return row.verdict;
  return row.verdict === row.firstIs ? 'first' : 'second';
}

/** A verdicts file: {"id": "<row id>", "verdict": "A" | "B" | "tie"} per line, every id of `rows` at most once. */
export function readVerdicts(text: string, file: string, rows: AbRow[]): Map<string, AbVerdict> {
  const { rows: values, errors } = parseJsonl(text);
  if (errors.length > 0) throw new PairsError(`${at(file, errors[0].line)}${errors[0].reason}`);
  if (values.length === 0) throw new PairsError(`${at(file)}no verdicts: the file is empty`);
  const ids = new Set(rows.map((r) => r.id));
  const out = new Map<string, AbVerdict>();
  for (const { line, value } of values) {
    const o = (typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {}) as Record<string, unknown>;
    if (typeof o.id !== 'string' || !AB_VERDICTS.includes(o.verdict as AbVerdict))
      throw new PairsError(
        `${at(file, line)}each line must be {"id": "<prompt id>", "verdict": "A" | "B" | "tie"} (got ${'verdict' in o ? JSON.stringify(o.verdict) : typeName(value)})`,
      );
    if (!ids.has(o.id)) throw new PairsError(`${at(file, line)}id "${o.id}" is not a prompt of this A/B run`);
    if (out.has(o.id)) throw new PairsError(`${at(file, line)}id "${o.id}" has a verdict already`);
    out.set(o.id, o.verdict as AbVerdict);
  }
  return out;
}

export interface AbSummary {
  models: AbModels;
  /** Prompts in the run, and those judged. */
  prompts: number;
  judged: number;
  ties: TieRule;
  first: { name: string; wins: number } & WinRate;
  second: { name: string; wins: number } & WinRate;
  tied: number;
  table: { id: string; prompt: Prompt; A: string; B: string; verdict: AbVerdict | null; winner: string | null }[];
}

export function summariseAb(rows: AbRow[], models: AbModels, ties: TieRule = 'split'): AbSummary {
  const winners = rows.map(winnerOf);
  const count = (w: string) => winners.filter((x) => x === w).length;
  const rates = winRates(count('first'), count('second'), count('tie'), ties);
  return {
    models,
    prompts: rows.length,
    judged: rates.judged,
    ties,
    first: { name: models.first, wins: rates.wins, ...rates.first },
    second: { name: models.second, wins: rates.losses, ...rates.second },
    tied: rates.tied,
    table: rows.map((r, i) => {
      const w = winners[i];
      return {
        ...blindRow(r),
        verdict: r.verdict ?? null,
        winner: w === undefined ? null : w === 'tie' ? 'tie' : models[w],
      };
    }),
  };
}

/** The export: one line per prompt with both answers, who wrote each, the sides shown and the verdict. */
export function exportAb(rows: AbRow[], models: AbModels): string {
  return rows
    .map((r) => {
      const w = winnerOf(r);
      const winner = w === undefined ? null : w === 'tie' ? 'tie' : models[w];
      const line = {
        id: r.id,
        prompt: r.prompt,
        [models.first]: r.first,
        [models.second]: r.second,
        A: r.firstIs === 'A' ? models.first : models.second,
        verdict: r.verdict ?? null,
        winner,
      };
      return `${JSON.stringify(line)}\n`;
    })
    .join('');
}

/** Every decided prompt as a preference pair: the winner's answer chosen, the loser's rejected. */
export function pairsFromAb(rows: AbRow[], models: AbModels): PreferencePair[] {
  return rows.flatMap((r) => {
    const w = winnerOf(r);
    if (w !== 'first' && w !== 'second') return [];
    const [chosen, rejected] = w === 'first' ? [r.first, r.second] : [r.second, r.first];
    if (chosen === rejected) return [];
    return [
      {
        prompt: r.prompt,
        chosen,
        rejected,
        provenance: {
          id: r.id,
          source: 'ab' as const,
          chosen_model: models[w],
          rejected_model: models[w === 'first' ? 'second' : 'first'],
          verdict: r.verdict,
        },
      },
    ];
  });
}
