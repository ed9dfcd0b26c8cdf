// DPO as TRL's DPOTrainer at f2cd577 (sigmoid, ipo, hinge; its rewards and logps metrics are of the token sums for
// every loss, ipo averaging inside its loss only). Training runs the dpoLoss kernel between the
// forward and the backward: it sums each sequence's completion log-probs, forms the pair losses and rewards against
// the cached reference sums, and writes every token's loss weight (pairs averaged over the optimizer step's pairs).
// Evaluation computes the same quantities in float64 on the host (dpoMetrics).
import { type DpoLossType, dpoLoss, type Gpu, type DpoOptions as PairLossOptions, type StagedRead, type Tensor } from '@webtune/kernels';
import { dpoBatch, type TokenBatch } from '../data/batch.ts';
import type { DpoExample } from '../data/tokenize.ts';
import { logSigmoid } from './host.ts';
import {
  add,
  compileTrainingStep,
  haltOnNonFinite,
  inputTokens,
  type Objective,
  type ObjectiveContext,
  tensorSets,
  trainingStep,
  writeInputs,
} from './objective.ts';

/** DPO's reference log-prob sums of a micro-batch, [chosen_0..chosen_P-1, rejected_0..rejected_P-1] (train/reference.ts). */
export interface ReferenceLogps {
  of(examples: DpoExample[]): Promise<Float32Array>;
}

export interface DpoOptions {
  beta: number;
  lossType: DpoLossType;
  labelSmoothing: number;
}

/** The metrics a DPO step logs, besides loss: TRL's names, each a mean over the step's pairs. */
const PAIR_METRICS = [
  'rewards/chosen',
  'rewards/rejected',
  'rewards/accuracies',
  'rewards/margins',
  'logps/chosen',
  'logps/rejected',
] as const;

/**
 * The dpoLoss kernel's tensors besides the step's log-probs and weights (DPO's; SimPO's and ORPO's with refLogps
 * unread; rowLogps written for ORPO only).
 */
type PairLossTensors = Record<
  'mask' | 'refLogps' | 'seqLogps' | 'counts' | 'losses' | 'chosenRewards' | 'rejectedRewards' | 'rowLogps',
  Tensor
>;

/** The dpoLoss kernel's tensors, one set per (pairs, length) shape met, labelled `${name} ...`; `release` frees them all. */
export function pairLossBuffers(gpu: Gpu, name: string): { of(P: number, T: number): PairLossTensors; release(): void } {
  const sets = tensorSets<PairLossTensors>();
  return {
    of: (P, T) =>
      sets.of(`${P}x${T}`, () => ({
        mask: gpu.tensor([2 * P, T], `${name} mask`),
        refLogps: gpu.tensor([2 * P], `${name} ref logps`),
        seqLogps: gpu.tensor([2 * P], `${name} seq logps`),
        counts: gpu.tensor([2 * P], `${name} counts`),
        losses: gpu.tensor([P], `${name} losses`),
        chosenRewards: gpu.tensor([P], `${name} chosen rewards`),
        rejectedRewards: gpu.tensor([P], `${name} rejected rewards`),
        rowLogps: gpu.tensor([2 * P], `${name} row logps`),
      })),
    release: () => sets.release(),
  };
}

/**
 * A training micro-batch with the dpoLoss kernel between its forward and backward (DPO, SimPO, ORPO): the inputs written,
 * the kernel on `b` (its mask and reference written by the caller), the halt flag raised by a non-finite pair loss,
 * and one submit that copies `read` for the loop to read a step late.
 */
export async function pairLossStep(
  ctx: ObjectiveContext,
  batch: TokenBatch,
  b: PairLossTensors,
  options: PairLossOptions,
  dropoutSeed: number,
  read: Tensor[],
): Promise<StagedRead> {
  const { gpu } = ctx;
  const [S, T] = [batch.B, batch.T];
  const step = await trainingStep(ctx, S, T);
  writeInputs(gpu, step, batch);
  const loss = await dpoLoss(gpu, { logprobs: step.logprobs.view([S, T]), weights: step.lossWeights.view([S, T]), ...b }, options);
  step.reseed(dropoutSeed);
  const guard = await haltOnNonFinite(ctx, b.losses);
  return gpu.runAndStage([...step.forward, ...loss, ...guard, ...step.backward], read);
}

