// ORPO's and SimPO's host math: the length-averaged log-probs do not see right padding, and ORPO's log1mexp holds on
// both sides of its branch. (The pair terms' derivatives are the dpoLoss kernel's, checked by its float64 reference.)
import { describe, expect, it } from 'vitest';
import { sftBatch } from '../data/batch.ts';
import { log1mexp } from './orpo.ts';
import { completionAverages, completionFrom, pairedBatch } from './paired.ts';

describe('averaged completion log-probs', () => {
  const pairs = [
    { line: 1, chosen: { ids: [1, 2, 3, 4, 5], completionStart: 2 }, rejected: { ids: [1, 2, 6, 7, 8, 9, 10, 11], completionStart: 2 } },
  ];
  it('are the same however far the rows are right padded (padding log-probs never read)', () => {
    for (const full of [false, true]) {
      const { batch, seqs } = pairedBatch(pairs, 0, full);
      const logprobs = Float32Array.from({ length: batch.B * batch.T }, (_, i) => -0.1 * (i % 7) - 0.05);
      const a = completionAverages(logprobs, batch, seqs);
      // The same rows laid out 24 positions wider, NaN log-probs under the extra padding.
      const T = batch.T + 24;
      const wide = { ...batch, T, targets: new Uint32Array(batch.B * T).fill(batch.targets[batch.T - 1]) };
      const wideLogprobs = new Float32Array(batch.B * T).fill(Number.NaN);
      for (let s = 0; s < batch.B; s++) {
        wide.targets.set(batch.targets.subarray(s * batch.T, (s + 1) * batch.T), s * T);
        wideLogprobs.set(logprobs.subarray(s * batch.T, (s + 1) * batch.T), s * T);
      }
      const b = completionAverages(wideLogprobs, wide, seqs);
      expect(Array.from(b.averages)).toEqual(Array.from(a.averages));
      expect(Array.from(a.counts)).toEqual([3, 6]);
    }
  });
  it('start at the first completion target of a row (position completionStart - 1)', () => {
    const seqs = [{ ids: [5, 6, 7], completionStart: 0 }];
    expect(completionFrom(seqs)(0)).toBe(0);
    expect(sftBatch([{ line: 1, seq: seqs[0] }], 0).tokens).toBe(2);
  });
});

describe('pair terms', () => {
  it("ORPO's log1mexp is log(1 - e^x) on both sides of its branch", () => {
    for (const x of [-5, -0.7, -0.69, -0.01]) expect(log1mexp(x)).toBeCloseTo(Math.log(1 - Math.exp(x)), 12);
  });
});
