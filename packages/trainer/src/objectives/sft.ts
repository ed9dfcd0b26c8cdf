// SFT as TRL's SFTTrainer with completion_only_loss: the mean negative log-likelihood of the completion tokens.
// Each completion token's loss weight is 1 / (completion tokens in the optimizer step), so the step's gradient is
// that of the token-weighted mean over the whole window.
import { IGNORE_INDEX } from '@webtune/kernels';
import { sftBatch } from '../data/batch.ts';
import { lossTokenCount, type SftExample } from '../data/tokenize.ts';
import { haltOnNonFinite, inputTokens, type Objective, type ObjectiveContext, trainingStep, writeInputs } from './objective.ts';

export function sftObjective(ctx: ObjectiveContext, examples: SftExample[]): Objective {
  const { gpu, padId } = ctx;
  return {
    size: examples.length,
    totals: (indices) => ({ tokens: indices.reduce((n, i) => n + lossTokenCount(examples[i].seq), 0) }),
    async microBatch(indices, { tokens: windowTokens }, dropoutSeed) {
      const exs = indices.map((i) => examples[i]);
      const batch = sftBatch(exs, padId);
      const step = await trainingStep(ctx, batch.B, batch.T);
      writeInputs(gpu, step, batch);
      gpu.write(
        step.lossWeights,
        Float32Array.from(batch.targets, (t) => (t === IGNORE_INDEX ? 0 : 1 / Math.max(1, windowTokens))),
      );
      step.reseed(dropoutSeed);
      const guard = await haltOnNonFinite(ctx, step.logprobs, step.lossWeights);
      const staged = gpu.runAndStage([...step.forward, ...guard, ...step.backward], [step.logprobs]);
      return {
        staged,
        sums([logprobs]) {
          let nll = 0;
          for (let i = 0; i < logprobs.length; i++) if (batch.targets[i] !== IGNORE_INDEX) nll -= logprobs[i];
          return { nll };
        },
        inputTokens: inputTokens(
          batch,
          exs.map((e) => e.seq.ids.length),
        ),
      };
    },
    metrics: (sums, { tokens }) => ({ loss: sftLoss(sums.nll, tokens) }),
    release() {},
  };
}

/** The token-weighted mean NLL, as training logs it and evaluation reports it. */
export function sftLoss(nll: number, tokens: number): number {
  return nll / Math.max(1, tokens);
}
