// KTO as TRL's KTOTrainer (trl/trainer/kto_trainer.py at huggingface/trl f2cd577), loss_type "kto" and
// "apo_zero_unpaired", on unpaired rows {prompt, completion, label}. For a micro-batch of n rows:
//   KL rows: row i's prompt with row (i - 1 mod n)'s completion: the completions rotated by +1 within the batch, as
//     _prepare_dataset builds them for batches of per_device_train_batch_size rows taken in dataset order (TRL
//     requires sequential sampling for this; so does this objective).
//   kl = max(0, mean_i(policy KL logps - reference KL logps)), detached (TRL runs the KL forward under no_grad, in
//     train mode: when training, LoRA dropout is drawn there too, with masks apart from the rows' own).
//   r_i = policy logps - reference logps of row i's completion (sums over completion tokens).
//   kto:  desirable 1 - sigmoid(beta (r - kl)), undesirable 1 - sigmoid(beta (kl - r))
//   apo_zero_unpaired: desirable 1 - sigmoid(beta r), undesirable sigmoid(beta r); no KL term
//   loss = mean over rows of (desirable_weight or undesirable_weight) * row loss; rewards beta r.
// Metrics are TRL's: per micro-batch kl, rewards/{chosen,rejected} and logps/{chosen,rejected} (means over the rows
// of that label) and rewards/margins, averaged over the micro-batches that have them.
// Training runs the loss on the GPU (the ktoLoss kernel) between the forward and the backward, after the KL rows'
// forward in a submit of its own, so a step waits on no host read; evaluation forms the metrics on the host in float64.
import { type KtoLossType, ktoLoss, mixSeed, type Tensor, wholeRowSums } from '@webtune/kernels';
import { sftBatch, type TokenBatch } from '../data/batch.ts';
import type { DpoExample, Sequence } from '../data/tokenize.ts';
import type { KtoExample } from '../data/tokenize-kto.ts';
import type { LoraAdapter } from '../model/lora.ts';
import { sigmoid, targetLogpSums } from './host.ts';
import {
  add,
  haltOnNonFinite,
  inputTokens,
  type Objective,
  type ObjectiveContext,
  policyAdapters,
  tensorSets,
  trainable,
  trainingStep,
  writeInputs,
} from './objective.ts';

export type { KtoExample, KtoLossType };

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

/**
 * The KL rows of a micro-batch: row i's prompt + row (i - 1 mod n)'s whole completion (before max_length cut it in its
 * own row), cut to maxLength keeping the start, as TRL's collator cuts prompt_ids + KL_completion_ids.
 */
