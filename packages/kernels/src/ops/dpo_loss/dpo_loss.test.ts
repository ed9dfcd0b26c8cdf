import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../runtime/gpu.ts';
import { Tensor } from '../../runtime/tensor.ts';
import { numericGrad } from '../../testing/gradcheck.ts';
import { uniform } from '../../testing/random.ts';
import { dpoLossRef, dpoPairsRef, dpoSumsRef } from './dpo_loss.ref.ts';
import { type DpoLossType, type DpoOptions, type DpoTensors, dpoLoss, type PairLossType, wholeRowSums } from './dpo_loss.ts';

const opts = (lossType: PairLossType, beta: number, labelSmoothing = 0, pairsTotal = 1): DpoOptions => ({
  beta,
  lossType,
  labelSmoothing,
  pairsTotal,
});

// One pair, T = 5. Chosen: prompt token, 2 completion tokens summing to -10, 2 padding (NaN: never read).
// Rejected: prompt token, 4 completion tokens summing to -14. Reference sums -11 and -12.
const ONE_PAIR = {
  logprobs: [-7, -4, -6, Number.NaN, Number.NaN, -9, -3, -4, -5, -2],
  mask: [0, 1, 1, 0, 0, 0, 1, 1, 1, 1],
  refLogps: [-11, -12],
};
const onePair = (o: DpoOptions) => dpoLossRef(ONE_PAIR.logprobs, ONE_PAIR.mask, ONE_PAIR.refLogps, 5, o);
/** [chosen, rejected] weight per completion token, checking the prompt and padding get (+-) 0. */
function tokenWeights(weights: Float64Array): [number, number] {
  for (const i of [0, 3, 4, 5]) expect(Math.abs(weights[i])).toBe(0);
  expect(weights[2]).toBe(weights[1]);
  for (const i of [7, 8, 9]) expect(weights[i]).toBe(weights[6]);
  return [weights[1], weights[6]];
}

/** P pairs of T tokens: log-probs in [-3, 0), each row's completion after a prompt and before padding. */
function batch(P: number, T: number, seed: number): { logprobs: Float32Array; mask: Float32Array } {
  const logprobs = uniform(2 * P * T, seed, 1.5).map((x) => x - 1.5);
  const mask = new Float32Array(2 * P * T);
  for (let s = 0; s < 2 * P; s++) for (let t = 1 + (s % 3); t < T - (s % 2); t++) mask[s * T + t] = 1;
  return { logprobs, mask };
}

