// KTO as TRL's KTOTrainer (trl/trainer/kto_trainer.py at huggingface/trl f2cd577), loss_type "kto" and
// "apo_zero_unpaired", on unpaired rows {prompt, completion, label}. For a micro-batch of n rows:
//   KL rows: row i's prompt with row (i - 1 mod n)'s completion: the completions rotated by +1 within the batch, as
//     _prepare_dataset builds them for batches of per_device_train_batch_size rows taken in dataset order (TRL
//     requires sequential sampling for this; so does this objective).
//   kl = max(0, mean_i(policy KL logps - reference KL logps)), detached (TRL runs the KL forward under no_grad).
//   r_i = policy logps - reference logps of row i's completion (sums over completion tokens).
//   kto:  desirable 1 - sigmoid(beta (r - kl)), undesirable 1 - sigmoid(beta (kl - r))
//   apo_zero_unpaired: desirable 1 - sigmoid(beta r), undesirable sigmoid(beta r); no KL term
//   loss = mean over rows of (desirable_weight or undesirable_weight) * row loss; rewards beta r.
// Metrics are TRL's: per micro-batch kl, rewards/{chosen,rejected} and logps/{chosen,rejected} (means over the rows
// of that label) and rewards/margins, averaged over the micro-batches that have them.
import { sftBatch } from '../data/batch.ts';
import type { DpoExample, Sequence } from '../data/tokenize.ts';
import type { KtoExample } from '../data/tokenize-kto.ts';

export type { KtoExample };

import { forwardThenBackward, rowSums, rowWeights, sigmoid } from './host.ts';
import { add, inputTokens, type Objective, type ObjectiveContext, policyAdapters, writeInputs } from './objective.ts';

export type KtoLossType = 'kto' | 'apo_zero_unpaired';

export interface KtoOptions {
  beta: number;
  lossType: KtoLossType;
  desirableWeight: number;
  undesirableWeight: number;
}

/** The reference's completion and KL log-prob sums of a micro-batch's rows (train/reference.ts KtoReferenceCache). */
export interface KtoReferenceLogps {
  of(indices: number[], completions: Sequence[], kl: Sequence[] | null): Promise<{ completions: Float64Array; kl: Float64Array | null }>;
}

/**
 * TRL's unpair_preference_dataset: per chunk of 1000 pairs (datasets' default map batch), the chosen completions as
 * desirable rows, then the rejected ones as undesirable rows.
 */
export function unpairDpo(pairs: DpoExample[]): KtoExample[] {
  const out: KtoExample[] = [];
  for (let start = 0; start < pairs.length; start += 1000) {
    const chunk = pairs.slice(start, start + 1000);
    for (const p of chunk) out.push({ line: p.line, seq: p.chosen, label: true });
    for (const p of chunk) out.push({ line: p.line, seq: p.rejected, label: false });
  }
  return out;
}

/** The KL rows of a micro-batch: row i's prompt + row (i - 1 mod n)'s completion, cut to maxLength keeping the start. */
export function klSequences(seqs: Sequence[], maxLength: number): Sequence[] {
  const n = seqs.length;
  return seqs.map((s, i) => {
    const other = seqs[(i - 1 + n) % n];
    const ids = [...s.ids.slice(0, s.completionStart), ...other.ids.slice(other.completionStart)].slice(0, maxLength);
    return { ids, completionStart: s.completionStart };
  });
}

/** The clamped, detached KL estimate from the KL rows' policy and reference sums. */
export function ktoKl(policy: ArrayLike<number>, reference: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < policy.length; i++) d += policy[i] - reference[i];
  return Math.max(0, d / policy.length);
}

export interface KtoRows {
  /** Per row: its weighted loss, and d(weighted loss)/d(its policy completion sum). */
  losses: Float64Array;
  dLossDSum: Float64Array;
  /** Per row: beta * (policy - reference). */
  rewards: Float64Array;
}

