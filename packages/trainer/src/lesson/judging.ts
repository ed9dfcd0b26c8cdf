// The classroom's optional judging stage: the SFT model answers a few lesson prompts twice (sampled), and the students
// judge those answers, or the lesson's checks do (the CLI, tests). The same answers serve two steps:
//   - side by side, as the Pairs screen judges (pairs/judging.ts): the pairs join the lesson's shipped DPO pairs;
//   - one at a time, thumbs up or down (the user's document's own example of KTO's data): KTO rows
//     {prompt, completion, label}, topped up if asked with the shipped pairs unpaired as TRL's
//     unpair_preference_dataset does (chosen -> desirable, rejected -> undesirable), so the recipe stays reproducible.
// The prompts are the lesson's training prompts (its DPO data's), never the held-out ones: the evaluation compares
// every model on prompts and pairs none of them was trained on.

import { parseJsonl } from '../data/jsonl.ts';
import { shuffled } from '../data/shuffle.ts';
import { isObject } from '../model/arch/fields.ts';
import { type CandidateSet, candidateSeeds } from '../pairs/candidates.ts';
import { type PreferencePair, type ScoreRow, writePairs } from '../pairs/pairs.ts';
import { type TrainConfig, validateConfig } from '../train/config.ts';
import { type Checks, type LessonEngine, LessonError, scoreAnswer } from './lesson.ts';

/** How the SFT model's answers to judge are sampled: two per prompt, from the model's own distribution (temperature 1,
 * no top-p cut: the answers it would give, as KTO and DPO data from it assume), seeded to repeat. */
export const JUDGE_SAMPLING = { candidates: 2, temperature: 1, top_p: 1, seed: 0 } as const;

/** The first `n` distinct prompts of the lesson's DPO data (its training prompts). */
export function judgingPrompts(dpoText: string, file: string, n: number): string[] {
  const seen = new Set<string>();
  for (const { value } of parseJsonl(dpoText).rows) {
    if (seen.size >= n) break;
    if (isObject(value) && typeof value.prompt === 'string' && value.prompt !== '') seen.add(value.prompt);
  }
  if (seen.size === 0) throw new LessonError(`${file} has no rows with a "prompt" string to answer.`);
  return [...seen];
}

/** The SFT model's sampled answers to each prompt, one candidate set per prompt (ids prompt-1, prompt-2, ...). */
export async function sampleAnswers(
  engine: LessonEngine,
  checks: Checks,
  prompts: string[],
  adapter: { id: string; name: string },
  model: string,
  onSet?: (set: CandidateSet) => void,
): Promise<CandidateSet[]> {
  const { candidates: k, temperature, top_p, seed } = JUDGE_SAMPLING;
  const sets: CandidateSet[] = [];
  for (const [i, prompt] of prompts.entries()) {
    const seeds = candidateSeeds(seed, i, k);
    const candidates: string[] = [];
    for (const s of seeds)
      candidates.push(
        (await engine.generate({ prompt, adapterId: adapter.id, maxNewTokens: checks.maxNewTokens, temperature, topP: top_p, seed: s }))
          .text,
      );
    const set: CandidateSet = {
      id: `prompt-${i + 1}`,
      prompt,
      candidates,
      model,
      adapter: adapter.name,
      sampling: { temperature, top_p, max_new_tokens: checks.maxNewTokens, seed },
      seeds,
    };
    sets.push(set);
    onSet?.(set);
  }
  return sets;
}

// ---- thumbs up / down ----------------------------------------------------------------------------------------------

export type Thumb = 'up' | 'down' | 'skip';

/** One answer to rate: `<set id>:<candidate>`. An answer that repeats an earlier one of its prompt is not asked again. */
export interface ThumbsItem {
  key: string;
  set: number;
  candidate: number;
}

export interface ThumbsSession {
  sets: CandidateSet[];
  decisions: { key: string; thumb: Thumb }[];
}

