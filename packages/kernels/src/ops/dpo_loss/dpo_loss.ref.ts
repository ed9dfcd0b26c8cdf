// Float64 reference for dpo_loss_sums.wgsl and dpo_loss.wgsl, written from TRL's DPOTrainer; for simpo, its
// CPOTrainer (trl/experimental/cpo/cpo_trainer.py at huggingface/trl f2cd577: simpo_loss and the cpo_alpha NLL term);
// for orpo, its ORPOTrainer (trl/experimental/orpo/orpo_trainer.py there: odds_ratio_loss, and the chosen rows' NLL
// over prompt and completion).
// Sequences: S = 2P rows of T tokens; row p is pair p's chosen completion, row P + p its rejected one.
import type { DpoOptions } from './dpo_loss.ts';

export interface DpoSumsRef {
  /** [S]: sum_t logprobs[s, t] * mask[s, t]. */
  seqLogps: Float64Array;
  /** [S]: sum_t mask[s, t]. */
  counts: Float64Array;
  /** [S]: sum_t |logprobs[s, t] * mask[s, t]|, the scale the float32 sum's rounding grows with. */
  magnitude: Float64Array;
}

export interface DpoPairsRef {
  /** [P] per-pair losses, not normalised. */
  losses: Float64Array;
  /** [P] beta * (pc - rc) and beta * (pr - rr): of the sums for sigmoid, hinge and ipo (whose loss alone averages), of the averages for simpo and orpo (rc = rr = 0). */
  chosenRewards: Float64Array;
  rejectedRewards: Float64Array;
  /** [S] dLoss/dNLL of one unit of mask in each sequence, Loss = sum_p loss_p / pairsTotal. */
  tokenWeights: Float64Array;
  /** [S] orpo: dLoss/dNLL at every position of each row besides (chosenWeight on chosen rows); else 0. */
  rowWeights: Float64Array;
}

export interface DpoLossRef extends DpoSumsRef, DpoPairsRef {
  /** [S, T] dLoss/dNLL per token: tokenWeights[s] * mask[s, t] + rowWeights[s]. */
  weights: Float64Array;
  /** [S] orpo: sum_t logprobs[s, t] over every position of the row. */
  rowLogps: Float64Array;
  /**
   * sum_p loss_p / pairsTotal, + chosenWeight * the chosen rows' NLL (simpo: their completions; orpo: whole rows):
   * this micro-batch's share of the step's loss.
   */
  loss: number;
}

/** Masked tokens (mask 0) are not read, as in the kernel: their log-probs may be anything. */
export function dpoSumsRef(logprobs: ArrayLike<number>, mask: ArrayLike<number>, T: number): DpoSumsRef {
  const S = mask.length / T;
  const seqLogps = new Float64Array(S);
  const counts = new Float64Array(S);
  const magnitude = new Float64Array(S);
  for (let s = 0; s < S; s++) {
    for (let t = 0; t < T; t++) {
      const m = mask[s * T + t];
      if (m === 0) continue;
      seqLogps[s] += logprobs[s * T + t] * m;
      counts[s] += m;
      magnitude[s] += Math.abs(logprobs[s * T + t] * m);
    }
  }
  return { seqLogps, counts, magnitude };
}

const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
/** log(1 - e^x) for x <= 0, branching at -ln 2 as TRL's log1mexp. */
export const log1mexp = (x: number) => (x < -Math.LN2 ? Math.log1p(-Math.exp(x)) : Math.log(-Math.expm1(x)));