describe('dpoLossRef', () => {
  it('is ln 2 per pair when the policy is the reference (sigmoid, no smoothing), with rewards 0', () => {
    const { logprobs, mask } = batch(3, 7, 1);
    const refLogps = dpoSumsRef(logprobs, mask, 7).seqLogps;
    const r = dpoLossRef(logprobs, mask, refLogps, 7, opts('sigmoid', 0.1, 0, 4));
    for (const l of r.losses) expect(l).toBeCloseTo(Math.LN2, 14);
    expect(r.loss).toBeCloseTo((3 * Math.LN2) / 4, 14);
    expect(Array.from(r.chosenRewards)).toEqual([0, 0, 0]);
    // dloss/dz = -beta/2: chosen tokens get weight beta/2/pairsTotal, rejected ones the opposite.
    expect(Array.from(r.tokenWeights)).toEqual([0.0125, 0.0125, 0.0125, -0.0125, -0.0125, -0.0125]);
  });

  it('matches hand-computed values for one pair, each loss type', () => {
    // z = (pc - rc) - (pr - rr) = (-10 + 11) - (-14 + 12) = 3; beta z = 0.3
    let r = onePair(opts('sigmoid', 0.1));
    expect(r.losses[0]).toBeCloseTo(0.5543552444685271, 14); // log(1 + exp(-0.3))
    expect(r.chosenRewards[0]).toBeCloseTo(0.1, 14);
    expect(r.rejectedRewards[0]).toBeCloseTo(-0.2, 14);
    let [wc, wr] = tokenWeights(r.weights);
    expect(wc).toBeCloseTo(0.0425557483188341, 14); // beta * sigmoid(-0.3)
    expect(wr).toBeCloseTo(-0.0425557483188341, 14);

    r = onePair(opts('sigmoid', 0.1, 0.1));
    expect(r.losses[0]).toBeCloseTo(0.5843552444685272, 14); // + ls * beta z
    [wc, wr] = tokenWeights(r.weights);
    expect(wc).toBeCloseTo(0.03255574831883411, 14); // beta * ((1 - ls) sigmoid(-0.3) - ls sigmoid(0.3))

    r = onePair(opts('hinge', 0.1, 0, 4));
    expect(r.losses[0]).toBeCloseTo(0.7, 14);
    expect(r.chosenRewards[0]).toBeCloseTo(0.1, 14);
    [wc, wr] = tokenWeights(r.weights);
    expect([wc, wr]).toEqual([0.1 / 4, -0.1 / 4]);

    // ipo averages over completion tokens in its loss: (-10 + 11)/2 - (-14 + 12)/4 = 1; loss = (1 - 1/0.2)^2. Its
    // rewards are of the sums, as TRL f2cd577 logs them (beta * chosen_logratios): 0.1 * 1 and 0.1 * -2.
    r = onePair(opts('ipo', 0.1));
    expect(r.losses[0]).toBeCloseTo(16, 13);
    expect(r.chosenRewards[0]).toBeCloseTo(0.1, 14);
    expect(r.rejectedRewards[0]).toBeCloseTo(-0.2, 14);
    [wc, wr] = tokenWeights(r.weights);
    expect(wc).toBeCloseTo(8 / 2, 13); // dloss/dz = 2 (1 - 5) = -8, over 2 chosen tokens
    expect(wr).toBeCloseTo(-8 / 4, 13);
  });

  it('simpo: hand-computed values for one pair, against no reference, with its margin and the NLL term', () => {
    // Averages a_c = -10 / 2 = -5, a_r = -14 / 4 = -3.5; z = a_c - a_r - gamma / beta = -1.5 - 0.5 = -2; beta z = -0.2.
    const o = { ...opts('simpo', 0.1, 0, 2), gammaOverBeta: 0.5, chosenWeight: 0.25 };
    const r = onePair(o);
    expect(r.losses[0]).toBeCloseTo(0.7981388693815918, 14); // log(1 + exp(0.2))
    expect(r.chosenRewards[0]).toBeCloseTo(-0.5, 14); // beta a_c: the reference is not read
    expect(r.rejectedRewards[0]).toBeCloseTo(-0.35, 14);
    const [wc, wr] = tokenWeights(r.weights);
    // dloss/dz = -beta sigmoid(0.2) = -0.05498339973124778, over 2 pairs and each row's tokens; chosen + 0.25.
    expect(wc).toBeCloseTo(0.05498339973124778 / 2 / 2 + 0.25, 14);
    expect(wr).toBeCloseTo(-0.05498339973124778 / 2 / 4, 14);
    expect(r.loss).toBeCloseTo(0.7981388693815918 / 2 + 0.25 * 10, 13);
    // Any reference gives the same.
    expect(dpoLossRef(ONE_PAIR.logprobs, ONE_PAIR.mask, [5, 7], 5, o).weights).toEqual(r.weights);
  });

  it('orpo: hand-computed values for one pair, against no reference, with the NLL over whole chosen rows', () => {
    // Averages a_c = -5, a_r = -3.5; log odds = (a_c - a_r) - (log(1 - e^a_c) - log(1 - e^a_r)). Padding log-probs
    // are 0, as crossEntropyForward writes ignored targets': the whole rows sum to -17 and -23.
    const logprobs = ONE_PAIR.logprobs.map((x) => (Number.isNaN(x) ? 0 : x));
    const o = { ...opts('orpo', 0.1, 0, 2), chosenWeight: 0.25 };
    const r = dpoLossRef(logprobs, ONE_PAIR.mask, ONE_PAIR.refLogps, 5, o);
    expect(r.losses[0]).toBeCloseTo(0.17209973045810542, 14); // beta log(1 + exp(-log odds)), log odds -1.5239...
    expect(r.chosenRewards[0]).toBeCloseTo(-0.5, 14);
    expect(r.rejectedRewards[0]).toBeCloseTo(-0.35, 14);
    expect(Array.from(r.rowLogps)).toEqual([-17, -23]);
    // beta sigmoid(-log odds) = 0.0821..., times d(log odds)/d(a) = -1 / expm1(a), over 2 pairs and each row's tokens.
    const [wc, wr] = [0.27066706223387516, -0.01058349828770143];
    const want = [0.25, wc, wc, 0.25, 0.25, 0, wr, wr, wr, wr];
    for (let i = 0; i < want.length; i++) expect(r.weights[i]).toBeCloseTo(want[i], 14);
    expect(r.loss).toBeCloseTo(0.17209973045810542 / 2 + 0.25 * 17, 13);
    expect(dpoLossRef(logprobs, ONE_PAIR.mask, [5, 7], 5, o).weights).toEqual(r.weights);
  });

  const CASES: [PairLossType, number][] = [
    ['sigmoid', 0],
    ['sigmoid', 0.1],
    ['ipo', 0],
    ['ipo', 0.1], // ignored, as TRL does
    ['hinge', 0],
    ['hinge', 0.1],
    ['simpo', 0],
    ['simpo', 0.1],
    ['orpo', 0],
  ];
  it.each(CASES)('weights are -d(mean loss)/d(logprob) by finite differences: %s, label smoothing %s', (lossType, ls) => {
    const [P, T] = [3, 6];
    const { logprobs, mask } = batch(P, T, 2);
    const sums = dpoSumsRef(logprobs, mask, T).seqLogps;
    // Policy - reference ratios giving z = -3, 0.7, 4: with beta 0.5 the hinge is active on two
    // pairs and flat on the third, away from its kink.
    const chosenRatio = [-1, 0.5, 2];
    const rejectedRatio = [2, -0.2, -2];
    const refLogps = Float64Array.from(sums, (v, s) => v - (s < P ? chosenRatio[s] : rejectedRatio[s - P]));
    // simpo's margin and NLL term and orpo's NLL term, which the other types leave at 0.
    const extra = { simpo: { gammaOverBeta: 0.3, chosenWeight: 0.2 }, orpo: { chosenWeight: 0.2 } }[lossType as string];
    const o = { ...opts(lossType, 0.5, ls, 5), ...extra };
    const r = dpoLossRef(logprobs, mask, refLogps, T, o);
    const numeric = numericGrad((x) => dpoLossRef(x, mask, refLogps, T, o).loss, logprobs);
    for (let i = 0; i < numeric.length; i++) expect(-r.weights[i]).toBeCloseTo(numeric[i], 8);
    if (lossType === 'hinge') expect(Array.from(r.losses, (l) => l > 0)).toEqual([true, true, false]);
  });

  it("orpo: weights are -d(mean loss)/d(logprob) on both sides of log1mexp's branch at -ln 2", () => {
    const [P, T] = [3, 6];
    const { logprobs, mask } = batch(P, T, 3);
    const o = { ...opts('orpo', 0.3, 0, 4), chosenWeight: 0.1 };
    // Averages near -1.5, and near -0.3 (where log(1 - e^x) takes expm1's branch).
    for (const scale of [1, 0.2]) {
      const x = logprobs.map((v) => v * scale);
      const r = dpoLossRef(x, mask, [0, 0, 0, 0, 0, 0], T, o);
      const averages = Array.from(r.seqLogps, (v, s) => v / r.counts[s]);
      expect(averages.every((a) => (scale === 1 ? a < -Math.LN2 : a > -Math.LN2))).toBe(true);
      const numeric = numericGrad((y) => dpoLossRef(y, mask, [0, 0, 0, 0, 0, 0], T, o).loss, x);
      for (let i = 0; i < numeric.length; i++) expect(-r.weights[i]).toBeCloseTo(numeric[i], 8);
    }
  });

  it('stays finite and exact at extreme margins (|beta z| = 1e4)', () => {
    // Pair 0: z = 100 - (-100) = 200; pair 1: z = -100 - 100 = -200. beta = 50.
    const seq = [-4, -6, -6, -4];
    const ref = [-104, 94, 94, -104];
    const s0 = dpoPairsRef(seq, [8, 8, 8, 8], ref, opts('sigmoid', 50, 0, 2));
    expect(Array.from(s0.losses)).toEqual([0, 1e4]);
    expect(Array.from(s0.tokenWeights, Math.abs)).toEqual([0, 25, 0, 25]);
    expect(s0.tokenWeights[3]).toBe(-25);
    const s1 = dpoPairsRef(seq, [8, 8, 8, 8], ref, opts('sigmoid', 50, 0.1, 2));
    expect(s1.losses[0]).toBeCloseTo(1000, 10);
    expect(s1.losses[1]).toBeCloseTo(9000, 10);
    expect(s1.tokenWeights[0]).toBeCloseTo(-2.5, 12); // ls pushes back: dloss/dz = beta * ls
    expect(s1.tokenWeights[1]).toBeCloseTo(22.5, 12);
    expect(Array.from(dpoPairsRef(seq, [8, 8, 8, 8], ref, opts('hinge', 50)).losses)).toEqual([0, 10001]);
    expect(Array.from(s0.chosenRewards)).toEqual([5000, -5000]);
  });
});

