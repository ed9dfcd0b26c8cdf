// The classroom's optional judging steps, headless (`pnpm cli classroom --judged-pairs ... --kto ...`): after the
// smoke test, the SFT model answers a few lesson training prompts twice (sampled); a judge (the lesson's checks, or a
// file a person or script wrote) turns those answers into preference pairs that join the lesson's DPO data, and into
// thumbs up/down rows that KTO trains on after DPO, from the same SFT adapter. The logic is the trainer's
// (lesson/judging.ts, pairs/*); this module reads the options and files and says what happened.
import { existsSync } from 'node:fs';
import {
  type CandidateSet,
  type Checks,
  dpoDataWithJudged,
  JUDGE_SAMPLING,
  judgingPrompts,
  type KtoLessonRow,
  ktoLessonRows,
  ktoRowsFromThumbs,
  type LessonEngine,
  LessonError,
  PairsError,
  type PairsFromScores,
  pairsFromScores,
  readScores,
  readThumbsFile,
  sampleAnswers,
  scoresFromChecks,
  type ThumbsSession,
  thumbsFromChecks,
  writeCandidates,
  writeKtoRows,
  writePairs,
} from '@webtune/trainer';
import { integerOption, UsageError } from '../args.ts';
import { readTextFile } from '../model-arg.ts';
import type { OutputFolder } from '../out-dir.ts';
import type { ProgressPrinter } from '../progress.ts';

export const judgingHelp = `Optional judging steps (the SFT model's own answers to N lesson training prompts, two sampled answers each):
  --judged-pairs auto|FILE  judge the answers side by side: "auto" scores each by how many of the lesson's checks it
                     passes, FILE is a scores file as \`pnpm cli pairs\` reads ({"id": "prompt-1", "scores": [1, 0]});
                     best vs worst per prompt (ties dropped) join the lesson's shipped DPO pairs
  --kto auto|FILE    5. KTO from thumbs up/down on the same answers, trained on the SFT adapter after DPO and shown
                     beside it: "auto" gives a thumbs up to an answer that passes every check, FILE holds
                     {"id": "prompt-1", "labels": [true, false]} (null skips an answer)
  --kto-judged-only  KTO on the judged answers alone (default: topped up with the shipped pairs, unpaired as TRL does)
  --judge-prompts N  how many lesson prompts to answer for judging (default 4)
With --out, judging/ holds the answers (candidates.jsonl), the judged pairs and the KTO rows.`;

export const judgingOptions = {
  'judged-pairs': { type: 'string' },
  kto: { type: 'string' },
  'kto-judged-only': { type: 'boolean' },
  'judge-prompts': { type: 'string' },
} as const;

/** Who judges: the lesson's checks, or a file (read before the browser starts). */
type Judge = { kind: 'checks' } | { kind: 'file'; file: string; text: string };

export interface JudgingPlan {
  prompts: number;
  pairs: Judge | null;
  kto: Judge | null;
  topUp: boolean;
}

function judgeOf(flag: string, value: string | undefined): Judge | null {
  if (value === undefined) return null;
  if (value === 'auto') return { kind: 'checks' };
  if (!existsSync(value)) throw new UsageError(`--${flag} ${value}: no such file; give "auto" (the lesson's checks judge) or a file`);
  return { kind: 'file', file: value, text: readTextFile(`--${flag}`, value).text };
}

/** The judging steps the options ask for, or null for the lesson's own path. */
export function judgingPlan(values: Record<string, unknown>): JudgingPlan | null {
  const pairs = judgeOf('judged-pairs', values['judged-pairs'] as string | undefined);
  const kto = judgeOf('kto', values.kto as string | undefined);
  const prompts = integerOption('judge-prompts', values['judge-prompts'] as string | undefined, 4, 1);
  if (!pairs && !kto) {
    for (const f of ['judge-prompts', 'kto-judged-only'])
      if (values[f] !== undefined) throw new UsageError(`--${f} needs --judged-pairs or --kto`);
    return null;
  }
  // A scores file's rows are checked now; their ids only once the answers exist.
  if (pairs?.kind === 'file') guard(() => readScores(pairs.text, pairs.file));
  return { prompts, pairs, kto, topUp: !values['kto-judged-only'] };
}

/** A judge's file that does not fit: the one-line usage error, naming its line. */
function guard<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof PairsError || e instanceof LessonError) throw new UsageError(e.message);
    throw e;
  }
}

export interface Judged {
  sets: CandidateSet[];
  pairs: PairsFromScores | null;
  thumbs: ThumbsSession | null;
  seconds: number;
}