export function thumbsItems(sets: CandidateSet[]): ThumbsItem[] {
  return sets.flatMap((s, set) =>
    s.candidates.flatMap((text, candidate) =>
      s.candidates.indexOf(text) === candidate ? [{ key: `${s.id}:${candidate}`, set, candidate }] : [],
    ),
  );
}

/** The first answer not rated yet, or null. */
export function nextThumbsItem(session: ThumbsSession): ThumbsItem | null {
  const done = new Set(session.decisions.map((d) => d.key));
  return thumbsItems(session.sets).find((i) => !done.has(i.key)) ?? null;
}

export function rateAnswer(session: ThumbsSession, thumb: Thumb): ThumbsSession {
  const next = nextThumbsItem(session);
  if (!next) throw new LessonError('every answer is rated already: undo one to change it.');
  return { ...session, decisions: [...session.decisions, { key: next.key, thumb }] };
}

export function undoRating(session: ThumbsSession): ThumbsSession {
  return { ...session, decisions: session.decisions.slice(0, -1) };
}

/** A KTO row as TRL reads it, with where it came from. */
export interface KtoLessonRow {
  prompt: string;
  completion: string;
  label: boolean;
  source: 'judged' | 'shipped';
}

/** The rated answers as KTO rows, in rating order (skipped ones make none). */
export function ktoRowsFromThumbs(session: ThumbsSession): KtoLessonRow[] {
  const items = new Map(thumbsItems(session.sets).map((i) => [i.key, i]));
  return session.decisions.flatMap(({ key, thumb }) => {
    const item = items.get(key);
    if (!item || thumb === 'skip') return [];
    const s = session.sets[item.set];
    return [{ prompt: s.prompt as string, completion: s.candidates[item.candidate], label: thumb === 'up', source: 'judged' as const }];
  });
}

// ---- the automatic judge: the lesson's checks --------------------------------------------------------------------

/** How many of the lesson's checks an answer passes (all of them: a thumbs up). */
export function checksPassed(checks: Checks, prompt: string, text: string): { passed: number; of: number } {
  const marks = Object.values(scoreAnswer(checks, prompt, text).passed);
  return { passed: marks.filter(Boolean).length, of: marks.length };
}

/** A scores file's rows, as `pnpm cli pairs` reads them: each answer's score is the number of checks it passes. */
export function scoresFromChecks(checks: Checks, sets: CandidateSet[]): ScoreRow[] {
  return sets.map((s, i) => ({
    line: i + 1,
    id: s.id,
    scores: s.candidates.map((c) => checksPassed(checks, s.prompt as string, c).passed),
  }));
}

/** Every answer rated by the checks: thumbs up when it passes them all. */
export function thumbsFromChecks(checks: Checks, sets: CandidateSet[]): ThumbsSession {
  const decisions = thumbsItems(sets).map(({ key, set, candidate }) => {
    const { passed, of } = checksPassed(checks, sets[set].prompt as string, sets[set].candidates[candidate]);
    return { key, thumb: (passed === of ? 'up' : 'down') as Thumb };
  });
  return { sets, decisions };
}

/**
 * A labels file: one line per prompt, {"id": "prompt-1", "labels": [true, false]}, a label per answer in order (true:
 * thumbs up, false: down, null: skip). Prompts it does not name are skipped.
 */
