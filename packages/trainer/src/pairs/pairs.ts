// Preference pairs made in webtune, and the two files they are saved as: TRL's preference JSONL (prompt/chosen/
// rejected, conversational when the prompts were), ready to train DPO on, and a provenance sidecar whose line n says
// where line n's pair came from (which model, sampling and seeds, the scores or verdict, any edit, synthetic or not).
// Pairs from a judge's scores: the best against the worst candidate of each prompt; a prompt whose candidates all
// score the same has no pair, and is counted.
import { parseJsonl } from '../data/jsonl.ts';
import type { CandidateSet } from './candidates.ts';
import { at, PairsError } from './errors.ts';
import type { Prompt } from './prompts.ts';

export type PairSource = 'scores' | 'human' | 'ab' | 'synthetic';

export interface PreferencePair {
  prompt: Prompt;
  chosen: string;
  rejected: string;
  /** Written to the sidecar as it is: `id` and `source` always, the rest as the source knows it. */
  provenance: { id: string; source: PairSource; [key: string]: unknown };
}

/** One row of a scores file: the judge's score of each candidate of a prompt, in the candidates' order. */
export interface ScoreRow {
  line: number;
  id: string;
  scores: number[];
}

export function readScores(text: string, file: string): ScoreRow[] {
  const { rows, errors } = parseJsonl(text);
  if (errors.length > 0) throw new PairsError(`${at(file, errors[0].line)}${errors[0].reason}`);
  if (rows.length === 0) throw new PairsError(`${at(file)}no scores: the file is empty`);
  const seen = new Map<string, number>();
  return rows.map(({ line, value }) => {
    const o = (typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {}) as Record<string, unknown>;
    if (typeof o.id !== 'string' || !Array.isArray(o.scores) || o.scores.some((s) => typeof s !== 'number' || !Number.isFinite(s)))
      throw new PairsError(`${at(file, line)}each line must be {"id": "<candidates id>", "scores": [<a number per candidate>]}`);
    const earlier = seen.get(o.id);
    if (earlier !== undefined) throw new PairsError(`${at(file, line)}id "${o.id}" is scored again (first on line ${earlier})`);
    seen.set(o.id, line);
    return { line, id: o.id, scores: o.scores as number[] };
  });
}

export interface PairsFromScores {
  pairs: PreferencePair[];
  /** Prompts whose candidates all scored the same (or whose best and worst answers are the same text). */
  tied: string[];
  /** Prompts the scores file does not mention. */
  unscored: string[];
}

/** The best vs the worst candidate per prompt (the first candidate of the best and worst score, on a tie). */
export function pairsFromScores(sets: CandidateSet[], scores: ScoreRow[], scoresFile: string): PairsFromScores {
  const byId = new Map(sets.map((s) => [s.id, s]));
  for (const row of scores) {
    const set = byId.get(row.id);
    if (!set) throw new PairsError(`${at(scoresFile, row.line)}id "${row.id}" is not in the candidates file`);
    if (row.scores.length !== set.candidates.length)
      throw new PairsError(
        `${at(scoresFile, row.line)}${row.scores.length} scores for "${row.id}", which has ${set.candidates.length} candidates: give one score per candidate, in order`,
      );
  }
  const scored = new Map(scores.map((r) => [r.id, r.scores]));
  const out: PairsFromScores = { pairs: [], tied: [], unscored: [] };
  for (const set of sets) {
    const s = scored.get(set.id);
    if (!s) {
      out.unscored.push(set.id);
      continue;
    }
    const best = s.indexOf(Math.max(...s));
    const worst = s.indexOf(Math.min(...s));
    if (s[best] === s[worst] || set.candidates[best] === set.candidates[worst]) {
      out.tied.push(set.id);
      continue;
    }
    out.pairs.push({
      prompt: set.prompt,
      chosen: set.candidates[best],
      rejected: set.candidates[worst],
      provenance: {
        id: set.id,
        source: 'scores',
        model: set.model,
        adapter: set.adapter,
        sampling: set.sampling,
        chosen_index: best,
        rejected_index: worst,
        chosen_seed: set.seeds[best],
        rejected_seed: set.seeds[worst],
        scores: s,
      },
    });
  }
  return out;
}

/** TRL's preference rows and their provenance sidecar, line for line. Refuses pairs mixing text and chat prompts. */
export function writePairs(pairs: PreferencePair[]): { data: string; provenance: string } {
  if (pairs.length === 0) throw new PairsError('no pairs to save: judge or score at least one prompt with a better and a worse answer');
  const chat = Array.isArray(pairs[0].prompt);
  const mixed = pairs.find((p) => Array.isArray(p.prompt) !== chat);
  if (mixed)
    throw new PairsError(
      `pair "${mixed.provenance.id}" has a ${chat ? 'text' : 'chat'} prompt but "${pairs[0].provenance.id}" a ${chat ? 'chat' : 'text'} one: one DPO file holds one kind`,
    );
  const row = (p: PreferencePair) =>
    typeof p.prompt === 'string'
      ? { prompt: p.prompt, chosen: p.chosen, rejected: p.rejected }
      : { prompt: p.prompt, chosen: [{ role: 'assistant', content: p.chosen }], rejected: [{ role: 'assistant', content: p.rejected }] };
  return {
    data: pairs.map((p) => `${JSON.stringify(row(p))}\n`).join(''),
    provenance: pairs.map((p, i) => `${JSON.stringify({ line: i + 1, ...p.provenance })}\n`).join(''),
  };
}
