// A person judging candidates, as plain data (so the studio can keep it in IndexedDB and a reload resumes it): every
// two candidates of a prompt are one comparison, shown with sides drawn from the session's seed; each judgement is
// appended to a log (undo takes the last one off); the better answer may be edited before it is kept. Left or right
// makes a pair (the edit, if any, as chosen); a tie, "both bad" and a skip make none. Two identical candidates are
// never compared.
import { mixSeed } from '@webtune/kernels/random';
import type { CandidateSet } from './candidates.ts';
import { PairsError } from './errors.ts';
import type { PreferencePair } from './pairs.ts';

export type Judgement = 'left' | 'right' | 'tie' | 'both-bad' | 'skip';
export const JUDGEMENTS: readonly Judgement[] = ['left', 'right', 'tie', 'both-bad', 'skip'];

export interface Comparison {
  /** `<set id>:<i>-<j>` */
  key: string;
  set: number;
  /** The candidates shown on the left and on the right. */
  left: number;
  right: number;
}

export interface Decision {
  key: string;
  judgement: Judgement;
  /** The better answer as the judge edited it (left/right only). */
  edit?: string;
}

export interface JudgingSession {
  sets: CandidateSet[];
  seed: number;
  decisions: Decision[];
}

/**
 * Every two different candidates of every prompt, in prompt order, sides drawn per comparison from `seed`. Two
 * candidates with the same text are not asked about: they can make no pair.
 */
export function comparisons(session: Pick<JudgingSession, 'sets' | 'seed'>): Comparison[] {
  const out: Comparison[] = [];
  session.sets.forEach((s, set) => {
    for (let i = 0; i < s.candidates.length; i++)
      for (let j = i + 1; j < s.candidates.length; j++) {
        if (s.candidates[i] === s.candidates[j]) continue;
        const swap = (mixSeed(session.seed, set, i, j) & 1) === 1;
        out.push({ key: `${s.id}:${i}-${j}`, set, left: swap ? j : i, right: swap ? i : j });
      }
  });
  return out;
}

/** The first comparison not yet judged, or null when all are. */
export function nextComparison(session: JudgingSession): Comparison | null {
  const done = new Set(session.decisions.map((d) => d.key));
  return comparisons(session).find((c) => !done.has(c.key)) ?? null;
}

export function progress(session: JudgingSession): { judged: number; total: number } {
  return { judged: session.decisions.length, total: comparisons(session).length };
}

/** The session with `judgement` on the next comparison (an edit only with left or right, and never empty). */
export function judge(session: JudgingSession, judgement: Judgement, edit?: string): JudgingSession {
  const next = nextComparison(session);
  if (!next) throw new PairsError('every comparison is judged already: undo one to change it, or save the pairs');
  if (!JUDGEMENTS.includes(judgement)) throw new PairsError(`unknown judgement "${judgement}": use ${JUDGEMENTS.join(', ')}`);
  if (edit !== undefined && judgement !== 'left' && judgement !== 'right')
    throw new PairsError('only the better answer can be edited: judge left or right better to keep an edit');
  if (edit !== undefined && edit.trim() === '')
    throw new PairsError('the edited answer is empty: write the better answer, or judge without editing');
  return { ...session, decisions: [...session.decisions, { key: next.key, judgement, ...(edit !== undefined && { edit }) }] };
}

/** The session without its last judgement. */
export function undo(session: JudgingSession): JudgingSession {
  return { ...session, decisions: session.decisions.slice(0, -1) };
}

export interface JudgedPairs {
  pairs: PreferencePair[];
  /** Judgements that made no pair. */
  ties: number;
  bothBad: number;
  skipped: number;
}

/** The pairs the judgements make, in judging order, with what made none counted. */
export function judgedPairs(session: JudgingSession): JudgedPairs {
  const byKey = new Map(comparisons(session).map((c) => [c.key, c]));
  const out: JudgedPairs = { pairs: [], ties: 0, bothBad: 0, skipped: 0 };
  for (const d of session.decisions) {
    const c = byKey.get(d.key);
    if (!c) continue;
    if (d.judgement === 'tie') out.ties++;
    else if (d.judgement === 'both-bad') out.bothBad++;
    else if (d.judgement === 'skip') out.skipped++;
    else {
      const s = session.sets[c.set];
      const [better, worse] = d.judgement === 'left' ? [c.left, c.right] : [c.right, c.left];
      const chosen = d.edit ?? s.candidates[better];
      if (chosen === s.candidates[worse]) continue;
      out.pairs.push({
        prompt: s.prompt,
        chosen,
        rejected: s.candidates[worse],
        provenance: {
          id: d.key,
          source: 'human',
          model: s.model,
          adapter: s.adapter,
          sampling: s.sampling,
          chosen_index: better,
          rejected_index: worse,
          chosen_seed: s.seeds[better],
          rejected_seed: s.seeds[worse],
          judgement: d.judgement,
          edited: d.edit !== undefined,
          ...(d.edit !== undefined && { original_chosen: s.candidates[better] }),
        },
      });
    }
  }
  return out;
}
