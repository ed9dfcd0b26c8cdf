// SimPO as TRL's CPO trainer with loss_type "simpo" (trl/experimental/cpo/cpo_trainer.py at huggingface/trl
// f2cd577): no reference. For pair p with length-averaged completion log-probs a_c, a_r:
//   z = (a_c - a_r) - simpo_gamma / beta
//   loss_p = -(1 - ls) logsigmoid(beta z) - ls logsigmoid(-beta z)        (ls = label_smoothing)
//   loss = mean_p loss_p + cpo_alpha * nll_loss
// nll_loss: the cross entropy of the chosen rows' completion tokens (CPO's behaviour-cloning term; 0 when cpo_alpha
// is 0, TRL's SimPO setting). Rewards beta * a. Over an accumulation window the pair term is averaged over the
// window's pairs and the NLL over its chosen completion tokens.
// Training runs the loss on the GPU (the dpoLoss kernel's simpo type) between the forward and the backward, as DPO
// does, so a step waits on no host read; evaluation, with nothing to backpropagate, forms the metrics on the host in
// float64.
import { type DpoExample, lossTokenCount } from '../data/tokenize.ts';
import { pairLossBuffers, pairLossStep } from './dpo.ts';
import { evalLogprobs, logSigmoid, rowWeights } from './host.ts';
import { add, inputTokens, type Objective, type ObjectiveContext } from './objective.ts';
import { completionAverages, completionFrom, pairedBatch, pairRewardMeans, pairRewardSums } from './paired.ts';

export interface SimpoOptions {
  beta: number;
  simpoGamma: number;
  cpoAlpha: number;
  labelSmoothing: number;
}

/** One pair's loss. */
function simpoPairLoss(ac: number, ar: number, o: SimpoOptions): number {
  const bz = o.beta * (ac - ar - o.simpoGamma / o.beta);
  const ls = o.labelSmoothing;
  return -(1 - ls) * logSigmoid(bz) - ls * logSigmoid(-bz);
}

/**
 * A micro-batch's metric sums from its rows' completion log-prob sums and counts. The pair losses are the kernel's
 * when it trained, else formed here.
 */
function simpoSums(seq: ArrayLike<number>, counts: ArrayLike<number>, o: SimpoOptions, losses?: ArrayLike<number>) {
  const P = seq.length / 2;
  const averages = Float64Array.from(seq, (x, s) => x / counts[s]);
  const out: Record<string, number> = { ...pairRewardSums(averages, P, o.beta), pairLoss: 0, nll: 0 };
  for (let p = 0; p < P; p++) {
    add(out, 'pairLoss', losses ? losses[p] : simpoPairLoss(averages[p], averages[P + p], o));
    add(out, 'nll', -seq[p]);
  }
  return out;
}

export function simpoObjective(ctx: ObjectiveContext, examples: DpoExample[], o: SimpoOptions): Objective {
  const { gpu, padId } = ctx;
  const training = ctx.adapter !== null && ctx.grads !== null;
  const buffers = pairLossBuffers(gpu, 'simpo'); // refLogps is not read: simpo has no reference
  return {
    size: examples.length,
    totals: (indices) => ({
      pairs: indices.length,
      nllTokens: indices.reduce((n, i) => n + lossTokenCount(examples[i].chosen), 0),
    }),
    async microBatch(indices, { pairs: windowPairs, nllTokens }, dropoutSeed) {
      const pairs = indices.map((i) => examples[i]);
      const P = pairs.length;
      const { batch, seqs } = pairedBatch(pairs, padId, false);
      const tokens = inputTokens(
        batch,
        seqs.map((s) => s.ids.length),
      );
      if (!training) {
        const { sums: seq, counts } = completionAverages(await evalLogprobs(ctx, batch), batch, seqs);
        const sums = simpoSums(seq, counts, o);
        return { sums: () => sums, inputTokens: tokens };
      }
      const b = buffers.of(P, batch.T);
      // The completion tokens: the ones completionAverages sums on the host.
      gpu.write(b.mask, rowWeights(batch, new Float64Array(2 * P).fill(1), completionFrom(seqs)));
      const kernel = {
        beta: o.beta,
        lossType: 'simpo' as const,
        labelSmoothing: o.labelSmoothing,
        pairsTotal: windowPairs,
        gammaOverBeta: o.simpoGamma / o.beta,
        chosenWeight: o.cpoAlpha !== 0 ? o.cpoAlpha / nllTokens : 0,
      };
      const staged = await pairLossStep(ctx, batch, b, kernel, dropoutSeed, [b.losses, b.seqLogps, b.counts]);
      const sums = ([losses, seq, counts]: Float32Array[]) => simpoSums(seq, counts, o, losses);
      return { staged, sums, inputTokens: tokens };
    },
    metrics(sums, { pairs, nllTokens }) {
      const nll = o.cpoAlpha !== 0 ? sums.nll / nllTokens : 0;
      const out: Record<string, number> = { loss: sums.pairLoss / pairs + o.cpoAlpha * nll, ...pairRewardMeans(sums, pairs) };
      out.nll_loss = nll;
      return out;
    },
    release: () => buffers.release(),
  };
}
