// Data advice on real-looking preference pairs, both ways (flagged, and meaningfully different pairs left alone), and
// the banded edit distance against the plain dynamic programme.
import { describe, expect, it } from 'vitest';
import {
  answerDistance,
  boundedEditDistance,
  dpoStartAdvice,
  NEAR_IDENTICAL_DISTANCE,
  normaliseAnswer,
  preferenceAdvice,
  sftAdvice,
} from './advice.ts';
import type { DpoRow } from './formats.ts';

/** Levenshtein by the textbook O(nm) table: the reference for the banded one. */
function levenshtein(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  const d = Array.from({ length: x.length + 1 }, (_, i) => Array.from({ length: y.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= x.length; i++)
    for (let j = 1; j <= y.length; j++)
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
  return d[x.length][y.length];
}

const pair = (chosen: string, rejected: string): DpoRow => ({ kind: 'standard', prompt: 'Q', chosen, rejected });

describe('boundedEditDistance', () => {
  it('equals Levenshtein up to the limit, and says "over" past it', () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const word = (n: number) => Array.from({ length: n }, () => 'abcé😀 '[Math.floor(rand() * 6)]).join('');
    for (let t = 0; t < 300; t++) {
      const a = word(Math.floor(rand() * 14));
      const b = rand() < 0.5 ? word(Math.floor(rand() * 14)) : a.slice(0, 3) + word(2) + a.slice(4);
      const exact = levenshtein(a, b);
      for (const limit of [0, 1, 2, 4, 20])
        expect(boundedEditDistance(a, b, limit), `${a} | ${b} | ${limit}`).toBe(Math.min(exact, limit + 1));
    }
  });
});

describe('near-identical pairs', () => {
  it('normalises case, punctuation and white space away', () => {
    expect(normaliseAnswer('  Paris,\n the  CAPITAL!  ')).toBe('paris the capital');
  });

  const FLAGGED: [string, string][] = [
    ['The capital of France is Paris.', 'The capital of France is Paris'],
    ['Sure! Here is the list:\n- eggs\n- milk', 'Sure, here is the list: eggs, milk'],
    [
      'To reverse a list in Python, call list.reverse() to do it in place, or use slicing with [::-1] to get a new list.',
      'To reverse a list in Python, call list.reverse() to do it in place, or use slicing with [::-1] to get a copy.',
    ],
  ];
  const DIFFERENT: [string, string][] = [
    ['The capital of France is Paris.', 'The capital of France is Lyon.'],
    ['{"name": "Ada", "age": 36}', 'Her name is Ada and she is 36.'],
    ['The answer is 42', 'The answer is 24'],
    ['Yes.', 'No.'],
  ];

  it.each(FLAGGED)('flags %j vs %j', (a, b) => {
    expect(answerDistance(a, b)).toBeLessThanOrEqual(NEAR_IDENTICAL_DISTANCE);
  });
  it.each(DIFFERENT)('leaves %j vs %j alone', (a, b) => {
    expect(answerDistance(a, b)).toBeGreaterThan(NEAR_IDENTICAL_DISTANCE);
  });

  it('are named by line in the advice, with conversational answers compared by content', () => {
    const conv: DpoRow = {
      kind: 'conversational',
      prompt: [{ role: 'user', content: 'Hi' }],
      chosen: [{ role: 'assistant', content: 'Hello there!' }],
      rejected: [{ role: 'assistant', content: 'hello there' }],
    };
    const rows = [pair(...FLAGGED[0]), pair(...DIFFERENT[0]), conv];
    const advice = preferenceAdvice(rows, [3, 5, 9]);
    expect(advice.find((a) => a.code === 'near-identical')).toEqual({
      level: 'warning',
      code: 'near-identical',
      message:
        '2 of 3 pairs have a chosen and rejected answer that differ only in white space, punctuation, case or a word or two ' +
        '(under 10% of characters): such pairs teach DPO next to nothing. Replace the rejected answer with a clearly worse one, or drop the pair.',
      lines: [3, 9],
    });
  });
});

describe('dataset advice', () => {
  it('counts exact duplicate rows, naming each copy after the first', () => {
    const rows = [pair('a b c d', 'x y z'), pair('q', 'r'), pair('a b c d', 'x y z'), pair('a b c d', 'x y z')];
    const dup = preferenceAdvice(rows, [1, 2, 3, 4]).find((a) => a.code === 'duplicates');
    expect(dup?.lines).toEqual([3, 4]);
    expect(dup?.message).toMatch(/^2 rows are exact duplicates of an earlier row/);
    const sft = sftAdvice(
      [
        { kind: 'text', text: 'a' },
        { kind: 'text', text: 'a' },
      ],
      [1, 2],
    );
    expect(sft).toEqual([expect.objectContaining({ code: 'duplicates', lines: [2] })]);
    expect(sftAdvice([{ kind: 'text', text: 'a' }], [1])).toEqual([]);
  });

  it('says plainly when there are fewer pairs than the guidance, and nothing at 500', () => {
    const few = preferenceAdvice([pair('Blue.', 'Green.')], [1]);
    expect(few).toEqual([
      {
        level: 'note',
        code: 'few-pairs',
        message:
          '1 pair. A practical start for DPO is 500 to 2,000 pairs; with fewer, expect a small change, and watch rewards/accuracies rather than the loss alone.',
        lines: [],
      },
    ]);
    const enough = Array.from({ length: 500 }, (_, i) => pair(`answer ${i} is good`, `no ${i}`));
    expect(
      preferenceAdvice(
        enough,
        enough.map((_, i) => i + 1),
      ),
    ).toEqual([]);
  });

  it('warns when DPO starts without an SFT adapter, and not with one', () => {
    expect(dpoStartAdvice(null)?.code).toBe('dpo-without-sft');
    expect(dpoStartAdvice(undefined)?.message).toMatch(/DPO polishes; it does not teach a task from scratch/);
    expect(dpoStartAdvice('adapter-1')).toBeNull();
  });
});
