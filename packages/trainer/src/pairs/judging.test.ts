import { describe, expect, it } from 'vitest';
import type { CandidateSet } from './candidates.ts';
import { PairsError } from './errors.ts';
import { comparisons, type JudgingSession, judge, judgedPairs, nextComparison, progress, undo } from './judging.ts';

const set = (id: string, candidates: string[]): CandidateSet => ({
  id,
  prompt: `${id}?`,
  candidates,
  model: 'demo',
  adapter: 'sft',
  sampling: { temperature: 0.8, top_p: 1, max_new_tokens: 16, seed: 1 },
  seeds: candidates.map((_, i) => 100 + i),
});
const start = (sets: CandidateSet[], seed = 3): JudgingSession => ({ sets, seed, decisions: [] });

describe('judging', () => {
  it('compares every two candidates of a prompt, sides drawn from the seed', () => {
    const s = start([set('a', ['a0', 'a1', 'a2']), set('b', ['b0', 'b1'])]);
    const cs = comparisons(s);
    expect(cs.map((c) => c.key)).toEqual(['a:0-1', 'a:0-2', 'a:1-2', 'b:0-1']);
    for (const c of cs) expect([c.left, c.right].sort()).toEqual(c.key.split(':')[1].split('-').map(Number));
    const many = comparisons(start(Array.from({ length: 30 }, (_, i) => set(`p${i}`, ['x', 'y']))));
    expect(new Set(many.map((c) => c.left))).toEqual(new Set([0, 1]));
    expect(comparisons(s)).toEqual(cs);
    // Identical answers make no pair: never asked about.
    expect(comparisons(start([set('a', ['same', 'same', 'other'])])).map((c) => c.key)).toEqual(['a:0-2', 'a:1-2']);
  });

  it('keeps judgements in order; undo takes the last back; pairs keep edits and drop ties, both-bad and skips', () => {
    let s = start([set('a', ['a0', 'a1']), set('b', ['b0', 'b1']), set('c', ['c0', 'c1']), set('d', ['d0', 'd1'])]);
    const first = nextComparison(s);
    s = judge(s, 'left', 'a better, edited');
    s = judge(s, 'tie');
    s = judge(s, 'skip');
    expect(progress(s)).toEqual({ judged: 3, total: 4 });
    s = undo(s);
    expect(progress(s)).toEqual({ judged: 2, total: 4 });
    expect(nextComparison(s)?.key).toBe('c:0-1');
    s = judge(s, 'right');
    s = judge(s, 'both-bad');
    expect(nextComparison(s)).toBeNull();
    const r = judgedPairs(s);
    expect({ ties: r.ties, bothBad: r.bothBad, skipped: r.skipped }).toEqual({ ties: 1, bothBad: 1, skipped: 0 });
    const c = comparisons(s)[2];
    expect(r.pairs).toEqual([
      expect.objectContaining({
        prompt: 'a?',
        chosen: 'a better, edited',
        rejected: `a${first?.right}`,
        provenance: expect.objectContaining({
          id: 'a:0-1',
          source: 'human',
          edited: true,
          original_chosen: `a${first?.left}`,
          judgement: 'left',
        }),
      }),
      expect.objectContaining({
        prompt: 'c?',
        chosen: `c${c.right}`,
        rejected: `c${c.left}`,
        provenance: expect.objectContaining({ edited: false }),
      }),
    ]);
  });

  it('refuses a judgement past the end, an edit of a tie, and an empty edit', () => {
    let s = start([set('a', ['a0', 'a1'])]);
    expect(() => judge(s, 'tie', 'x')).toThrow(
      new PairsError('only the better answer can be edited: judge left or right better to keep an edit'),
    );
    expect(() => judge(s, 'left', '  ')).toThrow(
      new PairsError('the edited answer is empty: write the better answer, or judge without editing'),
    );
    expect(() => judge(s, 'up' as never)).toThrow(new PairsError('unknown judgement "up": use left, right, tie, both-bad, skip'));
    s = judge(s, 'left');
    expect(() => judge(s, 'left')).toThrow(new PairsError('every comparison is judged already: undo one to change it, or save the pairs'));
  });
});
