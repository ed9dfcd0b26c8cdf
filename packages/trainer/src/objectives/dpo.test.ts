// dpoMetrics, the evaluation's DPO loss and rewards from sequence log-probs, against the independent float64 PyTorch
// goldens of every fixture and loss type (test/fixtures/make_fixtures.py), and against a case worked by hand.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from '../../test/fixtures.ts';
import { dpoMetrics, type SequenceLogps } from './dpo.ts';

interface Golden {
  completion_token_counts: number[];
  seq_logps_base: number[];
  seq_logps_lora: number[];
  dpo: Record<string, { loss_type: 'sigmoid' | 'ipo' | 'hinge'; beta: number; label_smoothing: number; metrics: Record<string, number> }>;
}
const golden = (name: string): Golden =>
  JSON.parse(readFileSync(new URL(`../../test/fixtures/${name}/golden.json`, import.meta.url), 'utf8'));

/** The goldens' batch is [chosen_0, chosen_1, rejected_0, rejected_1] (pairs (0, 2) and (1, 3)); dpoMetrics reads
 *  pairs interleaved, [chosen_0, rejected_0, chosen_1, rejected_1]. */
function interleaved(sums: number[], counts: number[]): SequenceLogps {
  const order = [0, 2, 1, 3];
  return { sums: Float64Array.from(order, (i) => sums[i]), counts: Float64Array.from(order, (i) => counts[i]) };
}

describe.each(FIXTURES)('dpoMetrics against PyTorch (%s)', (name) => {
  const g = golden(name);
  const policy = interleaved(g.seq_logps_lora, g.completion_token_counts);
  const reference = interleaved(g.seq_logps_base, g.completion_token_counts);
  it.each(Object.keys(g.dpo))('%s', (variant) => {
    const d = g.dpo[variant];
    const got = dpoMetrics(policy, reference, { beta: d.beta, lossType: d.loss_type, labelSmoothing: d.label_smoothing });
    expect(Object.keys(got).sort()).toEqual(Object.keys(d.metrics).sort());
    // Both float64: the same formula summed in another order.
    for (const [k, want] of Object.entries(d.metrics))
      expect(Math.abs(got[k] - want), `${k}: ${got[k]} vs ${want}`).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(want)));
  });
  it('covers every loss type the goldens have', () => {
    expect(Object.keys(g.dpo).sort()).toEqual(['hinge', 'ipo', 'sigmoid', 'sigmoid_ls0.2']);
  });
});

describe('dpoMetrics by hand', () => {
  // One pair: policy chosen -1 and rejected -3 (2 and 4 tokens), reference -2 and -2; beta 0.5: z = (-1+2) - (-3+2) = 2.
  const policy = { sums: Float64Array.from([-1, -3]), counts: Float64Array.from([2, 4]) };
  const reference = { sums: Float64Array.from([-2, -2]), counts: Float64Array.from([2, 4]) };
  it('sigmoid, with and without label smoothing; rewards, accuracy and margins', () => {
    const m = dpoMetrics(policy, reference, { beta: 0.5, lossType: 'sigmoid', labelSmoothing: 0 });
    expect(m.loss).toBeCloseTo(Math.log1p(Math.exp(-1)), 15); // -log sigmoid(beta z)
    expect(m).toMatchObject({ 'rewards/chosen': 0.5, 'rewards/rejected': -0.5, 'rewards/accuracies': 1, 'rewards/margins': 1 });
    expect(m).toMatchObject({ 'logps/chosen': -1, 'logps/rejected': -3 });
    const ls = dpoMetrics(policy, reference, { beta: 0.5, lossType: 'sigmoid', labelSmoothing: 0.2 });
    expect(ls.loss).toBeCloseTo(0.8 * Math.log1p(Math.exp(-1)) + 0.2 * Math.log1p(Math.exp(1)), 15);
  });
  it('ipo averages log-probs over completion tokens in its loss only (rewards and logps are of the sums, as TRL logs them); hinge is relu(1 - beta z)', () => {
    // ipo: z = (-0.5+1) - (-0.75+0.5) = 0.75; (z - 1/(2 beta))^2 = (0.75 - 1)^2.
    const ipo = dpoMetrics(policy, reference, { beta: 0.5, lossType: 'ipo', labelSmoothing: 0 });
    expect(ipo.loss).toBeCloseTo(0.0625, 15);
    // TRL f2cd577 dpo_trainer.py: chosen_rewards = beta * chosen_logratios (sums): 0.5 * (-1 + 2), 0.5 * (-3 + 2).
    expect(ipo).toMatchObject({ 'rewards/chosen': 0.5, 'rewards/rejected': -0.5, 'logps/chosen': -1, 'logps/rejected': -3 });
    expect(dpoMetrics(policy, reference, { beta: 0.25, lossType: 'hinge', labelSmoothing: 0 }).loss).toBe(0.5);
    expect(dpoMetrics(policy, reference, { beta: 0.5, lossType: 'hinge', labelSmoothing: 0 }).loss).toBe(0);
  });
  it('a tie is not a win', () => {
    expect(dpoMetrics(reference, reference, { beta: 0.1, lossType: 'sigmoid', labelSmoothing: 0 })['rewards/accuracies']).toBe(0);
  });
});
