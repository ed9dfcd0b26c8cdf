// What the training loop asks of an objective (SFT, DPO, ...). The loop (train/trainer.ts) owns the accumulation
// window, clipping, the update, logging and checkpoints; an objective owns its examples and, for one micro-batch,
// what is recorded, which inputs and loss weights are written, and how its sums become TRL-named metrics.
//
// Accumulation: an optimizer step's loss is a sum over its window's micro-batches, each term divided by a count over
// the whole window (`totals`: SFT its completion tokens, DPO its pairs, ORPO both), so batch 4 x accumulation 1 gives
// the same update as batch 1 x accumulation 4, as HF does with num_items_in_batch.
import { type Dispatch, flagNonFinite, type Gpu, type StagedRead, type Tensor } from '@webtune/kernels';
import type { TokenBatch } from '../data/batch.ts';
import type { Step } from '../model/decoder.ts';
import type { LoraAdapter } from '../model/lora.ts';
import type { Model } from '../model/model.ts';
import type { TrainConfig } from '../train/config.ts';

/**
 * What an objective runs on: the model, the frozen adapter stack below the trained one, and the trained one with the
 * flat gradient buffer its backward adds into (cleared by the loop at each optimizer step). Without a trained adapter
 * (null) the objective only measures: forwards with dropout off, no backward (evaluation of KTO, ORPO and SimPO,
 * train/evaluate.ts: the policy is the frozen stack).
 */
export interface ObjectiveContext {
  gpu: Gpu;
  model: Model;
  frozen: LoraAdapter[];
  adapter: LoraAdapter | null;
  grads: Tensor | null;
  config: TrainConfig;
  padId: number;
  /**
   * The loop's [1] u32 "do not update" flag (adamw's halt), when training: every objective, whose loss the host reads
   * only after the update is queued, raises it on the GPU for a non-finite loss term (haltOnNonFinite).
   */
  halt?: Tensor;
}

/** The trained adapter and its gradients, for an objective that only trains (SFT, DPO: they evaluate on their own). */
export function trainable(ctx: ObjectiveContext): { adapter: LoraAdapter; grads: Tensor } {
  if (!ctx.adapter || !ctx.grads) throw new Error('this objective trains an adapter; its evaluation is train/reference.ts');
  return { adapter: ctx.adapter, grads: ctx.grads };
}

/**
 * The model's recorded training step for B sequences of T tokens: the frozen stack with the trained adapter on top, its
 * activations kept or recomputed in the backward as the run's gradient_checkpointing says.
 */
export function trainingStep(ctx: ObjectiveContext, B: number, T: number): Promise<Step> {
  return ctx.model.step(B, T, trainingStepOptions(ctx));
}

/**
 * Compile trainingStep(ctx, B, T)'s pipelines without making its buffers (Model.compile): for an objective whose
 * reference pass runs first, so that the compiler's working memory comes before the reference's buffers too.
 */
export async function compileTrainingStep(ctx: ObjectiveContext, B: number, T: number): Promise<void> {
  await ctx.model.compile(B, T, trainingStepOptions(ctx));
}

const trainingStepOptions = (ctx: ObjectiveContext) => ({
  frozen: ctx.frozen,
  trainable: trainable(ctx),
  train: true,
  recompute: ctx.config.gradientCheckpointing,
});

/** The policy's adapters: the frozen stack and, when training, the trained adapter on top. */
export const policyAdapters = (ctx: ObjectiveContext): LoraAdapter[] => (ctx.adapter ? [...ctx.frozen, ctx.adapter] : ctx.frozen);

export interface MicroBatchOutcome {
  /** Non-pad input tokens run (TRL's num_tokens counts the attention mask). */
  inputTokens: number;
  /**
   * The outputs its sums come from, copied by the micro-batch's submit and not yet waited for (every method when
   * training): the loop reads them with the step's other reads, a step late. Absent when the sums are known already
   * (evaluation of KTO, ORPO and SimPO reads the forward's log-probs).
   */
  staged?: StagedRead;
  /** Metric sums of this micro-batch from the staged read's values ([] without one); the loop adds them over the window. */
  sums(values: Float32Array[]): Record<string, number>;
}

/** A micro-batch's sums, reading its staged outputs now (one host read) when it has them. */
export async function settle(gpu: Gpu, outcome: MicroBatchOutcome): Promise<Record<string, number>> {
  const [values] = outcome.staged ? await gpu.readStaged([outcome.staged]) : [[]];
  return outcome.sums(values);
}

const guards = new WeakMap<Tensor, Dispatch>();

/**
 * The dispatch that raises ctx.halt when an element of `x` whose weight is not 0 is NaN or an infinity (a loss term
 * the host will read only after the update is queued), or none when not training. Made once per tensor.
 */
export async function haltOnNonFinite(ctx: ObjectiveContext, x: Tensor, weights?: Tensor): Promise<Dispatch[]> {
  if (!ctx.halt) return [];
  const cached = guards.get(x);
  if (cached) return [cached];
  const dispatch = await flagNonFinite(ctx.gpu, { x, weights, flag: ctx.halt });
  guards.set(x, dispatch);
  return [dispatch];
}

/** Counts over an optimizer step's whole window that its micro-batches' losses are divided by (e.g. { pairs: 8 }). */
export type Totals = Record<string, number>;

export interface Objective {
  /** Examples (rows: sequences, pairs) the loop draws micro-batches from, by index. */
  readonly size: number;
  /** Draw each epoch's micro-batches in dataset order instead of a seeded shuffle (KTO, as TRL requires). */
  readonly sequential?: boolean;
  /** The accumulation normalisers of a window, from all its examples' indices. */
  totals(indices: number[]): Totals;
  /**
   * Forward and backward of the micro-batch of examples `indices`, adding the gradient of its share of the step's
   * loss (its terms divided by `totals`) into the gradient buffer, with LoRA dropout drawn from `dropoutSeed`.
   */
  microBatch(indices: number[], totals: Totals, dropoutSeed: number): Promise<MicroBatchOutcome>;
  /** The optimizer step's `loss` and TRL-named metrics from the window's added-up sums. */
  metrics(sums: Record<string, number>, totals: Totals): Record<string, number>;
  /** Frees the objective's GPU buffers (every way out of a run calls it). */
  release(): void;
}

/** Non-pad tokens of a batch's sequences (TRL's num_tokens counts the attention mask). */
export function inputTokens(batch: TokenBatch, lengths: number[]): number {
  return lengths.reduce((a, b) => a + b, 0) || batch.B * batch.T;
}

export function writeInputs(gpu: Gpu, step: Step, batch: TokenBatch): void {
  gpu.write(step.ids, batch.ids);
  gpu.write(step.positions, batch.positions);
  gpu.write(step.targets, batch.targets);
}

/** An objective's own GPU tensors, one set per shape met (`make` runs on a key's first use); `release` frees them all. */
export function tensorSets<S extends Record<string, Tensor>>(): { of(key: string, make: () => S): S; release(): void } {
  const sets = new Map<string, S>();
  return {
    of(key, make) {
      let set = sets.get(key);
      if (!set) {
        set = make();
        sets.set(key, set);
      }
      return set;
    },
    release() {
      for (const set of sets.values()) for (const t of Object.values(set)) t.buffer.destroy();
    },
  };
}

/** Adds `x` to `sums[key]`. */
export function add(sums: Record<string, number>, key: string, x: number): void {
  sums[key] = (sums[key] ?? 0) + x;
}
