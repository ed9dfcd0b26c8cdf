import { describe, expect, it } from 'vitest';
import { diffWords, referenceOf, sameAnswers, words } from './diff.ts';

const join = (s: { text: string }[]) => s.map((x) => x.text).join('');
const changed = (s: { text: string; changed: boolean }[]) => s.filter((x) => x.changed).map((x) => x.text.trim());

describe('diffWords', () => {
  it('keeps white space with the word before it, so the pieces join back exactly', () => {
    expect(words('  a b\n\nc ')).toEqual(['  ', 'a ', 'b\n\n', 'c ']);
    const text = 'Name: Fox\nHabitat:  forests\n';
    expect(join(diffWords('Name: Wolf\nHabitat: tundra', text))).toBe(text);
  });

  it('marks nothing when the outputs are the same', () => {
    expect(diffWords('The fox is red.', 'The fox is red.')).toEqual([{ text: 'The fox is red.', changed: false }]);
  });

  it('marks only the words the reference does not have, in runs', () => {
    const s = diffWords('The fox is a small red animal.', 'The fox is a very small grey animal.');
    expect(changed(s)).toEqual(['very', 'grey']);
    expect(s.map((x) => x.changed)).toEqual([false, true, false, true, false]);
  });

  it('compares words, not the white space between them', () => {
    expect(changed(diffWords('a  b\nc', 'a b c'))).toEqual([]);
  });

  it('marks everything against an empty reference, and nothing of an empty output', () => {
    expect(diffWords('', 'new words')).toEqual([{ text: 'new words', changed: true }]);
    expect(diffWords('old words', '')).toEqual([]);
  });

  it('marks two long outputs as wholly different instead of building a huge table', () => {
    const long = (w: string) => Array.from({ length: 600 }, (_, i) => `${w}${i}`).join(' ');
    expect(diffWords(long('a'), long('a'))).toEqual([{ text: long('a'), changed: true }]);
  });
});

describe('referenceOf', () => {
  const base = { id: '', parentId: null };
  const sft = { id: 's', parentId: null };
  const dpo = { id: 'd', parentId: 's' };

  it('reads an adapter against the adapter it was trained on, when shown, else the base model', () => {
    expect(referenceOf(dpo, [base, sft, dpo])).toBe('s');
    expect(referenceOf(dpo, [base, dpo])).toBe('');
    expect(referenceOf(sft, [base, sft, dpo])).toBe('');
  });

  it('reads the base model, or an adapter shown alone, against nothing', () => {
    expect(referenceOf(base, [base, sft])).toBeNull();
    expect(referenceOf(sft, [sft])).toBeNull();
  });
});

describe('sameAnswers', () => {
  const columns = [
    { id: '', parentId: null },
    { id: 's', parentId: null },
    { id: 'd', parentId: 's' },
  ];
  const table = (rows: Record<string, string | null>[]) => (i: number, id: string) => rows[i][id];

  it('names each column that repeats its reference on every prompt', () => {
    const answers = table([
      { '': 'a fox', s: 'a fox', d: 'Name: Fox' },
      { '': 'a cat', s: 'a cat', d: 'Name: Cat' },
    ]);
    expect(sameAnswers(columns, 2, answers)).toEqual([{ id: 's', reference: '' }]);
  });

  it('does not count a column that differs on one prompt, or has not finished', () => {
    expect(
      sameAnswers(
        columns,
        2,
        table([
          { '': 'x', s: 'x', d: 'x' },
          { '': 'y', s: 'z', d: 'z' },
        ]),
      ),
    ).toEqual([{ id: 'd', reference: 's' }]);
    expect(sameAnswers(columns, 1, table([{ '': 'x', s: null, d: null }]))).toEqual([]);
  });
});