describe('dpoLoss checks', () => {
  const gpu = {} as Gpu; // every check throws before the GPU is touched
  const shared = {} as GPUBuffer;
  const fake = (shape: number[], label: string, buffer = {} as GPUBuffer) => new Tensor(buffer, shape, 'f32', label);
  const ok = (): DpoTensors => ({
    logprobs: fake([4, 9], 'lp'),
    mask: fake([4, 9], 'mask'),
    refLogps: fake([4], 'ref'),
    seqLogps: fake([4], 'seq'),
    counts: fake([4], 'counts'),
    losses: fake([2], 'losses'),
    chosenRewards: fake([2], 'rc'),
    rejectedRewards: fake([2], 'rr'),
    weights: fake([4, 9], 'w'),
  });
  const o = opts('sigmoid', 0.1, 0, 2);

  it('names the op and the shapes', async () => {
    await expect(dpoLoss(gpu, { ...ok(), logprobs: fake([3, 9], 'lp') }, o)).rejects.toThrow(
      'dpo_loss: logprobs must be [2P, T] with P, T >= 1; got logprobs lp[3, 9]',
    );
    await expect(dpoLoss(gpu, { ...ok(), mask: fake([4, 8], 'mask') }, o)).rejects.toThrow(
      'dpo_loss: mask must be [4, 9] for logprobs lp[4, 9]; got mask mask[4, 8]',
    );
    await expect(dpoLoss(gpu, { ...ok(), losses: fake([4], 'losses') }, o)).rejects.toThrow(
      'dpo_loss: losses must be [2] for logprobs lp[4, 9]; got losses losses[4]',
    );
    await expect(dpoLoss(gpu, { ...ok(), refLogps: new Tensor({} as GPUBuffer, [4], 'u32', 'ref') }, o)).rejects.toThrow(
      'dpo_loss: refLogps must be f32, got u32',
    );
  });

  it('rejects outputs sharing a buffer with inputs, and overlapping outputs', async () => {
    await expect(dpoLoss(gpu, { ...ok(), mask: fake([4, 9], 'm', shared), weights: fake([4, 9], 'w', shared) }, o)).rejects.toThrow(
      'dpo_loss: weights must not share a buffer with mask',
    );
    await expect(dpoLoss(gpu, { ...ok(), losses: fake([2], 'l', shared), chosenRewards: fake([2], 'c', shared) }, o)).rejects.toThrow(
      'dpo_loss: losses must not overlap chosenRewards; got losses l[2], chosenRewards c[2]',
    );
  });

  it("wholeRowSums names its shapes and refuses an output sharing the log-probs' buffer", async () => {
    await expect(wholeRowSums(gpu, 'kto kl sums', fake([4, 9], 'lp'), fake([3], 'out'))).rejects.toThrow(
      'kto kl sums: out must be [4] for logprobs lp[4, 9]; got out out[3]',
    );
    await expect(wholeRowSums(gpu, 'sums', fake([4], 'lp'), fake([4], 'out'))).rejects.toThrow(
      'sums: logprobs must be [S, T] with S, T >= 1; got logprobs lp[4]',
    );
    await expect(wholeRowSums(gpu, 'sums', fake([4, 9], 'lp', shared), fake([4], 'out', shared))).rejects.toThrow(
      'sums: out must not share a buffer with logprobs',
    );
  });

  it('rejects bad options', async () => {
    await expect(dpoLoss(gpu, ok(), { ...o, beta: 0 })).rejects.toThrow('dpo_loss: beta must be a positive number, got 0');
    await expect(dpoLoss(gpu, ok(), { ...o, lossType: 'kto' as DpoLossType })).rejects.toThrow(
      'dpo_loss: lossType must be sigmoid, ipo, hinge, simpo or orpo; got kto',
    );
    await expect(dpoLoss(gpu, ok(), { ...o, lossType: 'orpo' })).rejects.toThrow(
      "dpo_loss: orpo needs rowLogps, a [2P] output for the whole rows' log-prob sums",
    );
    await expect(dpoLoss(gpu, { ...ok(), rowLogps: fake([2], 'rows') }, { ...o, lossType: 'orpo' })).rejects.toThrow(
      'dpo_loss: rowLogps must be [4] for logprobs lp[4, 9]; got rowLogps rows[2]',
    );
    await expect(dpoLoss(gpu, ok(), { ...o, lossType: 'simpo', gammaOverBeta: Number.NaN })).rejects.toThrow(
      'dpo_loss: gammaOverBeta must be finite, got NaN',
    );
    await expect(dpoLoss(gpu, ok(), { ...o, lossType: 'simpo', chosenWeight: -1 })).rejects.toThrow(
      'dpo_loss: chosenWeight must be a finite number >= 0, got -1',
    );
    await expect(dpoLoss(gpu, ok(), { ...o, labelSmoothing: 0.6 })).rejects.toThrow(
      'dpo_loss: labelSmoothing must be in [0, 0.5], got 0.6',
    );
    await expect(dpoLoss(gpu, ok(), { ...o, pairsTotal: 1 })).rejects.toThrow(
      'dpo_loss: pairsTotal must be an integer >= the 2 pairs of this micro-batch, got 1',
    );
  });
});
