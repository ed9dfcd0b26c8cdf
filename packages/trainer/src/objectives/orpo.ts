// ORPO as TRL's ORPOTrainer (trl/experimental/orpo/orpo_trainer.py at huggingface/trl f2cd577): one stage from the
// base model, no reference. For pair p with length-averaged completion log-probs a_c, a_r (get_batch_logps with
// average_log_prob=True):
//   log_odds = (a_c - a_r) - (log1mexp(a_c) - log1mexp(a_r)),  log1mexp(x) = log(1 - e^x)
//   loss = nll_loss - beta * mean_p logsigmoid(log_odds)
// where nll_loss is the cross entropy of the chosen rows over prompt AND completion ("orpo chosen nll loss is computed
// over the full prompt and response": every attended token after the first). Metrics: rewards beta * a, logps a,
// nll_loss, log_odds_ratio = mean logsigmoid(log_odds), log_odds_chosen = mean log_odds.
// Over an accumulation window the pair term is averaged over the window's pairs and the NLL over its chosen tokens.
import type { DpoExample } from '../data/tokenize.ts';
import { forwardThenBackward, rowSums, rowWeights, sigmoid } from './host.ts';
import { inputTokens, type Objective, type ObjectiveContext } from './objective.ts';
import { completionAverages, completionFrom, pairedBatch, pairRewardMeans, pairRewardSums } from './paired.ts';

export const logSigmoid = (x: number) => (x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x)));

/** log(1 - e^x) for x < 0, branching at -ln 2 as TRL's log1mexp does. */
export function log1mexp(x: number): number {
  return x < -Math.LN2 ? Math.log1p(-Math.exp(x)) : Math.log(-Math.expm1(x));
}

/** The odds-ratio term of one pair: log_odds and d(log_odds)/d(a_c) (d/d(a_r) is the same form with a minus). */
export function logOdds(ac: number, ar: number): { logOdds: number; dAc: number; dAr: number } {
  // d/dx [x - log1mexp(x)] = 1 + e^x / (1 - e^x) = 1 / (1 - e^x) = -1 / expm1(x)
  return { logOdds: ac - ar - (log1mexp(ac) - log1mexp(ar)), dAc: -1 / Math.expm1(ac), dAr: 1 / Math.expm1(ar) };
}

export function orpoObjective(ctx: ObjectiveContext, examples: DpoExample[], beta: number): Objective {
  const { padId } = ctx;
  return {
    size: examples.length,
    totals: (indices) => ({
      pairs: indices.length,
      // tokens 1..n-1 of each chosen sequence: the targets of the NLL
      nllTokens: indices.reduce((n, i) => n + Math.max(0, examples[i].chosen.ids.length - 1), 0),
    }),
    async microBatch(indices, { pairs: windowPairs, nllTokens }, dropoutSeed) {
      const pairs = indices.map((i) => examples[i]);
      const P = pairs.length;
      const { batch, seqs } = pairedBatch(pairs, padId, true);
      const { sums } = await forwardThenBackward(ctx, batch, dropoutSeed, (logprobs) => {
        const { averages, counts } = completionAverages(logprobs, batch, seqs);
        const full = rowSums(logprobs, batch);
        const out: Record<string, number> = {
          ...pairRewardSums(averages, P, beta),
          pairLoss: 0,
          nll: 0,
          log_odds_ratio: 0,
          log_odds_chosen: 0,
        };
        // Token weights are minus d(loss)/d(log-prob): the pair term's on completion tokens, the NLL's on chosen rows.
        const perRow = new Float64Array(2 * P);
        for (let p = 0; p < P; p++) {
          const { logOdds: lo, dAc, dAr } = logOdds(averages[p], averages[P + p]);
          out.pairLoss -= beta * logSigmoid(lo);
          out.log_odds_ratio += logSigmoid(lo);
          out.log_odds_chosen += lo;
          out.nll -= full.sums[p];
          const g = (beta * sigmoid(-lo)) / windowPairs; // -d(-beta logsigmoid(lo))/d(lo), over the window's pairs
          perRow[p] = (g * dAc) / counts[p];
          perRow[P + p] = (g * dAr) / counts[P + p];
        }
        const weights = rowWeights(batch, perRow, completionFrom(seqs));
        const nllWeights = rowWeights(
          batch,
          Float64Array.from({ length: 2 * P }, (_, s) => (s < P ? 1 / nllTokens : 0)),
        );
        for (let i = 0; i < weights.length; i++) weights[i] += nllWeights[i];
        return { weights, sums: out };
      });
      return {
        sums: () => sums,
        inputTokens: inputTokens(
          batch,
          seqs.map((s) => s.ids.length),
        ),
      };
    },
    metrics(sums, { pairs, nllTokens }) {
      const nll = sums.nll / nllTokens;
      const out: Record<string, number> = { loss: sums.pairLoss / pairs + nll, ...pairRewardMeans(sums, pairs) };
      out.nll_loss = nll;
      out.log_odds_ratio = sums.log_odds_ratio / pairs;
      out.log_odds_chosen = sums.log_odds_chosen / pairs;
      return out;
    },
    release() {},
  };
}