export function dpoObjective(ctx: ObjectiveContext, examples: DpoExample[], reference: ReferenceLogps): Objective {
  const { gpu, padId, config } = ctx;
  const buffers = pairLossBuffers(gpu, 'dpo');
  return {
    size: examples.length,
    totals: (indices) => ({ pairs: indices.length }),
    async microBatch(indices, { pairs: windowPairs }, dropoutSeed) {
      const exs = indices.map((i) => examples[i]);
      const batch = dpoBatch(exs, padId);
      await compileTrainingStep(ctx, batch.B, batch.T);
      // Then a reference pass not cached yet runs the model; its inputs share buffers with this step's.
      const ref = await reference.of(exs);
      const P = exs.length;
      const b = buffers.of(P, batch.T);
      gpu.write(b.mask, batch.mask);
      gpu.write(b.refLogps, ref);
      const kernel = {
        beta: config.beta,
        lossType: config.lossType as DpoLossType,
        labelSmoothing: config.labelSmoothing,
        pairsTotal: windowPairs,
      };
      const staged = await pairLossStep(ctx, batch, b, kernel, dropoutSeed, [b.losses, b.chosenRewards, b.rejectedRewards, b.seqLogps]);
      const sums = ([losses, cr, rr, seq]: Float32Array[]) => {
        const out: Record<string, number> = {};
        for (let p = 0; p < P; p++) {
          add(out, 'loss', losses[p]);
          add(out, 'rewards/chosen', cr[p]);
          add(out, 'rewards/rejected', rr[p]);
          add(out, 'rewards/accuracies', cr[p] > rr[p] ? 1 : 0);
          add(out, 'rewards/margins', cr[p] - rr[p]);
          add(out, 'logps/chosen', seq[p]);
          add(out, 'logps/rejected', seq[P + p]);
        }
        return out;
      };
      const tokens = inputTokens(
        batch,
        exs.flatMap((e) => [e.chosen.ids.length, e.rejected.ids.length]),
      );
      return { staged, sums, inputTokens: tokens };
    },
    metrics(sums, { pairs }) {
      const out: Record<string, number> = { loss: sums.loss / pairs };
      for (const k of PAIR_METRICS) out[k] = sums[k] / pairs;
      return out;
    },
    release: () => buffers.release(),
  };
}

/** Per-sequence completion log-prob sums and token counts (train/reference.ts sequenceLogps). */
export interface SequenceLogps {
  /** Sum of completion-token log-probs per sequence. */
  sums: Float64Array;
  /** Completion tokens per sequence. */
  counts: Float64Array;
}

/**
 * TRL's DPO loss and reward metrics, means over pairs, from sequence log-probs interleaved [chosen_0, rejected_0,
 * chosen_1, ...] (float64 on the host): what evaluation reports.
 */
export function dpoMetrics(policy: SequenceLogps, reference: SequenceLogps, o: DpoOptions): Record<string, number> {
  const pairs = policy.sums.length / 2;
  const m: Record<string, number> = { loss: 0 };
  for (const k of PAIR_METRICS) m[k] = 0;
  for (let p = 0; p < pairs; p++) {
    const [c, r] = [2 * p, 2 * p + 1];
    const avg = (x: SequenceLogps, i: number) => (o.lossType === 'ipo' ? x.sums[i] / Math.max(1, x.counts[i]) : x.sums[i]);
    const pc = avg(policy, c);
    const pr = avg(policy, r);
    const z = pc - avg(reference, c) - (pr - avg(reference, r));
    const loss =
      o.lossType === 'sigmoid'
        ? -logSigmoid(o.beta * z) * (1 - o.labelSmoothing) - logSigmoid(-o.beta * z) * o.labelSmoothing
        : o.lossType === 'ipo'
          ? (z - 1 / (2 * o.beta)) ** 2
          : Math.max(0, 1 - o.beta * z);
    // Rewards and logps of the sums whatever the loss (TRL: chosen_rewards = beta * chosen_logratios).
    const chosen = o.beta * (policy.sums[c] - reference.sums[c]);
    const rejected = o.beta * (policy.sums[r] - reference.sums[r]);
    m.loss += loss;
    m['rewards/chosen'] += chosen;
    m['rewards/rejected'] += rejected;
    m['rewards/accuracies'] += chosen > rejected ? 1 : 0;
    m['rewards/margins'] += chosen - rejected;
    m['logps/chosen'] += policy.sums[c];
    m['logps/rejected'] += policy.sums[r];
  }
  for (const k of Object.keys(m)) m[k] /= Math.max(1, pairs);
  return m;
}
