// What ORPO and SimPO share: a micro-batch of P pairs as 2P rows (chosen 0..P-1, rejected P..2P-1, as DPO's
// concatenated batch) and each completion's length-averaged log-prob, TRL's get_batch_logps(average_log_prob=True).
import { sftBatch, type TokenBatch } from '../data/batch.ts';
import type { DpoExample, Sequence } from '../data/tokenize.ts';
import { type RowSums, rowSums } from './host.ts';

/** Rows [chosen..., rejected...]; with `fullTargets` every token after the first is a target (prompt included). */
export function pairedBatch(pairs: DpoExample[], padId: number, fullTargets: boolean): { batch: TokenBatch; seqs: Sequence[] } {
  const seqs = [...pairs.map((p) => p.chosen), ...pairs.map((p) => p.rejected)];
  const rows = seqs.map((seq, line) => ({ line, seq: fullTargets ? { ids: seq.ids, completionStart: 0 } : seq }));
  return { batch: sftBatch(rows, padId), seqs };
}

/** First position of row s whose target is a completion token. */
export const completionFrom = (seqs: Sequence[]) => (s: number) => Math.max(seqs[s].completionStart - 1, 0);

/** Completion sums and counts per row, and their averages. */
export function completionAverages(logprobs: ArrayLike<number>, batch: TokenBatch, seqs: Sequence[]): RowSums & { averages: Float64Array } {
  const c = rowSums(logprobs, batch, completionFrom(seqs));
  return { ...c, averages: c.sums.map((x, s) => x / c.counts[s]) };
}

/** TRL's reward metrics of ORPO and CPO, in the order they log them. */
const PAIR_REWARD_METRICS = [
  'rewards/chosen',
  'rewards/rejected',
  'rewards/accuracies',
  'rewards/margins',
  'logps/rejected',
  'logps/chosen',
];

/** The reward metrics summed over the batch's pairs: rewards beta * (averaged) log-probs. */
export function pairRewardSums(averages: Float64Array, P: number, beta: number): Record<string, number> {
  const m: Record<string, number> = Object.fromEntries(PAIR_REWARD_METRICS.map((k) => [k, 0]));
  for (let p = 0; p < P; p++) {
    const [c, r] = [beta * averages[p], beta * averages[P + p]];
    m['rewards/chosen'] += c;
    m['rewards/rejected'] += r;
    m['rewards/accuracies'] += c > r ? 1 : 0;
    m['rewards/margins'] += c - r;
    m['logps/rejected'] += averages[P + p];
    m['logps/chosen'] += averages[p];
  }
  return m;
}

/** The window's reward metrics: pairRewardSums added over its micro-batches, as means over its pairs. */
export function pairRewardMeans(sums: Record<string, number>, pairs: number): Record<string, number> {
  return Object.fromEntries(PAIR_REWARD_METRICS.map((k) => [k, sums[k] / pairs]));
}
