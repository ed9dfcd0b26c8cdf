// KTO's host math against the float64 PyTorch goldens written from TRL's KTOTrainer (test/fixtures/
// make_objective_goldens.py): from the goldens' sequence log-probs, every metric TRL logs (the gradient is the ktoLoss
// kernel's, checked by its float64 reference and by objectives.gpu.test.ts); and how rows are paired for the KL
// estimate and unpaired from DPO data.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LLAMA_QWEN2_FIXTURES } from '../../test/fixtures.ts';
import type { ObjectiveGoldens } from '../../test/objective-goldens.ts';
import type { DpoExample } from '../data/tokenize.ts';
import { klSequences, ktoBatchMetrics, ktoKl, ktoRows, unpairDpo } from './kto.ts';
import { ktoBalance } from './kto-balance.ts';

const goldens = (name: string): ObjectiveGoldens =>
  JSON.parse(readFileSync(new URL(`../../test/fixtures/${name}/objectives.json`, import.meta.url), 'utf8'));

describe.each(LLAMA_QWEN2_FIXTURES)('KTO against PyTorch (%s)', (name) => {
  const g = goldens(name);
  it.each(Object.keys(g.kto))('%s', (key) => {
    const c = g.kto[key];
    const kl = c.kl_policy_logps && c.kl_reference_logps ? ktoKl(c.kl_policy_logps, c.kl_reference_logps) : 0;
    expect(kl).toBeCloseTo(c.metrics.kl, 12);
    const o = { beta: c.beta, lossType: c.loss_type, desirableWeight: c.desirable_weight, undesirableWeight: c.undesirable_weight };
    const rows = ktoRows(c.policy_logps, c.reference_logps, c.labels, kl, o);
    const m = ktoBatchMetrics(c.policy_logps, rows, c.labels, kl);
    expect(Object.keys(m).sort()).toEqual(Object.keys(c.metrics).sort());
    for (const k of Object.keys(c.metrics)) expect(m[k], k).toBeCloseTo(c.metrics[k], 12);
  });
  it('has a case where the KL term is clamped and one where it is not', () => {
    const before = Object.values(g.kto).map((c) => c.kl_before_clamp);
    expect(before.some((x) => x !== 0)).toBe(true);
  });
});

describe('KTO pairing and unpairing', () => {
  it('pairs row i with row i-1 of its batch for the KL rows (the first with the last), cut to max_length', () => {
    const seqs = [
      { ids: [1, 2, 10, 11], completionStart: 2 },
      { ids: [3, 20], completionStart: 1 },
      { ids: [4, 5, 6, 30, 31, 32], completionStart: 3 },
    ];
    expect(klSequences(seqs, 100)).toEqual([
      { ids: [1, 2, 30, 31, 32], completionStart: 2 },
      { ids: [3, 10, 11], completionStart: 1 },
      { ids: [4, 5, 6, 20], completionStart: 3 },
    ]);
    expect(klSequences(seqs, 4)[0]).toEqual({ ids: [1, 2, 30, 31], completionStart: 2 });
  });
  it("takes the neighbour's whole completion where max_length cut it in its own row (TRL truncates the KL row as a whole)", () => {
    // max_length 5: row 0 (prompt of 3) kept 2 of its 4 completion tokens; row 1's prompt is 1 token, so its KL row
    // holds 4 of them, as TRL's collator cuts [8] + [40, 41, 42, 43] to 5.
    const seqs = [
      { ids: [1, 2, 3, 40, 41], completionStart: 3, fullCompletion: [40, 41, 42, 43] },
      { ids: [8, 9], completionStart: 1 },
    ];
    expect(klSequences(seqs, 5)).toEqual([
      { ids: [1, 2, 3, 9], completionStart: 3 },
      { ids: [8, 40, 41, 42, 43], completionStart: 1 },
    ]);
  });
  it('clamps the KL estimate at 0', () => {
    expect(ktoKl([-5, -6], [-4, -4])).toBe(0);
    expect(ktoKl([-3, -4], [-4, -4])).toBe(0.5);
  });
  it('unpairs DPO data as TRL does: per 1000 pairs, the chosen rows then the rejected rows', () => {
    const seq = (x: number) => ({ ids: [x], completionStart: 0 });
    const pairs: DpoExample[] = Array.from({ length: 1002 }, (_, i) => ({ line: i + 1, chosen: seq(i), rejected: seq(-i) }));
    const rows = unpairDpo(pairs);
    expect(rows).toHaveLength(2004);
    expect(rows[0]).toEqual({ line: 1, seq: seq(0), label: true });
    expect(rows[999].label).toBe(true);
    expect(rows[1000]).toEqual({ line: 1, seq: seq(-0), label: false });
    expect(rows[2000]).toEqual({ line: 1001, seq: seq(1000), label: true });
    expect(rows[2003]).toEqual({ line: 1002, seq: seq(-1001), label: false });
  });
});

describe('KTO desirable/undesirable balance', () => {
  const labels = (desirable: number, undesirable: number) => ({ desirable, undesirable });
  it('counts both labels and is quiet when they are equal or the weights make up for the difference', () => {
    expect(ktoBalance(labels(5, 5), 1, 1)).toEqual({ desirable: 5, undesirable: 5 });
    // 10 desirable, 30 undesirable: desirable_weight in [3, 3.99] is in range
    expect(ktoBalance(labels(10, 30), 3.5, 1).warning).toBeUndefined();
    // or undesirable_weight in [0.25, 0.33]
    expect(ktoBalance(labels(10, 30), 1, 0.3).warning).toBeUndefined();
  });
  it("warns with TRL's ranges otherwise", () => {
    expect(ktoBalance(labels(10, 30), 1, 1).warning).toBe(
      '10 desirable and 30 undesirable rows, and the weights do not make up for the difference: set EITHER ' +
        'desirable_weight in [3, 3.99] OR undesirable_weight in [0.25, 0.33] (not both), as TRL advises.',
    );
  });
  it('says plainly when every row has one label, where no weight can help', () => {
    expect(ktoBalance(labels(4, 0), 1, 1).warning).toBe(
      'all 4 rows are desirable (label true) and none undesirable: KTO then only raises these answers (against its KL ' +
        'baseline), with nothing to lower, and no weight changes that; add rows labelled false, or train SFT on these answers.',
    );
    expect(ktoBalance(labels(0, 3), 1, 1).warning).toBe(
      'all 3 rows are undesirable (label false) and none desirable: KTO then only lowers these answers, with nothing to ' +
        'raise, and no weight changes that; add rows labelled true.',
    );
    expect(ktoBalance(labels(0, 0), 1, 1).warning).toBeUndefined();
  });
});
