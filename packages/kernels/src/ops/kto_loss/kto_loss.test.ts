import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// Types only: the goldens' JSON shape, declared beside the fixtures (no trainer code runs here).
import type { KtoGolden } from '../../../../trainer/test/objective-goldens.ts';
import type { Gpu } from '../../runtime/gpu.ts';
import { Tensor } from '../../runtime/tensor.ts';
import { numericGrad } from '../../testing/gradcheck.ts';
import { uniform } from '../../testing/random.ts';
import { ktoLossRef } from './kto_loss.ref.ts';
import { type KtoLossType, type KtoOptions, type KtoTensors, ktoLoss } from './kto_loss.ts';

const opts = (lossType: KtoLossType, beta: number, rowsTotal: number): KtoOptions => ({ lossType, beta, rowsTotal });

// Two rows of T = 3 (0 where a target is ignored): row 0 desirable (weight 1), sum -3 against the reference's -2.5;
// row 1 undesirable (weight 1.5), sum -5 against -4. KL rows: the policy's sums -6, -8, the reference's -7, -8.4.
const TWO = {
  logprobs: [-1, -2, 0, -3, -1, -1],
  refLogps: [-2.5, -4],
  labelWeights: [1, -1.5],
  klLogps: [-6, -8],
  refKlLogps: [-7, -8.4],
};
const two = (o: KtoOptions) => ktoLossRef(TWO.logprobs, 3, TWO.refLogps, TWO.labelWeights, TWO.klLogps, TWO.refKlLogps, o);

describe('ktoLossRef', () => {
  it('matches hand-computed values (kl = mean(1, 0.4) = 0.7)', () => {
    const r = two(opts('kto', 0.5, 4));
    expect(r.kl).toBeCloseTo(0.7, 15);
    expect(Array.from(r.seqLogps)).toEqual([-3, -5]);
    expect(r.losses[0]).toBeCloseTo(0.6456563062257954, 14); // 1 - sigmoid(0.5 (-0.5 - 0.7))
    expect(r.losses[1]).toBeCloseTo(0.44914928628904066, 14); // 1.5 (1 - sigmoid(0.5 (0.7 + 1)))
    expect(r.rowWeights[0]).toBeCloseTo(0.028598030057082162, 14);
    expect(r.rowWeights[1]).toBeCloseTo(-0.03933240400496719, 14);
    expect(r.loss).toBeCloseTo((0.6456563062257954 + 0.44914928628904066) / 4, 14);
  });

  it('apo_zero_unpaired: no KL baseline; undesirable rows weigh sigmoid(beta r)', () => {
    const r = two(opts('apo_zero_unpaired', 0.5, 4));
    expect(r.kl).toBe(0);
    expect(r.losses[0]).toBeCloseTo(0.5621765008857981, 14);
    expect(r.losses[1]).toBeCloseTo(0.566311003197218, 14);
  });

  it('clamps a negative KL estimate to 0', () => {
    const r = ktoLossRef(TWO.logprobs, 3, TWO.refLogps, TWO.labelWeights, [-9, -9], [-7, -8.4], opts('kto', 0.5, 2));
    expect(r.kl).toBe(0);
  });

  it.each(['kto', 'apo_zero_unpaired'] as const)('weights are -d(mean loss)/d(logprob), the KL detached: %s', (lossType) => {
    const [n, T] = [5, 6];
    const logprobs = uniform(n * T, 4, 1.5).map((x) => x - 1.5);
    const refLogps = uniform(n, 5, 3).map((x) => x - 9);
    const labelWeights = [1, -1.33, 0.7, -0.5, 1];
    const [klLogps, refKlLogps] = [uniform(n, 6, 3).map((x) => x - 9), uniform(n, 7, 3).map((x) => x - 10)];
    const o = opts(lossType, 0.4, 8);
    const r = ktoLossRef(logprobs, T, refLogps, labelWeights, klLogps, refKlLogps, o);
    if (lossType === 'kto') expect(r.kl).toBeGreaterThan(0);
    const numeric = numericGrad((x) => ktoLossRef(x, T, refLogps, labelWeights, klLogps, refKlLogps, o).loss, logprobs);
    for (let i = 0; i < numeric.length; i++) expect(-r.weights[i]).toBeCloseTo(numeric[i], 8);
  });
});

