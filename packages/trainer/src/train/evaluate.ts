// Evaluation of a method on rows: the `evaluate` service call (an adapter on a dataset) and a run's evaluations on its
// held-out rows (train/validation.ts) both go through evaluateRows, so an evaluation logged at a step gives what
// `evaluate` gives for that step's adapter on the same rows. SFT and DPO measure with their forwards alone
// (train/reference.ts); KTO, ORPO and SimPO through their training objective (evaluateObjective).
import type { DpoLossType, Gpu } from '@webtune/kernels';
import type { DpoExample, SftExample } from '../data/tokenize.ts';
import type { KtoExample } from '../data/tokenize-kto.ts';
import type { LoraAdapter } from '../model/lora.ts';
import type { Model } from '../model/model.ts';
import { type Objective, settle } from '../objectives/objective.ts';
import type { TrainConfig } from './config.ts';
import { KtoReferenceCache } from './kto-reference.ts';
import { evaluateDpo, evaluateSft, type SequenceLogps } from './reference.ts';
import { objectiveFor } from './trainer.ts';

/** The rows of an evaluation, of the method they were loaded for. */
export type EvalRows =
  | { method: 'sft'; examples: SftExample[] }
  | { method: 'dpo' | 'orpo' | 'simpo'; examples: DpoExample[] }
  | { method: 'kto'; examples: KtoExample[] };

export interface EvalModels {
  gpu: Gpu;
  model: Model;
  padId: number;
  /** DPO, KTO: the reference (base + these adapters); the others: the adapters below the evaluated one. */
  reference: LoraAdapter[];
  /** The adapters evaluated, on top of `reference`. */
  policy: LoraAdapter[];
}

/**
 * Reference log-probs an evaluation may reuse: the reference is frozen, so a run computes them for its held-out rows
 * once and each evaluation reads them (the same numbers evaluateRows would compute again).
 */
export interface EvalReferences {
  dpo?: SequenceLogps;
  kto?: KtoReferenceCache;
}

/**
 * TRL's evaluation metrics of the method on `rows`, `config.batchSize` rows (pairs) a forward; its objective settings
 * (beta, loss_type, ...) from `config`. KTO's KL rows pair up within each batch, in row order, as in training.
 */
export async function evaluateRows(
  m: EvalModels,
  rows: EvalRows,
  config: TrainConfig,
  references: EvalReferences = {},
): Promise<Record<string, number>> {
  const { gpu, model, padId } = m;
  const batch = config.batchSize;
  if (rows.method === 'sft') return { ...(await evaluateSft(gpu, model, [...m.reference, ...m.policy], rows.examples, batch, padId)) };
  if (rows.method === 'dpo') {
    const o = { beta: config.beta, lossType: config.lossType as DpoLossType, labelSmoothing: config.labelSmoothing };
    return evaluateDpo(gpu, model, m.reference, m.policy, rows.examples, batch, padId, o, references.dpo);
  }
  const ctx = { gpu, model, frozen: [...m.reference, ...m.policy], adapter: null, grads: null, config, padId };
  if (rows.method === 'kto') {
    const reference = references.kto ?? new KtoReferenceCache(gpu, model, m.reference, rows.examples.length, padId);
    return evaluateObjective(gpu, objectiveFor({ method: 'kto', examples: rows.examples, reference }, ctx), batch);
  }
  return evaluateObjective(gpu, objectiveFor({ method: rows.method, examples: rows.examples }, ctx), batch);
}

// Evaluation through a training objective (KTO, ORPO, SimPO): the objective's own micro-batch and metrics, run with
// no trained adapter (forwards only, dropout off), over the whole dataset in order as one window. Its metrics are
// then what a training step over the same rows would log before its update: ORPO's and SimPO's means over every
// pair (and the NLL over every chosen token), KTO's loss over every row with its per-batch metrics averaged over the
// batches, each batch's KL rows formed within it as in training.
export async function evaluateObjective(gpu: Gpu, objective: Objective, batchSize: number): Promise<Record<string, number>> {
  const indices = Array.from({ length: objective.size }, (_, i) => i);
  const totals = objective.totals(indices);
  const sums: Record<string, number> = {};
  try {
    for (let start = 0; start < indices.length; start += batchSize) {
      const outcome = await objective.microBatch(indices.slice(start, start + batchSize), totals, 0);
      for (const [k, x] of Object.entries(await settle(gpu, outcome))) sums[k] = (sums[k] ?? 0) + x;
    }
  } finally {
    objective.release();
  }
  return objective.metrics(sums, totals);
}
