// What the user's own account of DPO (shared/seed/sft-vs-dpo.txt) asks of preference data, checked on the rows a
// dataset kept: chosen and rejected "should be meaningfully different" (near-identical pairs teach nothing), a
// practical start is "500 to 2,000 preference pairs", and "DPO polishes; it does not teach from scratch" (start from an
// SFT adapter). Exact duplicate rows are counted for every method. Advice is shown, never enforced.
import type { DpoRow, Message, SftRow } from './formats.ts';

export interface Advice {
  /** warning: likely to spoil or waste training; note: worth knowing. */
  level: 'warning' | 'note';
  code: 'near-identical' | 'duplicates' | 'few-pairs' | 'dpo-without-sft';
  message: string;
  /** The source lines concerned (none for advice about the whole file or run). */
  lines: number[];
}

/** Pairs whose answers differ by at most this fraction of characters (after normalising) are near-identical. */
export const NEAR_IDENTICAL_DISTANCE = 0.1;
/** The account's guidance: "a practical starting point is 500 to 2,000 preference pairs". */
export const SUGGESTED_PAIRS = { low: 500, high: 2000 } as const;

/**
 * Lower case, punctuation dropped, white space collapsed: differences in these alone do not make two answers
 * different to a reader (and hardly to the loss).
 */
export function normaliseAnswer(text: string): string {
  return text
    .toLowerCase()
    .replace(/[\p{P}\p{S}]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * Levenshtein distance between two strings' code points, or `limit + 1` as soon as it must exceed `limit` (a band of
 * width 2*limit+1 around the diagonal, after the common prefix and suffix are cut: linear in the length for the
 * near-identical pairs this looks for, and quick to give up on the rest).
 */
export function boundedEditDistance(a: string, b: string, limit: number): number {
  let x = Array.from(a);
  let y = Array.from(b);
  let start = 0;
  while (start < x.length && start < y.length && x[start] === y[start]) start++;
  let endX = x.length;
  let endY = y.length;
  while (endX > start && endY > start && x[endX - 1] === y[endY - 1]) {
    endX--;
    endY--;
  }
  x = x.slice(start, endX);
  y = y.slice(start, endY);
  if (Math.abs(x.length - y.length) > limit) return limit + 1;
  if (x.length === 0 || y.length === 0) return Math.max(x.length, y.length);
  const over = limit + 1;
  let prev = new Array<number>(y.length + 1);
  let cur = new Array<number>(y.length + 1);
  for (let j = 0; j <= y.length; j++) prev[j] = j <= limit ? j : over;
  for (let i = 1; i <= x.length; i++) {
    const lo = Math.max(1, i - limit);
    const hi = Math.min(y.length, i + limit);
    cur.fill(over);
    cur[0] = i <= limit ? i : over;
    let best = cur[0];
    for (let j = lo; j <= hi; j++) {
      const sub = prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1);
      cur[j] = Math.min(over, sub, prev[j] + 1, cur[j - 1] + 1);
      best = Math.min(best, cur[j]);
    }
    if (best > limit) return over;
    [prev, cur] = [cur, prev];
  }
  return Math.min(over, prev[y.length]);
}

/** The normalised edit distance of two answers in [0, 1], exact when at most `limit` (else above it). */
export function answerDistance(a: string, b: string, limit = NEAR_IDENTICAL_DISTANCE): number {
  const x = normaliseAnswer(a);
  const y = normaliseAnswer(b);
  const longest = Math.max(Array.from(x).length, Array.from(y).length);
  if (longest === 0) return 0;
  return boundedEditDistance(x, y, Math.floor(limit * longest)) / longest;
}

const answerText = (answer: string | Message[]) => (typeof answer === 'string' ? answer : answer.map((m) => m.content).join('\n'));

/** Advice on the preference pairs a file kept (`lines`: each row's source line). */
export function preferenceAdvice(rows: DpoRow[], lines: number[]): Advice[] {
  const advice: Advice[] = [];
  const near = rows.flatMap((r, i) =>
    answerDistance(answerText(r.chosen), answerText(r.rejected)) <= NEAR_IDENTICAL_DISTANCE ? [lines[i]] : [],
  );
  if (near.length > 0)
    advice.push({
      level: 'warning',
      code: 'near-identical',
      message:
        `${near.length} of ${rows.length} pairs have a chosen and rejected answer that differ only in white space, punctuation, ` +
        `case or a word or two (under ${NEAR_IDENTICAL_DISTANCE * 100}% of characters): such pairs teach DPO next to nothing. ` +
        'Replace the rejected answer with a clearly worse one, or drop the pair.',
      lines: near,
    });
  const dup = duplicateAdvice(rows, lines);
  if (dup) advice.push(dup);
  if (rows.length < SUGGESTED_PAIRS.low)
    advice.push({
      level: 'note',
      code: 'few-pairs',
      message:
        `${rows.length} pair${rows.length === 1 ? '' : 's'}. A practical start for DPO is ${SUGGESTED_PAIRS.low} to ${SUGGESTED_PAIRS.high.toLocaleString('en')} pairs; ` +
        'with fewer, expect a small change, and watch rewards/accuracies rather than the loss alone.',
      lines: [],
    });
  return advice;
}

/** Advice on the SFT rows a file kept: exact duplicates. */
export function sftAdvice(rows: SftRow[], lines: number[]): Advice[] {
  const dup = duplicateAdvice(rows, lines);
  return dup ? [dup] : [];
}

/** Exact duplicates of a whole row (as read: the same prompt and answers), every copy after the first named. */
function duplicateAdvice(rows: unknown[], lines: number[]): Advice | null {
  const seen = new Set<string>();
  const copies: number[] = [];
  rows.forEach((r, i) => {
    const key = JSON.stringify(r);
    if (seen.has(key)) copies.push(lines[i]);
    else seen.add(key);
  });
  if (copies.length === 0) return null;
  return {
    level: 'warning',
    code: 'duplicates',
    message: `${copies.length} row${copies.length === 1 ? ' is an exact duplicate' : 's are exact duplicates'} of an earlier row: each copy is trained again, weighting it more. Remove the copies unless that is meant.`,
    lines: copies,
  };
}

/** DPO on the base model alone, with no SFT adapter to start from. */
export function dpoStartAdvice(parentAdapterId: string | null | undefined): Advice | null {
  if (parentAdapterId) return null;
  return {
    level: 'warning',
    code: 'dpo-without-sft',
    message:
      'DPO is starting from the base model with no SFT adapter. DPO polishes; it does not teach a task from scratch. ' +
      'Train SFT on examples of the task first, check its answers, then run DPO on top of that adapter.',
    lines: [],
  };
}
