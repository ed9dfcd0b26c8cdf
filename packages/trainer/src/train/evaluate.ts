// Evaluation through a training objective (KTO, ORPO, SimPO): the objective's own micro-batch and metrics, run with
// no trained adapter (forwards only, dropout off), over the whole dataset in order as one window. Its metrics are
// then what a training step over the same rows would log before its update: ORPO's and SimPO's means over every
// pair (and the NLL over every chosen token), KTO's loss over every row with its per-batch metrics averaged over the
// batches, each batch's KL rows formed within it as in training.
import type { Objective } from '../objectives/objective.ts';

export async function evaluateObjective(objective: Objective, batchSize: number): Promise<Record<string, number>> {
  const indices = Array.from({ length: objective.size }, (_, i) => i);
  const totals = objective.totals(indices);
  const sums: Record<string, number> = {};
  try {
    for (let start = 0; start < indices.length; start += batchSize) {
      const outcome = await objective.microBatch(indices.slice(start, start + batchSize), totals, 0);
      for (const [k, x] of Object.entries(outcome.sums)) sums[k] = (sums[k] ?? 0) + x;
    }
  } finally {
    objective.release();
  }
  return objective.metrics(sums, totals);
}
