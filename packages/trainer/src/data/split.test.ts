// The validation split: seeded, by file line, the sizes of datasets' train_test_split, and a clear refusal when
// nothing would be left to train on.
import { describe, expect, it } from 'vitest';
import { heldOutCount, splitHeldOut } from './split.ts';

const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ line: i + 1, text: `row ${i + 1}` }));

describe('splitHeldOut', () => {
  it('holds out ceil(fraction * rows) rows, or a count; the two sides partition the rows in file order', () => {
    expect(heldOutCount(0.1, 25)).toBe(3);
    expect(heldOutCount(0.2, 10)).toBe(2);
    expect(heldOutCount(4, 10)).toBe(4);
    const s = splitHeldOut(rows(25), 0.1, 42, 'a.jsonl');
    expect(s.eval).toHaveLength(3);
    expect(s.train).toHaveLength(22);
    expect([...s.train, ...s.eval].map((r) => r.line).sort((a, b) => a - b)).toEqual(rows(25).map((r) => r.line));
    expect(s.eval.map((r) => r.line)).toEqual(s.evalLines);
    for (const side of [s.train, s.eval]) expect(side.map((r) => r.line)).toEqual([...side.map((r) => r.line)].sort((a, b) => a - b));
  });

  it('is the same for the same seed and differs for another (recorded lines repeat the split)', () => {
    const a = splitHeldOut(rows(40), 0.25, 42, 'a.jsonl').evalLines;
    expect(splitHeldOut(rows(40), 0.25, 42, 'a.jsonl').evalLines).toEqual(a);
    expect(splitHeldOut(rows(40), 0.25, 7, 'a.jsonl').evalLines).not.toEqual(a);
    // Not simply the file's last rows.
    expect(a).not.toEqual([31, 32, 33, 34, 35, 36, 37, 38, 39, 40]);
  });

  it('keeps every example of a line on one side (a pair unpaired for KTO is two examples of one line)', () => {
    const unpaired = rows(10).flatMap((r) => [
      { ...r, label: true },
      { ...r, label: false },
    ]);
    const s = splitHeldOut(unpaired, 0.3, 1, 'pairs.jsonl');
    expect(s.evalLines).toHaveLength(3);
    expect(s.eval).toHaveLength(6);
    for (const line of s.evalLines) expect(s.train.some((e) => e.line === line)).toBe(false);
  });

  it('refuses a val_size that leaves nothing to train on, naming the file', () => {
    expect(() => splitHeldOut(rows(3), 3, 42, 'tiny.jsonl')).toThrow(
      'tiny.jsonl: val_size 3 holds out 3 of its 3 usable rows, leaving none to train on: use a smaller val_size or a separate eval file.',
    );
    expect(() => splitHeldOut(rows(1), 0.5, 42, 'one.jsonl')).toThrow(/holds out 1 of its 1 usable rows/);
  });
});
