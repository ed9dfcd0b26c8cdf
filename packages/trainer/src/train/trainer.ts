// The training loop, top to bottom: make the adapter and optimizer, then per optimizer step draw a window of
// micro-batches, let the objective (objectives/*) run each forward and backward into one flat gradient buffer, clip
// and update with AdamW, log, checkpoint. What a micro-batch computes and how it is normalised over the window is
// the objective's (objectives/objective.ts); this file only picks the objective for the method (objectiveFor).
import { adamw, countsBetween, flagNonFinite, type Gpu, type GpuCounts, mixSeed, type StagedRead, sumOfSquares } from '@webtune/kernels';
import { shuffled } from '../data/batch.ts';
import type { DpoExample, SftExample } from '../data/tokenize.ts';
import { LoraAdapter } from '../model/lora.ts';
import type { Model } from '../model/model.ts';
import { dpoObjective, type ReferenceLogps } from '../objectives/dpo.ts';
import { type KtoExample, type KtoReferenceLogps, ktoObjective } from '../objectives/kto.ts';
import { type MicroBatchOutcome, type Objective, type ObjectiveContext, settle, type Totals } from '../objectives/objective.ts';
import { orpoObjective } from '../objectives/orpo.ts';
import { sftObjective } from '../objectives/sft.ts';
import { simpoObjective } from '../objectives/simpo.ts';
import { lrForStep } from '../optim/schedule.ts';
import { type TrainConfig, totalSteps } from './config.ts';
import type { RunControl } from './control.ts';
import type { LogRecord, TrainEvent } from './events.ts';
import { locateNonFinite } from './nonfinite.ts';
import { type BestStep, evaluationDue, type Validation } from './validation.ts';

export type TrainData =
  | { method: 'sft'; examples: SftExample[] }
  | { method: 'dpo'; examples: DpoExample[]; reference: ReferenceLogps }
  | { method: 'kto'; examples: KtoExample[]; reference: KtoReferenceLogps }
  | { method: 'orpo' | 'simpo'; examples: DpoExample[] };

/** Everything needed to continue a run exactly where a checkpoint left it. */
export interface RunState {
  optimizerStep: number;
  /** Epoch index and micro-batch index within it of the next micro-batch. */
  epoch: number;
  cursor: number;
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
  metrics: LogRecord[];
  /** Metrics of the optimizer steps since the last log record (logging_steps > 1): the next record averages them. */
  pending: Record<string, number>[];
  numTokens: number;
  /** The best evaluation so far, with its weights (load_best_model_at_end: train/validation.ts). */
  best?: BestStep;
}

export interface TrainHooks {
  onEvent(e: TrainEvent): void;
  control: RunControl;
  /** Called every save_steps with the state to persist. */
  checkpoint?(state: RunState): Promise<void>;
  /** Start from this state instead of a fresh adapter. */
  resume?: RunState;
  /** Evaluations of held-out rows as eval_strategy asks (train/validation.ts). */
  validation?: Validation;
  /**
   * A step to read as soon as its update is queued, not a step late: the one the service cancels the run after, on its
   * event (stopAfterStep), so that the cancel lands before the next step's window is run only to be dropped.
   */
  readAtOnce?: number;
}

export interface TrainOutcome {
  status: 'completed' | 'cancelled' | 'diverged';
  /** Why a run stopped early, for the user. */
  message: string;
  adapter: LoraAdapter;
  metrics: LogRecord[];
  steps: number;
  /**
   * Dispatches, submits and host reads of one optimizer step of this run (its window, update and the read of its
   * outputs; not checkpoints or evaluations): each count's median over the steps, so one-off work (DPO's reference
   * pass of a batch seen first) does not stand for every step; null when no step ended.
   */
  stepCounts: GpuCounts | null;
}

export class TrainingError extends Error {
  override name = 'TrainingError';
}

