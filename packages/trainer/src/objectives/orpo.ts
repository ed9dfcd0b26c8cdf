// ORPO as TRL's ORPOTrainer (trl/experimental/orpo/orpo_trainer.py at huggingface/trl f2cd577): one stage from the
// base model, no reference. For pair p with length-averaged completion log-probs a_c, a_r (get_batch_logps with
// average_log_prob=True):
//   log_odds = (a_c - a_r) - (log1mexp(a_c) - log1mexp(a_r)),  log1mexp(x) = log(1 - e^x)
//   loss = nll_loss - beta * mean_p logsigmoid(log_odds)
// where nll_loss is the cross entropy of the chosen rows over prompt AND completion ("orpo chosen nll loss is computed
// over the full prompt and response": every attended token after the first). Metrics: rewards beta * a, logps a,
// nll_loss, log_odds_ratio = mean logsigmoid(log_odds), log_odds_chosen = mean log_odds.
// Over an accumulation window the pair term is averaged over the window's pairs and the NLL over its chosen tokens.
// Training runs the loss on the GPU (the dpoLoss kernel's orpo type, the NLL's weight with it) between the forward and
// the backward, as DPO does, so a step waits on no host read; evaluation, with nothing to backpropagate, forms the
// metrics on the host in float64.
import type { DpoExample } from '../data/tokenize.ts';
import { pairLossBuffers, pairLossStep } from './dpo.ts';
import { evalLogprobs, logSigmoid, rowSums, rowWeights } from './host.ts';
import { add, inputTokens, type Objective, type ObjectiveContext } from './objective.ts';
import { completionAverages, completionFrom, pairedBatch, pairRewardMeans, pairRewardSums } from './paired.ts';

/** log(1 - e^x) for x < 0, branching at -ln 2 as TRL's log1mexp does. */
export function log1mexp(x: number): number {
  return x < -Math.LN2 ? Math.log1p(-Math.exp(x)) : Math.log(-Math.expm1(x));
}

/** The log odds ratio of one pair's averaged log-probs. */
export const logOdds = (ac: number, ar: number) => ac - ar - (log1mexp(ac) - log1mexp(ar));

/**
 * A micro-batch's metric sums from its rows' averaged completion log-probs and its chosen rows' whole log-prob sums.
 * The pair losses are the kernel's when it trained, else formed here.
 */
function orpoSums(averages: Float64Array, chosenRows: ArrayLike<number>, beta: number, losses?: ArrayLike<number>) {
  const P = averages.length / 2;
  const out: Record<string, number> = { ...pairRewardSums(averages, P, beta), pairLoss: 0, nll: 0 };
  for (let p = 0; p < P; p++) {
    const lo = logOdds(averages[p], averages[P + p]);
    add(out, 'pairLoss', losses ? losses[p] : -beta * logSigmoid(lo));
    add(out, 'nll', -chosenRows[p]);
    add(out, 'log_odds_ratio', logSigmoid(lo));
    add(out, 'log_odds_chosen', lo);
  }
  return out;
}

export function orpoObjective(ctx: ObjectiveContext, examples: DpoExample[], beta: number): Objective {
  const { gpu, padId } = ctx;
  const training = ctx.adapter !== null && ctx.grads !== null;
  const buffers = pairLossBuffers(gpu, 'orpo'); // refLogps is not read: orpo has no reference
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
      const tokens = inputTokens(
        batch,
        seqs.map((s) => s.ids.length),
      );
      if (!training) {
        const logprobs = await evalLogprobs(ctx, batch);
        const sums = orpoSums(completionAverages(logprobs, batch, seqs).averages, rowSums(logprobs, batch).sums, beta);
        return { sums: () => sums, inputTokens: tokens };
      }
      const b = buffers.of(P, batch.T);
      // The mask: the completion tokens, the ones completionAverages sums. The NLL's weight goes on every position of
      // the chosen rows, and the cross entropy's backward keeps it on their targets only.
      gpu.write(b.mask, rowWeights(batch, new Float64Array(2 * P).fill(1), completionFrom(seqs)));
      const kernel = {
        beta,
        lossType: 'orpo' as const,
        labelSmoothing: 0,
        pairsTotal: windowPairs,
        chosenWeight: nllTokens > 0 ? 1 / nllTokens : 0,
      };
      const staged = await pairLossStep(ctx, batch, b, kernel, dropoutSeed, [b.losses, b.seqLogps, b.counts, b.rowLogps]);
      const sums = ([losses, seq, counts, rows]: Float32Array[]) =>
        orpoSums(
          Float64Array.from(seq, (x, s) => x / counts[s]),
          rows,
          beta,
          losses,
        );
      return { staged, sums, inputTokens: tokens };
    },
    metrics(sums, { pairs, nllTokens }) {
      const nll = sums.nll / nllTokens;
      const out: Record<string, number> = { loss: sums.pairLoss / pairs + nll, ...pairRewardMeans(sums, pairs) };
      out.nll_loss = nll;
      out.log_odds_ratio = sums.log_odds_ratio / pairs;
      out.log_odds_chosen = sums.log_odds_chosen / pairs;
      return out;
    },
    release: () => buffers.release(),
  };
}