/** The weighted per-row losses and their gradients (float64). */
export function ktoRows(policy: ArrayLike<number>, reference: ArrayLike<number>, labels: boolean[], kl: number, o: KtoOptions): KtoRows {
  const n = labels.length;
  const out: KtoRows = { losses: new Float64Array(n), dLossDSum: new Float64Array(n), rewards: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    const r = policy[i] - reference[i];
    const w = labels[i] ? o.desirableWeight : o.undesirableWeight;
    // desirable: 1 - sigmoid(x) = sigmoid(-x) with x = beta (r - kl) (apo: kl = 0); d/dr = -beta s(x) s(-x)
    // undesirable, kto: sigmoid(-(beta (kl - r))) = sigmoid(beta (r - kl)); apo: sigmoid(beta r); d/dr = +beta s(x) s(-x)
    const x = o.beta * (r - (o.lossType === 'kto' ? kl : 0));
    const slope = o.beta * sigmoid(x) * sigmoid(-x);
    out.losses[i] = w * (labels[i] ? sigmoid(-x) : sigmoid(x));
    out.dLossDSum[i] = w * (labels[i] ? -slope : slope);
    out.rewards[i] = o.beta * r;
  }
  return out;
}

/** TRL's per-micro-batch metrics (loss = the mean weighted row loss). */
export function ktoBatchMetrics(policy: ArrayLike<number>, rows: KtoRows, labels: boolean[], kl: number): Record<string, number> {
  const m: Record<string, number> = { loss: rows.losses.reduce((a, b) => a + b, 0) / labels.length, kl };
  for (const [label, name] of [
    [true, 'chosen'],
    [false, 'rejected'],
  ] as const) {
    const idx = labels.flatMap((l, i) => (l === label ? [i] : []));
    if (idx.length === 0) continue;
    m[`rewards/${name}`] = idx.reduce((s, i) => s + rows.rewards[i], 0) / idx.length;
    m[`logps/${name}`] = idx.reduce((s, i) => s + policy[i], 0) / idx.length;
  }
  if ('rewards/chosen' in m && 'rewards/rejected' in m) m['rewards/margins'] = m['rewards/chosen'] - m['rewards/rejected'];
  return m;
}

/** Metrics averaged over the window's micro-batches that have them, as TRL's log averages its per-batch lists. */
const BATCH_MEANS = ['kl', 'rewards/chosen', 'rewards/rejected', 'logps/chosen', 'logps/rejected', 'rewards/margins'];

export function ktoObjective(ctx: ObjectiveContext, examples: KtoExample[], reference: KtoReferenceLogps, o: KtoOptions): Objective {
  const { gpu, model, padId, config } = ctx;
  return {
    size: examples.length,
    sequential: true,
    totals: (indices) => ({ rows: indices.length }),
    async microBatch(indices, { rows: windowRows }, dropoutSeed) {
      const exs = indices.map((i) => examples[i]);
      const seqs = exs.map((e) => e.seq);
      const labels = exs.map((e) => e.label);
      const klSeqs = o.lossType === 'kto' ? klSequences(seqs, config.maxLength) : null;
      // First: reference passes not cached yet run the model, and their inputs share buffers with this step's.
      const ref = await reference.of(indices, seqs, klSeqs);
      let kl = 0;
      if (klSeqs && ref.kl) {
        // The policy's KL log-probs: a forward without dropout and without a backward (TRL: under no_grad).
        const batch = sftBatch(
          klSeqs.map((seq, i) => ({ line: i, seq })),
          padId,
        );
        const step = await model.step(batch.B, batch.T, { frozen: policyAdapters(ctx), train: false });
        writeInputs(gpu, step, batch);
        gpu.run(...step.forward);
        kl = ktoKl(rowSums(await gpu.read(step.logprobs), batch).sums, ref.kl);
      }
      const batch = sftBatch(exs, padId);
      const { rows, metrics } = await forwardThenBackward(ctx, batch, dropoutSeed, (logprobs) => {
        const policy = rowSums(logprobs, batch).sums;
        const rows = ktoRows(policy, ref.completions, labels, kl, o);
        const perRow = rows.dLossDSum.map((d) => -d / windowRows);
        return { weights: rowWeights(batch, perRow), rows, metrics: ktoBatchMetrics(policy, rows, labels, kl) };
      });
      const sums: Record<string, number> = { loss: rows.losses.reduce((a, b) => a + b, 0) };
      for (const k of BATCH_MEANS) {
        if (!(k in metrics)) continue;
        add(sums, k, metrics[k]);
        add(sums, `batches with ${k}`, 1);
      }
      return {
        sums: () => sums,
        inputTokens: inputTokens(
          batch,
          seqs.map((s) => s.ids.length),
        ),
      };
    },
    metrics(sums, { rows }) {
      const out: Record<string, number> = { loss: sums.loss / rows };
      for (const k of BATCH_MEANS) if (sums[`batches with ${k}`]) out[k] = sums[k] / sums[`batches with ${k}`];
      return out;
    },
    release() {},
  };
}