/** The objective that trains on `data` (and, with no trained adapter in `ctx`, measures it: train/evaluate.ts). */
export function objectiveFor(data: TrainData, ctx: ObjectiveContext): Objective {
  switch (data.method) {
    case 'sft':
      return sftObjective(ctx, data.examples);
    case 'dpo':
      return dpoObjective(ctx, data.examples, data.reference);
    case 'kto': {
      const { beta, lossType, desirableWeight, undesirableWeight } = ctx.config;
      if (lossType !== 'kto' && lossType !== 'apo_zero_unpaired') throw new TrainingError(`KTO has no loss_type "${lossType}"`);
      return ktoObjective(ctx, data.examples, data.reference, { beta, lossType, desirableWeight, undesirableWeight });
    }
    case 'orpo':
      return orpoObjective(ctx, data.examples, ctx.config.beta);
    case 'simpo':
      return simpoObjective(ctx, data.examples, ctx.config);
  }
}

/** Micro-batches (example indices) of one epoch, in the seeded order (or in dataset order for a sequential objective). */
function epochBatches(objective: Objective, batchSize: number, seed: number, epoch: number): number[][] {
  const indices = Array.from({ length: objective.size }, (_, i) => i);
  const order = objective.sequential ? indices : shuffled(indices, seed, epoch);
  const out: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) out.push(order.slice(i, i + batchSize));
  return out;
}

/** The mean of each metric over the records that carry it (a log record over logging_steps optimizer steps). */
function meanOf(records: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set(records.flatMap((r) => Object.keys(r)))) {
    const have = records.filter((r) => k in r);
    out[k] = have.reduce((s, r) => s + r[k], 0) / have.length;
  }
  return out;
}

/** An optimizer step whose update is queued on the GPU and whose outputs and gradient norm are not read yet. */
interface Queued {
  step: number;
  window: number[][];
  totals: Totals;
  outcomes: MicroBatchOutcome[];
  /** The gradient norm's sum of squares, copied by the update's submit. */
  norm: StagedRead;
  /** Tokens run in this run up to and including the step. */
  tokens: number;
  /** What its window and update cost (host reads inside the window included; the read of its outputs not yet). */
  counts: GpuCounts;
}

/** Each count's median over the steps (the lower middle of an even number); null for none. */
function medianCounts(steps: GpuCounts[]): GpuCounts | null {
  if (steps.length === 0) return null;
  const median = (k: keyof GpuCounts) => steps.map((c) => c[k]).sort((a, b) => a - b)[(steps.length - 1) >> 1];
  return { dispatches: median('dispatches'), submits: median('submits'), hostReads: median('hostReads') };
}

/** The window's metric sums: each micro-batch's from its read values (`values`, in order, for those staged). */
function addSums(outcomes: MicroBatchOutcome[], values: Float32Array[][]): Record<string, number> {
  const sums: Record<string, number> = {};
  let read = 0;
  for (const o of outcomes) for (const [k, x] of Object.entries(o.sums(o.staged ? values[read++] : []))) sums[k] = (sums[k] ?? 0) + x;
  return sums;
}

/** Frees the staging buffers of a queued step the run will not read. */
function discard(q: Queued): void {
  for (const o of q.outcomes) o.staged?.discard();
  q.norm.discard();
}

