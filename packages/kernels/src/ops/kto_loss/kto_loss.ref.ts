// Float64 reference for kto_loss.wgsl, written from TRL's KTOTrainer.kto_loss (trl/trainer/kto_trainer.py at
// huggingface/trl f2cd577): kl = (policy_KL_logps - reference_KL_logps).mean().clamp(min=0), detached;
// chosen_losses = 1 - sigmoid(beta (chosen_logratios - kl)) (apo_zero_unpaired: without kl);
// rejected_losses = 1 - sigmoid(beta (kl - rejected_logratios)) (apo_zero_unpaired: sigmoid(beta rejected_logratios));
// losses = cat(desirable_weight * chosen_losses, undesirable_weight * rejected_losses).
import type { KtoOptions } from './kto_loss.ts';

export interface KtoLossRef {
  /** [n] row sums of the log-probs. */
  seqLogps: Float64Array;
  kl: number;
  /** [n] weighted per-row losses. */
  losses: Float64Array;
  /** [n] dLoss/dNLL of each row's tokens, Loss = sum of losses / rowsTotal. */
  rowWeights: Float64Array;
  /** [n, T] rowWeights[i] at every position of row i. */
  weights: Float64Array;
  loss: number;
}

const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

/** Rows of `labelWeights` >= 0 are desirable (weight w), < 0 undesirable (weight -w). */
export function ktoLossRef(
  logprobs: ArrayLike<number>,
  T: number,
  refLogps: ArrayLike<number>,
  labelWeights: ArrayLike<number>,
  klLogps: ArrayLike<number>,
  refKlLogps: ArrayLike<number>,
  o: KtoOptions,
): KtoLossRef {
  const n = refLogps.length;
  const seqLogps = new Float64Array(n);
  for (let i = 0; i < n * T; i++) seqLogps[Math.floor(i / T)] += logprobs[i];
  let kl = 0;
  if (o.lossType === 'kto') {
    for (let j = 0; j < n; j++) kl += (klLogps[j] - refKlLogps[j]) / n;
    kl = Math.max(kl, 0);
  }
  const losses = new Float64Array(n);
  const rowWeights = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const ratio = seqLogps[i] - refLogps[i];
    const desirable = labelWeights[i] >= 0;
    const w = Math.abs(labelWeights[i]);
    if (desirable) {
      const x = o.beta * (ratio - kl);
      losses[i] = w * (1 - sigmoid(x));
      rowWeights[i] = (w * o.beta * sigmoid(x) * sigmoid(-x)) / o.rowsTotal; // -d(loss)/d(ratio) / rowsTotal
    } else {
      const x = o.lossType === 'kto' ? o.beta * (kl - ratio) : o.beta * ratio;
      losses[i] = w * (o.lossType === 'kto' ? 1 - sigmoid(x) : sigmoid(x));
      rowWeights[i] = (-w * o.beta * sigmoid(x) * sigmoid(-x)) / o.rowsTotal;
    }
  }
  const weights = Float64Array.from({ length: n * T }, (_, i) => rowWeights[Math.floor(i / T)]);
  const loss = losses.reduce((a, b) => a + b, 0) / o.rowsTotal;
  return { seqLogps, kl, losses, rowWeights, weights, loss };
}