export function readThumbsFile(text: string, file: string, sets: CandidateSet[]): ThumbsSession {
  const { rows, errors } = parseJsonl(text);
  if (errors.length > 0) throw new LessonError(`${file} line ${errors[0].line}: ${errors[0].reason}.`);
  const byId = new Map(sets.map((s) => [s.id, s]));
  const labels = new Map<string, (boolean | null)[]>();
  for (const { line, value } of rows) {
    const at = `${file} line ${line}`;
    const ok =
      isObject(value) &&
      typeof value.id === 'string' &&
      Array.isArray(value.labels) &&
      value.labels.every((l) => l === true || l === false || l === null);
    if (!ok) throw new LessonError(`${at}: each line must be {"id": "prompt-N", "labels": [true | false | null, ...]}.`);
    const set = byId.get(value.id as string);
    if (!set) throw new LessonError(`${at}: "${value.id}" is not one of the judged prompts (${[...byId.keys()].join(', ')}).`);
    const given = value.labels as (boolean | null)[];
    if (given.length !== set.candidates.length)
      throw new LessonError(
        `${at}: ${given.length} labels for "${set.id}", which has ${set.candidates.length} answers: one label per answer, in order.`,
      );
    if (labels.has(set.id)) throw new LessonError(`${at}: "${set.id}" is labelled twice.`);
    labels.set(set.id, given);
  }
  const decisions = thumbsItems(sets).flatMap(({ key, set, candidate }) => {
    const l = labels.get(sets[set].id)?.[candidate];
    return l === undefined ? [] : [{ key, thumb: (l === null ? 'skip' : l ? 'up' : 'down') as Thumb }];
  });
  return { sets, decisions };
}

// ---- the data each step trains on --------------------------------------------------------------------------------

const withNewline = (text: string) => (text === '' || text.endsWith('\n') ? text : `${text}\n`);

/** The lesson's DPO data with the judged pairs after its shipped ones (TRL's preference rows, as the Pairs screen saves). */
export function dpoDataWithJudged(shippedText: string, judged: PreferencePair[]): string {
  return withNewline(shippedText) + (judged.length > 0 ? writePairs(judged).data : '');
}

/**
 * KTO's rows: the judged ones first (a short run sees them all), then, with `topUp`, each shipped pair as a desirable
 * and an undesirable row (TRL's unpairing) in an order shuffled with the lesson's seed. KTO takes its batches in
 * dataset order and pairs each prompt with a neighbour's answer for its KL term: unshuffled, the unpaired file would
 * give batches of one label, and a pair's two rows side by side would share their prompt.
 */
export function ktoLessonRows(judged: KtoLessonRow[], shipped: { text: string; file: string } | null, seed: number): KtoLessonRow[] {
  const topUp: KtoLessonRow[] = [];
  if (shipped)
    for (const { line, value } of parseJsonl(shipped.text).rows) {
      if (!isObject(value) || typeof value.prompt !== 'string' || typeof value.chosen !== 'string' || typeof value.rejected !== 'string')
        throw new LessonError(`${shipped.file} line ${line}: a lesson pair must be {"prompt", "chosen", "rejected"} strings.`);
      topUp.push({ prompt: value.prompt, completion: value.chosen, label: true, source: 'shipped' });
      topUp.push({ prompt: value.prompt, completion: value.rejected, label: false, source: 'shipped' });
    }
  const rows = [...judged, ...shuffled(topUp, seed, 0)];
  if (rows.length === 0)
    throw new LessonError('KTO has no rows: rate at least one answer thumbs up or down, or top the data up with the lesson pairs.');
  return rows;
}

/** The rows as a KTO JSONL file (TRL's unpaired format). */
export function writeKtoRows(rows: KtoLessonRow[]): string {
  return rows.map((r) => `${JSON.stringify({ prompt: r.prompt, completion: r.completion, label: r.label })}\n`).join('');
}

/**
 * KTO's config in the lesson: DPO's (its learning rate, beta, batch, LoRA, seed and steps), as TRL's KTOTrainer with
 * loss_type "kto" and both weights 1, so the two polish the same SFT model with the same budget.
 */
export function ktoConfig(dpo: TrainConfig, maxSteps: number): TrainConfig {
  const config: TrainConfig = {
    ...dpo,
    method: 'kto',
    lossType: 'kto',
    labelSmoothing: 0,
    desirableWeight: 1,
    undesirableWeight: 1,
    maxSteps,
  };
  validateConfig(config);
  return config;
}