/** Pair losses, rewards and per-sequence weights from sequence sums; all arrays as in the kernel. */
export function dpoPairsRef(
  seqLogps: ArrayLike<number>,
  counts: ArrayLike<number>,
  refLogps: ArrayLike<number>,
  options: DpoOptions,
): DpoPairsRef {
  const { beta, lossType, labelSmoothing: ls, pairsTotal, gammaOverBeta = 0, chosenWeight = 0 } = options;
  const P = seqLogps.length / 2;
  const losses = new Float64Array(P);
  const chosenRewards = new Float64Array(P);
  const rejectedRewards = new Float64Array(P);
  const tokenWeights = new Float64Array(2 * P);
  const rowWeights = new Float64Array(2 * P);
  const orpo = lossType === 'orpo';
  for (let c = 0; c < P; c++) {
    const r = c + P;
    // TRL averages every log-prob over its completion tokens for ipo, policy and reference alike, and simpo's and
    // orpo's policy (they have no reference).
    const averaged = lossType === 'ipo' || lossType === 'simpo' || orpo;
    const nc = averaged ? Math.max(counts[c], 1) : 1;
    const nr = averaged ? Math.max(counts[r], 1) : 1;
    const [rc, rr] = lossType === 'simpo' || orpo ? [0, 0] : [refLogps[c], refLogps[r]];
    const chosenRatio = seqLogps[c] / nc - rc / nc;
    const rejectedRatio = seqLogps[r] / nr - rr / nr;
    let z = chosenRatio - rejectedRatio - (lossType === 'simpo' ? gammaOverBeta : 0);
    // d(z)/d(chosen ratio) and d(z)/d(rejected ratio)
    let [dzc, dzr] = [1, -1];
    let dz: number;
    if (orpo) {
      // log odds = log(p / (1 - p)) of the averaged log-probs; d/dx [x - log1mexp(x)] = 1 / (1 - e^x).
      z -= log1mexp(chosenRatio) - log1mexp(rejectedRatio);
      [dzc, dzr] = [-1 / Math.expm1(chosenRatio), 1 / Math.expm1(rejectedRatio)];
      losses[c] = beta * softplus(-z);
      dz = -beta * sigmoid(-z);
    } else if (lossType === 'sigmoid' || lossType === 'simpo') {
      losses[c] = (1 - ls) * softplus(-beta * z) + ls * softplus(beta * z);
      dz = beta * (ls * sigmoid(beta * z) - (1 - ls) * sigmoid(-beta * z));
    } else if (lossType === 'ipo') {
      losses[c] = (z - 1 / (2 * beta)) ** 2;
      dz = 2 * (z - 1 / (2 * beta));
    } else {
      losses[c] = Math.max(1 - beta * z, 0);
      dz = 1 - beta * z > 0 ? -beta : 0;
    }
    // TRL's DPO rewards are of the token-summed log-ratios whatever the loss: ipo's averages stay in its loss
    // (dpo_trainer.py at f2cd577: chosen_rewards = beta * chosen_logratios). simpo's and orpo's are of the averages.
    const summed = lossType === 'ipo';
    chosenRewards[c] = beta * (summed ? seqLogps[c] - rc : chosenRatio);
    rejectedRewards[c] = beta * (summed ? seqLogps[r] - rr : rejectedRatio);
    tokenWeights[c] = (-dz * dzc) / nc / pairsTotal + (orpo ? 0 : chosenWeight);
    tokenWeights[r] = (-dz * dzr) / nr / pairsTotal;
    rowWeights[c] = orpo ? chosenWeight : 0;
  }
  return { losses, chosenRewards, rejectedRewards, tokenWeights, rowWeights };
}

export function dpoLossRef(
  logprobs: ArrayLike<number>,
  mask: ArrayLike<number>,
  refLogps: ArrayLike<number>,
  T: number,
  options: DpoOptions,
): DpoLossRef {
  const sums = dpoSumsRef(logprobs, mask, T);
  const pairs = dpoPairsRef(sums.seqLogps, sums.counts, refLogps, options);
  const S = sums.seqLogps.length;
  const weights = Float64Array.from(mask, (m, i) => pairs.tokenWeights[Math.floor(i / T)] * m + pairs.rowWeights[Math.floor(i / T)]);
  const rowLogps = new Float64Array(S);
  if (options.lossType === 'orpo') for (let i = 0; i < mask.length; i++) rowLogps[Math.floor(i / T)] += logprobs[i];
  const chosen = (x: Float64Array) => x.slice(0, S / 2).reduce((a, b) => a + b, 0);
  const nll = -chosen(options.lossType === 'orpo' ? rowLogps : sums.seqLogps);
  const loss = pairs.losses.reduce((a, b) => a + b, 0) / options.pairsTotal + (options.chosenWeight ?? 0) * nll;
  return { ...sums, ...pairs, weights, rowLogps, loss };
}