export async function runTraining(
  gpu: Gpu,
  model: Model,
  frozen: LoraAdapter[],
  data: TrainData,
  config: TrainConfig,
  padId: number,
  hooks: TrainHooks,
): Promise<TrainOutcome> {
  if (data.examples.length === 0) throw new TrainingError('no training examples left after validation and truncation');
  const { stepsPerEpoch, total } = totalSteps(config, data.examples.length);
  const state: RunState = hooks.resume
    ? { ...hooks.resume, metrics: [...hooks.resume.metrics], pending: [...hooks.resume.pending] }
    : {
        optimizerStep: 0,
        epoch: 0,
        cursor: 0,
        params: new Float32Array(0),
        m: new Float32Array(0),
        v: new Float32Array(0),
        metrics: [],
        pending: [],
        numTokens: 0,
      };
  // Out of GPU memory shows when the run's buffers are made and when its first step records and runs its activations:
  // both run inside error scopes (Gpu.checked), so it arrives as a GpuOutOfMemoryError naming the run's shape, not as a
  // console warning and garbage later. Later steps allocate only for a longer batch than any before; what goes wrong
  // there reaches Gpu.onError.
  const what = `the ${config.method.toUpperCase()} run's buffers and first step (batch size ${config.batchSize}, max_length ${config.maxLength}, LoRA r ${config.lora.r})`;
  const { adapter, grads, m, v, sumsq, halt, optimizer, gradNorm } = await gpu.checked(what, async () => {
    const adapter = LoraAdapter.create(gpu, model.config, config.lora, config.seed);
    const grads = adapter.like('lora grads');
    const m = adapter.like('adamw m');
    const v = adapter.like('adamw v');
    const sumsq = gpu.tensor([1], 'grad sumsq');
    // AdamW's "do not update" switch, raised on the GPU by a non-finite loss term or gradient norm and never lowered: the
    // host reads a step's loss and norm only after the next step is queued, and by then no update may have used them.
    const halt = gpu.tensor([1], 'halt on non-finite', 'u32');
    if (hooks.resume) {
      adapter.load(hooks.resume.params);
      gpu.write(m, hooks.resume.m);
      gpu.write(v, hooks.resume.v);
    }
    const hyper = {
      beta1: config.adamBeta1,
      beta2: config.adamBeta2,
      eps: config.adamEpsilon,
      weightDecay: config.weightDecay,
      maxGradNorm: config.maxGradNorm,
    };
    const optimizer = await adamw(gpu, { param: adapter.params, grad: grads, m, v, sumsq, halt }, hyper);
    const gradNorm = [...(await sumOfSquares(gpu, sumsq, grads)), await flagNonFinite(gpu, { x: sumsq, flag: halt })];
    return { adapter, grads, m, v, sumsq, halt, optimizer, gradNorm };
  });
  const objective = objectiveFor(data, { gpu, model, frozen, adapter, grads, config, padId, halt });
  const stepCounts: GpuCounts[] = [];
  /** The step whose update is queued and whose outputs are read once the next step is queued (optimizerStep). */
  let queued: Queued | null = null;

  // Every way out (completed, cancelled, diverged, an error) frees the run's buffers; only a finished run's adapter is
  // handed back.
  const release = () => {
    for (const t of [grads, m, v, sumsq, halt]) t.buffer.destroy();
    if (queued) discard(queued);
    objective.release();
    model.releaseSteps();
  };
  // The adapter handed back (and every checkpoint) holds finite weights. A finite loss and gradient can still make an
  // update that is not (a learning rate past float32's range): then the run falls back to its last checkpoint, or
  // keeps nothing, rather than writing NaN weights as if they were a result.
  let lastGood = hooks.resume ? { step: hooks.resume.optimizerStep, params: hooks.resume.params } : null;
  const stopped = async (status: TrainOutcome['status'], message: string): Promise<TrainOutcome> => {
    const bad = state.optimizerStep > 0 ? adapter.nonFiniteTensor(await gpu.read(adapter.params)) : null;
    if (bad !== null) {
      const after = state.optimizerStep;
      const kept = lastGood ? `the adapter keeps its weights from step ${lastGood.step}, its last checkpoint` : 'no weights are kept';
      if (lastGood) adapter.load(lastGood.params);
      state.optimizerStep = lastGood?.step ?? 0;
      state.metrics = state.metrics.filter((r) => r.step <= state.optimizerStep);
      status = 'diverged';
      message =
        `Training stopped after step ${after}: the adapter's weights are no longer finite numbers (${bad} holds NaN or ` +
        `Infinity), so ${kept}. Lower the learning rate and keep gradient clipping on (max_grad_norm 1.0).`;
    }
    release();
    return { status, message, adapter, metrics: state.metrics, steps: state.optimizerStep, stepCounts: medianCounts(stepCounts) };
  };
  hooks.onEvent({ type: 'phase', phase: 'training', message: `training ${total} steps (${stepsPerEpoch} per epoch)` });
  const started = performance.now();
  const baseTokens = hooks.resume?.numTokens ?? 0;
  let tokensThisRun = 0;
  let lastSaved = started;
  let savedStep = hooks.resume?.optimizerStep ?? 0;
  /** Checkpoints the end of the last whole step (none at step 0, at the last step, or twice at one step). */
  const saveCheckpoint = async () => {
    if (!hooks.checkpoint || state.optimizerStep === savedStep || state.optimizerStep >= total) return;
    const [params, mm, vv] = await Promise.all([gpu.read(adapter.params), gpu.read(m), gpu.read(v)]);
    if (adapter.nonFiniteTensor(params) !== null) return; // never overwrite a good checkpoint; `stopped` says why
    await hooks.checkpoint({ ...state, pending: [...state.pending], params, m: mm, v: vv, numTokens: baseTokens + tokensThisRun });
    hooks.onEvent({ type: 'checkpoint', step: state.optimizerStep });
    savedStep = state.optimizerStep;
    lastSaved = performance.now();
    lastGood = { step: state.optimizerStep, params };
  };

  // The first step runs inside an error scope (gpu.checked, below): what it reports (its events, its checkpoint) waits
  // until the scope has closed clean, so a step whose GPU work failed is never logged nor saved.
  let held: TrainEvent[] | null = null;
  let saveHeld = false;
  const emit = (e: TrainEvent) => (held ? held.push(e) : hooks.onEvent(e));
  const save = async () => {
    if (held) saveHeld = true;
    else await saveCheckpoint();
  };

  let batches = epochBatches(objective, config.batchSize, config.seed, state.epoch);

  /**
   * One optimizer step: a window of micro-batches, then the update, queued without waiting for the GPU. What the host
   * needs from a step (its loss, metrics and gradient norm) is read a step late, in one host read, once the next step's
   * micro-batches are queued and before its update is (`finish`), so the GPU has work while the host reads and logs; a
   * step after which the run checkpoints, evaluates or ends, and the first (inside its error scope), is read at once.
   * Returns the outcome when the run stops early.
   */
  const optimizerStep = async (first: boolean): Promise<TrainOutcome | null> => {
    const windowStart = { epoch: state.epoch, cursor: state.cursor };
    const countsBefore = gpu.ledger.countsSoFar;
    const tokensBefore = tokensThisRun;
    // ---- the window: gradient_accumulation_steps micro-batches (fewer at an epoch's end) ----
    const window: number[][] = [];
    while (window.length < config.gradientAccumulationSteps) {
      if (state.cursor >= batches.length) {
        if (window.length > 0) break; // an epoch's last, shorter window
        state.epoch++;
        state.cursor = 0;
        batches = epochBatches(objective, config.batchSize, config.seed, state.epoch);
      }
      window.push(batches[state.cursor++]);
    }
    const stepNumber = state.optimizerStep + 1;
    const totals = objective.totals(window.flat());
    // Each micro-batch draws its own dropout masks: seeded by (seed, optimizer step, micro-batch in the window), a
    // function of the run's position, so a resumed run (and a rerun of the window) draws the same ones.
    const dropoutSeed = (microIndex: number) => mixSeed(config.seed, stepNumber, microIndex);

    // ---- forward and backward of each micro-batch, gradients added into one buffer ----
    // The gradient buffer is zero here: made zero, and cleared in the submit of every update.
    const outcomes: MicroBatchOutcome[] = [];
    /**
     * This window's micro-batches are dropped with their gradients: the run stands at the end of its last whole step
     * (finished first), and a checkpoint of that (unless one was just saved) lets a resumed run repeat them.
     */
    const cancel = async (): Promise<TrainOutcome> => {
      for (const o of outcomes) o.staged?.discard();
      if (state.epoch !== windowStart.epoch) batches = epochBatches(objective, config.batchSize, config.seed, windowStart.epoch);
      Object.assign(state, windowStart);
      tokensThisRun = tokensBefore;
      const ended = await finishQueued();
      if (ended) return ended;
      await saveCheckpoint();
      return stopped('cancelled', `cancelled at step ${state.optimizerStep}`);
    };
    for (const [microIndex, micro] of window.entries()) {
      await hooks.control.checkpoint();
      if (hooks.control.isCancelled) return cancel();
      const outcome = await objective.microBatch(micro, totals, dropoutSeed(microIndex));
      tokensThisRun += outcome.inputTokens;
      outcomes.push(outcome);
    }
    const windowCounts = countsBetween(countsBefore, gpu.ledger.countsSoFar);

    // ---- the step before, read while this window runs: its update is queued, this one's is not yet, so a cancel or
    // pause on its events leaves the weights exactly as it left them ----
    if (queued) {
      const ended = await finishQueued();
      if (ended) {
        for (const o of outcomes) o.staged?.discard();
        return ended;
      }
      await hooks.control.checkpoint();
      if (hooks.control.isCancelled) return cancel();
    }
    // Every objective's loss terms raise the halt switch on the GPU when not finite (haltOnNonFinite), the gradient
    // norm in the update's submit.

    // ---- the update: grad norm, AdamW (skipped on the GPU once halt is raised), gradients cleared; the norm copied ----
    const lr = lrForStep(config.lrSchedulerType, config.learningRate, stepNumber, config.warmupSteps, total);
    optimizer.update({ lr, step: stepNumber });
    const updateFrom = gpu.ledger.countsSoFar;
    const norm = gpu.runAndStage([...gradNorm, ...optimizer.dispatches, { label: 'clear lora grads', clear: grads }], [sumsq]);
    const updateCounts = countsBetween(updateFrom, gpu.ledger.countsSoFar);
    const counts = {
      dispatches: windowCounts.dispatches + updateCounts.dispatches,
      submits: windowCounts.submits + updateCounts.submits,
      hostReads: windowCounts.hostReads + updateCounts.hostReads,
    };
    const step: Queued = { step: stepNumber, window, totals, outcomes, norm, tokens: tokensThisRun, counts };
    state.optimizerStep = stepNumber;
    // A step after which the run checkpoints, evaluates, ends or is stopped (readAtOnce), and the first (inside its
    // error scope), is read now.
    const epochEnded = state.cursor >= batches.length;
    const evaluating = hooks.validation !== undefined && evaluationDue(config, stepNumber, epochEnded);
    const readNow = first || stepNumber >= total || stepNumber === hooks.readAtOnce || evaluating || checkpointDue(stepNumber);
    if (!readNow) {
      queued = step;
      return null;
    }
    const ended = await finish(step);
    if (ended) return ended;
    const evaluation = evaluating ? await hooks.validation?.afterStep(state, adapter, epochEnded, stepsPerEpoch) : null;
    if (evaluation) {
      state.metrics.push(evaluation);
      emit({ type: 'log', record: evaluation });
    }
    if (checkpointDue(stepNumber)) await save();
    return null;
  };

  /** Checkpoints every save_steps, and by time as well, and once after step 1: a run is resumable from its first minute. */
  const checkpointDue = (step: number) =>
    hooks.checkpoint !== undefined &&
    ((config.saveSteps > 0 && step % config.saveSteps === 0) ||
      (config.saveMinutes > 0 && (step === 1 || performance.now() - lastSaved >= config.saveMinutes * 60_000)));

  /** Reads a queued step's outputs and gradient norm (one host read), then stops the run if either is not finite, else logs it. */
  const finish = async (q: Queued): Promise<TrainOutcome | null> => {
    const reads = [...q.outcomes.flatMap((o) => (o.staged ? [o.staged] : [])), q.norm];
    const readsBefore = gpu.ledger.countsSoFar.hostReads;
    const values = await gpu.readStaged(reads);
    const counts = { ...q.counts, hostReads: q.counts.hostReads + gpu.ledger.countsSoFar.hostReads - readsBefore };
    stepCounts.push(counts);
    const sq = values.pop()?.[0] ?? [Number.NaN];
    const { loss, ...rest } = objective.metrics(addSums(q.outcomes, values), q.totals);
    const norm = Math.sqrt(sq[0]);
    if (!Number.isFinite(loss) || !Number.isFinite(norm)) {
      // The halt switch kept this step's update off the weights: they are the step's before.
      state.optimizerStep = q.step - 1;
      state.pending = [];
      const what = Number.isFinite(loss) ? `the gradient norm is ${norm}` : `the loss is ${loss}`;
      const scene = { gpu, pool: model.pool, adapter, grads };
      const seed = (i: number) => mixSeed(config.seed, q.step, i);
      const origin = await locateNonFinite(scene, q.window.length, async (i) =>
        settle(gpu, await objective.microBatch(q.window[i], q.totals, seed(i))),
      );
      // Before the first update the learning rate cannot be the cause, and there are no weights to keep.
      const kept =
        state.optimizerStep > 0
          ? `The adapter keeps its weights from step ${state.optimizerStep}. Lower the learning rate, keep gradient clipping on (max_grad_norm 1.0), or check the data for very long or empty answers.`
          : 'No step was completed, so nothing is saved; no update was made yet, so the learning rate is not the cause: check the model, the stage-one adapter and the data (very long or empty answers).';
      return stopped('diverged', `Training stopped at step ${q.step}: ${what}. ${kept} ${origin}`);
    }
    state.pending.push({ loss, grad_norm: norm, ...rest });

    // ---- progress, and a log record every logging_steps ----
    const elapsed = (performance.now() - started) / 1000;
    const perStep = elapsed / (q.step - (hooks.resume?.optimizerStep ?? 0));
    emit({
      type: 'step',
      step: q.step,
      totalSteps: total,
      tokensPerSecond: q.tokens / Math.max(elapsed, 1e-9),
      etaSeconds: perStep * (total - q.step),
      elapsedSeconds: elapsed,
    });
    if (q.step % config.loggingSteps === 0 || q.step === total) {
      const record = { step: q.step, ...meanOf(state.pending) } as LogRecord;
      // HF logs the learning rate the scheduler holds after this step, and the fractional epoch.
      record.learning_rate = lrForStep(config.lrSchedulerType, config.learningRate, q.step + 1, config.warmupSteps, total);
      record.epoch = q.step / stepsPerEpoch;
      record.num_tokens = baseTokens + q.tokens;
      state.metrics.push(record);
      emit({ type: 'log', record });
      state.pending = [];
    }
    return null;
  };
  /** Finishes the step still queued, if any (before the run stops or takes a checkpoint). */
  const finishQueued = async (): Promise<TrainOutcome | null> => {
    const q = queued;
    queued = null;
    return q ? finish(q) : null;
  };

  try {
    for (let first = true; state.optimizerStep < total; first = false) {
      held = first ? [] : null;
      const ended = first ? await gpu.checked(what, () => optimizerStep(true)) : await optimizerStep(false);
      const events = held ?? [];
      held = null;
      if (ended) return ended;
      for (const e of events) hooks.onEvent(e);
      if (saveHeld) await saveCheckpoint();
      saveHeld = false;
    }
    const ended = await finishQueued();
    if (ended) return ended;
  } catch (err) {
    release();
    adapter.destroy();
    throw err;
  }
  return stopped('completed', `trained ${total} steps${hooks.validation?.finish(state, adapter) ?? ''}`);
}