export function klSequences(seqs: Sequence[], maxLength: number): Sequence[] {
  const n = seqs.length;
  return seqs.map((s, i) => {
    const other = seqs[(i - 1 + n) % n];
    const completion = other.fullCompletion ?? other.ids.slice(other.completionStart);
    const ids = [...s.ids.slice(0, s.completionStart), ...completion].slice(0, maxLength);
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
  /** Per row: its weighted loss. */
  losses: ArrayLike<number>;
  /** Per row: beta * (policy - reference). */
  rewards: Float64Array;
}

/** Per row: beta * (policy - reference), TRL's rewards. */
const ktoRewards = (policy: ArrayLike<number>, reference: ArrayLike<number>, beta: number) =>
  Float64Array.from({ length: policy.length }, (_, i) => beta * (policy[i] - reference[i]));

/** The weighted per-row losses (float64; training's come from the ktoLoss kernel) and rewards. */
export function ktoRows(policy: ArrayLike<number>, reference: ArrayLike<number>, labels: boolean[], kl: number, o: KtoOptions): KtoRows {
  const n = labels.length;
  const rewards = ktoRewards(policy, reference, o.beta);
  const losses = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const w = labels[i] ? o.desirableWeight : o.undesirableWeight;
    // desirable: 1 - sigmoid(x) = sigmoid(-x) with x = beta (r - kl) (apo: kl = 0)
    // undesirable, kto: 1 - sigmoid(beta (kl - r)) = sigmoid(beta (r - kl)); apo: sigmoid(beta r)
    const x = o.beta * (policy[i] - reference[i] - (o.lossType === 'kto' ? kl : 0));
    losses[i] = w * (labels[i] ? sigmoid(-x) : sigmoid(x));
  }
  return { losses, rewards };
}

/** TRL's per-micro-batch metrics (loss = the mean weighted row loss). */
export function ktoBatchMetrics(policy: ArrayLike<number>, rows: KtoRows, labels: boolean[], kl: number): Record<string, number> {
  let total = 0;
  for (let i = 0; i < labels.length; i++) total += rows.losses[i];
  const m: Record<string, number> = { loss: total / labels.length, kl };
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

/** The ktoLoss kernel's tensors besides the step's log-probs and weights, for n rows. */
type KtoLossTensors = Record<'refLogps' | 'labelWeights' | 'klLogps' | 'refKlLogps' | 'seqLogps' | 'losses' | 'kl', Tensor>;

/** The sums a micro-batch adds to its window: its rows' losses, and its TRL metrics with how many batches had them. */
function ktoSums(losses: ArrayLike<number>, metrics: Record<string, number>): Record<string, number> {
  const sums: Record<string, number> = { loss: 0 };
  for (let i = 0; i < losses.length; i++) sums.loss += losses[i];
  for (const k of BATCH_MEANS) {
    if (!(k in metrics)) continue;
    add(sums, k, metrics[k]);
    add(sums, `batches with ${k}`, 1);
  }
  return sums;
}

/** The KL rows' dropout masks are drawn apart from the micro-batch's own (TRL's KL forward draws new ones). */
export const klDropoutSeed = (dropoutSeed: number): number => mixSeed(dropoutSeed, 1);

export function ktoObjective(ctx: ObjectiveContext, examples: KtoExample[], reference: KtoReferenceLogps, o: KtoOptions): Objective {
  const { gpu, model, padId, config } = ctx;
  const training = ctx.adapter !== null && ctx.grads !== null;
  const buffers = tensorSets<KtoLossTensors>();
  // The KL rows' forward when training: no backward (TRL: under no_grad), but in train mode, so the trained adapter's
  // LoRA dropout is drawn, with masks of its own (klDropoutSeed).
  const klStep = (batch: TokenBatch) =>
    model.step(batch.B, batch.T, { frozen: ctx.frozen, trainable: trainable(ctx), train: false, drawDropout: true });
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
      const batch = sftBatch(exs, padId);
      const tokens = inputTokens(
        batch,
        seqs.map((s) => s.ids.length),
      );
      if (!training) {
        // Summed on the GPU as the reference is (targetLogpSums): at the reference, rewards and KL are exactly 0.
        const sumsOf = (adapters: LoraAdapter[], rows: Sequence[]) =>
          targetLogpSums({ gpu, model, adapters, seqs: rows, batchSize: rows.length, padId });
        const kl = klSeqs && ref.kl ? ktoKl(await sumsOf(policyAdapters(ctx), klSeqs), ref.kl) : 0;
        const policy = Float64Array.from(await sumsOf(ctx.frozen, seqs));
        const rows = ktoRows(policy, ref.completions, labels, kl, o);
        const sums = ktoSums(rows.losses, ktoBatchMetrics(policy, rows, labels, kl));
        return { sums: () => sums, inputTokens: tokens };
      }
      const klBatch =
        klSeqs && ref.kl
          ? sftBatch(
              klSeqs.map((seq, i) => ({ line: i, seq })),
              padId,
            )
          : null;
      const n = exs.length;
      const t = (shape: number[], name: string) => gpu.tensor(shape, `kto ${name}`);
      const b = buffers.of(String(n), () => ({
        refLogps: t([n], 'ref logps'),
        labelWeights: t([n], 'label weights'),
        klLogps: t([n], 'kl logps'),
        refKlLogps: t([n], 'ref kl logps'),
        seqLogps: t([n], 'seq logps'),
        losses: t([n], 'losses'),
        kl: t([1], 'kl'),
      }));
      // Both steps built before either is recorded: the training step's build may grow the pool, which makes a KL
      // step built before it stale, and the second klStep call rebuilds it (it then grows nothing).
      if (klBatch) await klStep(klBatch);
      const step = await trainingStep(ctx, batch.B, batch.T);
      gpu.write(b.refLogps, Float32Array.from(ref.completions));
      gpu.write(
        b.labelWeights,
        Float32Array.from(labels, (l) => (l ? o.desirableWeight : -o.undesirableWeight)),
      );
      if (klBatch && ref.kl) {
        const kls = await klStep(klBatch);
        writeInputs(gpu, kls, klBatch);
        kls.reseed(klDropoutSeed(dropoutSeed));
        gpu.write(b.refKlLogps, Float32Array.from(ref.kl));
        // Its own submit, not waited for: the training step's inputs are written after it, into the same buffers.
        gpu.run(...kls.forward, await wholeRowSums(gpu, 'kto kl sums', kls.logprobs.view([klBatch.B, klBatch.T]), b.klLogps));
      }
      writeInputs(gpu, step, batch);
      const [B, T] = [batch.B, batch.T];
      const kernel = { beta: o.beta, lossType: o.lossType, rowsTotal: windowRows };
      const loss = await ktoLoss(gpu, { logprobs: step.logprobs.view([B, T]), weights: step.lossWeights.view([B, T]), ...b }, kernel);
      step.reseed(dropoutSeed);
      const guard = await haltOnNonFinite(ctx, b.losses);
      const staged = gpu.runAndStage([...step.forward, ...loss, ...guard, ...step.backward], [b.losses, b.seqLogps, b.kl]);
      const sums = ([losses, seq, [kl]]: Float32Array[]) => {
        const policy = Float64Array.from(seq);
        const rows = { losses, rewards: ktoRewards(policy, ref.completions, o.beta) };
        return ktoSums(losses, ktoBatchMetrics(policy, rows, labels, kl));
      };
      return { staged, sums, inputTokens: tokens };
    },
    metrics(sums, { rows }) {
      const out: Record<string, number> = { loss: sums.loss / rows };
      for (const k of BATCH_MEANS) if (sums[`batches with ${k}`]) out[k] = sums[k] / sums[`batches with ${k}`];
      return out;
    },
    release: () => buffers.release(),
  };
}