/** Step 2b: the SFT model's answers, judged. */
export async function judgeSftAnswers(
  plan: JudgingPlan,
  generator: LessonEngine,
  checks: Checks,
  dpo: { text: string; file: string },
  sft: { id: string; name: string },
  model: string,
  progress: ProgressPrinter,
): Promise<Judged> {
  const t0 = performance.now();
  const prompts = judgingPrompts(dpo.text, dpo.file, plan.prompts);
  progress.line(
    `2b. judge the SFT model's answers: ${prompts.length} lesson prompts, ${JUDGE_SAMPLING.candidates} answers each ` +
      `(temperature ${JUDGE_SAMPLING.temperature}, seed ${JUDGE_SAMPLING.seed})`,
  );
  const sets = await sampleAnswers(generator, checks, prompts, sft, model);
  const by = (j: Judge) => (j.kind === 'checks' ? "the lesson's checks" : j.file);
  const pairs =
    plan.pairs &&
    guard(() => {
      const j = plan.pairs as Judge;
      const scores = j.kind === 'checks' ? scoresFromChecks(checks, sets) : readScores(j.text, j.file);
      return pairsFromScores(sets, scores, by(j));
    });
  if (pairs && plan.pairs)
    progress.line(
      `  pairs judged by ${by(plan.pairs)}: ${pairs.pairs.length} join the DPO data; ${pairs.tied.length} prompts tied, ${pairs.unscored.length} unscored`,
    );
  const thumbs =
    plan.kto &&
    guard(() => (plan.kto?.kind === 'file' ? readThumbsFile(plan.kto.text, plan.kto.file, sets) : thumbsFromChecks(checks, sets)));
  if (thumbs && plan.kto) {
    const n = (t: string) => thumbs.decisions.filter((d) => d.thumb === t).length;
    progress.line(`  thumbs by ${by(plan.kto)}: ${n('up')} up, ${n('down')} down, ${n('skip')} skipped`);
  }
  return { sets, pairs, thumbs, seconds: (performance.now() - t0) / 1000 };
}

/** The DPO data: the shipped pairs, and the judged ones after them. */
export function dpoData(shipped: { text: string; file: string }, judged: Judged | null): { text: string; file: string } {
  const pairs = judged?.pairs?.pairs ?? [];
  return pairs.length === 0
    ? shipped
    : { text: dpoDataWithJudged(shipped.text, pairs), file: `${shipped.file} + ${pairs.length} judged pairs` };
}

/** KTO's rows: the thumbs, topped up (unless --kto-judged-only) with the shipped pairs unpaired. */
export function ktoRows(plan: JudgingPlan, judged: Judged, shipped: { text: string; file: string }, seed: number): KtoLessonRow[] {
  return guard(() => ktoLessonRows(ktoRowsFromThumbs(judged.thumbs as ThumbsSession), plan.topUp ? shipped : null, seed));
}

/** What the judging did, for report.json. */
export function judgingReport(plan: JudgingPlan, judged: Judged, kto: KtoLessonRow[] | null, ktoSteps: number | null) {
  const thumbs = judged.thumbs?.decisions ?? [];
  return {
    prompts: judged.sets.length,
    sampling: JUDGE_SAMPLING,
    answers: judged.sets.map((s) => ({ id: s.id, prompt: s.prompt, candidates: s.candidates })),
    pairs: judged.pairs && {
      judge: plan.pairs?.kind === 'file' ? plan.pairs.file : 'checks',
      joined: judged.pairs.pairs.map((p) => ({ id: p.provenance.id, chosen: p.chosen, rejected: p.rejected })),
      tied: judged.pairs.tied,
      unscored: judged.pairs.unscored,
    },
    kto: kto && {
      judge: plan.kto?.kind === 'file' ? plan.kto.file : 'checks',
      thumbs: Object.fromEntries(['up', 'down', 'skip'].map((t) => [t, thumbs.filter((d) => d.thumb === t).length])),
      rows: { judged: kto.filter((r) => r.source === 'judged').length, shipped: kto.filter((r) => r.source === 'shipped').length },
      steps: ktoSteps,
    },
  };
}

/** judging/ in --out: the answers as a candidates file, the judged pairs (TRL + provenance) and KTO's rows. */
export function writeJudging(out: OutputFolder, judged: Judged, kto: KtoLessonRow[] | null): void {
  out.add('judging/candidates.jsonl', writeCandidates(judged.sets));
  if (judged.pairs && judged.pairs.pairs.length > 0) {
    const { data, provenance } = writePairs(judged.pairs.pairs);
    out.add('judging/pairs.jsonl', data);
    out.add('judging/pairs.provenance.jsonl', provenance);
  }
  if (kto) out.add('judging/kto.jsonl', writeKtoRows(kto));
}