// The trainer's float64 PyTorch goldens, written from TRL's KTOTrainer (packages/trainer/test/fixtures/
// make_objective_goldens.py): one micro-batch's rows, its loss (a mean over them) and d(loss)/d(each row's sum).
describe.each(['llama-gqa-bf16', 'qwen2-bias-f16'])("ktoLossRef against TRL's goldens (%s)", (fixture) => {
  const url = new URL(`../../../../trainer/test/fixtures/${fixture}/objectives.json`, import.meta.url);
  const goldens: Record<string, KtoGolden> = JSON.parse(readFileSync(url, 'utf8')).kto;
  it.each(Object.keys(goldens))('%s', (key) => {
    const c = goldens[key];
    const n = c.labels.length;
    const labelWeights = c.labels.map((l) => (l ? c.desirable_weight : -c.undesirable_weight));
    // Each row's sum as a row of one token.
    const r = ktoLossRef(c.policy_logps, 1, c.reference_logps, labelWeights, c.kl_policy_logps ?? [], c.kl_reference_logps ?? [], {
      beta: c.beta,
      lossType: c.loss_type,
      rowsTotal: n,
    });
    expect(r.kl).toBeCloseTo(c.metrics.kl, 13);
    expect(r.loss).toBeCloseTo(c.metrics.loss, 13);
    for (let i = 0; i < n; i++) expect(-r.rowWeights[i], `row ${i}`).toBeCloseTo(c.dloss_dseq_logps[i], 14);
  });
});

describe('ktoLoss checks', () => {
  const gpu = {} as Gpu; // every check throws before the GPU is touched
  const shared = {} as GPUBuffer;
  const fake = (shape: number[], label: string, buffer = {} as GPUBuffer) => new Tensor(buffer, shape, 'f32', label);
  const ok = (): KtoTensors => ({
    logprobs: fake([3, 9], 'lp'),
    refLogps: fake([3], 'ref'),
    labelWeights: fake([3], 'lw'),
    klLogps: fake([3], 'kl lp'),
    refKlLogps: fake([3], 'ref kl'),
    seqLogps: fake([3], 'seq'),
    losses: fake([3], 'losses'),
    kl: fake([1], 'kl'),
    weights: fake([3, 9], 'w'),
  });
  const o = opts('kto', 0.1, 3);

  it('names the op and the shapes', async () => {
    await expect(ktoLoss(gpu, { ...ok(), logprobs: fake([9], 'lp') }, o)).rejects.toThrow(
      'kto_loss: logprobs must be [n, T] with n, T >= 1; got logprobs lp[9]',
    );
    await expect(ktoLoss(gpu, { ...ok(), refKlLogps: fake([2], 'ref kl') }, o)).rejects.toThrow(
      'kto_loss: refKlLogps must be [3] for logprobs lp[3, 9]; got refKlLogps ref kl[2]',
    );
    await expect(ktoLoss(gpu, { ...ok(), kl: fake([3], 'kl') }, o)).rejects.toThrow(
      'kto_loss: kl must be [1] for logprobs lp[3, 9]; got kl kl[3]',
    );
  });

  it('rejects outputs sharing a buffer with inputs, and overlapping outputs', async () => {
    await expect(ktoLoss(gpu, { ...ok(), refLogps: fake([3], 'r', shared), losses: fake([3], 'l', shared) }, o)).rejects.toThrow(
      'kto_loss: losses must not share a buffer with refLogps',
    );
    await expect(ktoLoss(gpu, { ...ok(), seqLogps: fake([3], 's', shared), losses: fake([3], 'l', shared) }, o)).rejects.toThrow(
      'kto_loss: seqLogps must not overlap losses; got seqLogps s[3], losses l[3]',
    );
  });

  it('rejects bad options', async () => {
    await expect(ktoLoss(gpu, ok(), { ...o, beta: -1 })).rejects.toThrow('kto_loss: beta must be a positive number, got -1');
    await expect(ktoLoss(gpu, ok(), { ...o, lossType: 'bco' as KtoLossType })).rejects.toThrow(
      'kto_loss: lossType must be kto or apo_zero_unpaired; got bco',
    );
    await expect(ktoLoss(gpu, ok(), { ...o, rowsTotal: 2 })).rejects.toThrow(
      'kto_loss: rowsTotal must be an integer >= the 3 rows of this micro-batch, got 2',
    );
  });
});
