// SimPO as TRL's CPO trainer with loss_type "simpo" (trl/experimental/cpo/cpo_trainer.py at huggingface/trl
// f2cd577): no reference. For pair p with length-averaged completion log-probs a_c, a_r:
//   z = (a_c - a_r) - simpo_gamma / beta
//   loss_p = -(1 - ls) logsigmoid(beta z) - ls logsigmoid(-beta z)        (ls = label_smoothing)
//   loss = mean_p loss_p + cpo_alpha * nll_loss
// nll_loss: the cross entropy of the chosen rows' completion tokens (CPO's behaviour-cloning term; 0 when cpo_alpha
// is 0, TRL's SimPO setting). Rewards beta * a. Over an accumulation window the pair term is averaged over the
// window's pairs and the NLL over its chosen completion tokens.
// Training runs the loss on the GPU (the dpoLoss kernel's simpo type) between the forward and the backward, as DPO
// does, so a step waits on no host read; evaluation, with nothing to backpropagate, forms it on the host in float64.
import { type DpoExample, lossTokenCount } from '../data/tokenize.ts';
import { pairLossBuffers, pairLossStep } from './dpo.ts';
import { forwardThenBackward, rowWeights, sigmoid } from './host.ts';
import { add, inputTokens, type Objective, type ObjectiveContext } from './objective.ts';
import { logSigmoid } from './orpo.ts';
import { completionAverages, completionFrom, pairedBatch, pairRewardMeans, pairRewardSums } from './paired.ts';

export interface SimpoOptions {
  beta: number;
  simpoGamma: number;
  cpoAlpha: number;
  labelSmoothing: number;
}

/** One pair's loss and d(loss)/d(z). */
export function simpoPair(ac: number, ar: number, o: SimpoOptions): { loss: number; dz: number } {
  const bz = o.beta * (ac - ar - o.simpoGamma / o.beta);
  const ls = o.labelSmoothing;
  return {
    loss: -(1 - ls) * logSigmoid(bz) - ls * logSigmoid(-bz),
    dz: o.beta * (-(1 - ls) * sigmoid(-bz) + ls * sigmoid(bz)),
  };
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
      if (training) {
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
        const sums = ([losses, seq, counts]: Float32Array[]) => {
          const averages = Float64Array.from(seq, (x, s) => x / counts[s]);
          const out: Record<string, number> = { ...pairRewardSums(averages, P, o.beta), pairLoss: 0, nll: 0 };
          for (let p = 0; p < P; p++) {
            add(out, 'pairLoss', losses[p]);
            add(out, 'nll', -seq[p]);
          }
          return out;
        };
        return {
          staged,
          sums,
          inputTokens: inputTokens(
            batch,
            seqs.map((s) => s.ids.length),
          ),
        };
      }
      const { sums } = await forwardThenBackward(ctx, batch, dropoutSeed, (logprobs) => {
        const { averages, counts, sums: completionSums } = completionAverages(logprobs, batch, seqs);
        const out: Record<string, number> = { ...pairRewardSums(averages, P, o.beta), pairLoss: 0, nll: 0 };
        // Token weights are minus d(loss)/d(log-prob), on completion tokens only.
        const perRow = new Float64Array(2 * P);
        for (let p = 0; p < P; p++) {
          const { loss, dz } = simpoPair(averages[p], averages[P + p], o);
          out.pairLoss += loss;
          out.nll -= completionSums[p];
          perRow[p] = -dz / counts[p] / windowPairs + (o.cpoAlpha !== 0 ? o.cpoAlpha / nllTokens : 0);
          perRow[P + p] = dz / counts[P + p] / windowPairs;
        }
        return { weights: rowWeights(batch, perRow, completionFrom(seqs)), sums: out };
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
      const nll = o.cpoAlpha !== 0 ? sums.nll / nllTokens : 0;
      const out: Record<string, number> = { loss: sums.pairLoss / pairs + o.cpoAlpha * nll, ...pairRewardMeans(sums, pairs) };
      out.nll_loss = nll;
      return out;
    },
    release: () => buffers.release(),
  };
}
