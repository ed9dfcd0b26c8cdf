// The training loop, top to bottom: make the adapter and optimizer, then per optimizer step draw a window of
// micro-batches, let the objective (objectives/*) run each forward and backward into one flat gradient buffer, clip
// and update with AdamW, log, checkpoint. What a micro-batch computes and how it is normalised over the window is
// the objective's (objectives/objective.ts); this file only picks the objective for the method (objectiveFor).
import { adamw, type Gpu, mixSeed, sumOfSquares } from '@webtune/kernels';
import { shuffled } from '../data/batch.ts';
import type { DpoExample, SftExample } from '../data/tokenize.ts';
import { LoraAdapter } from '../model/lora.ts';
import type { Model } from '../model/model.ts';
import { dpoObjective, type ReferenceLogps } from '../objectives/dpo.ts';
import { type KtoExample, type KtoReferenceLogps, ktoObjective } from '../objectives/kto.ts';
import type { Objective, ObjectiveContext } from '../objectives/objective.ts';
import { orpoObjective } from '../objectives/orpo.ts';
import { sftObjective } from '../objectives/sft.ts';
import { simpoObjective } from '../objectives/simpo.ts';
import { lrForStep } from '../optim/schedule.ts';
import { type TrainConfig, totalSteps } from './config.ts';
import type { RunControl } from './control.ts';
import type { LogRecord, TrainEvent } from './events.ts';
import { locateNonFinite } from './nonfinite.ts';
import type { BestStep, Validation } from './validation.ts';

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
}

export interface TrainOutcome {
  status: 'completed' | 'cancelled' | 'diverged';
  /** Why a run stopped early, for the user. */
  message: string;
  adapter: LoraAdapter;
  metrics: LogRecord[];
  steps: number;
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
  const { adapter, grads, m, v, sumsq, optimizer, gradNorm } = await gpu.checked(what, async () => {
    const adapter = LoraAdapter.create(gpu, model.config, config.lora, config.seed);
    const grads = adapter.like('lora grads');
    const m = adapter.like('adamw m');
    const v = adapter.like('adamw v');
    const sumsq = gpu.tensor([1], 'grad sumsq');
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
    const optimizer = await adamw(gpu, { param: adapter.params, grad: grads, m, v, sumsq }, hyper);
    const gradNorm = await sumOfSquares(gpu, sumsq, grads);
    return { adapter, grads, m, v, sumsq, optimizer, gradNorm };
  });
  const objective = objectiveFor(data, { gpu, model, frozen, adapter, grads, config, padId });

  // Every way out (completed, cancelled, diverged, an error) frees the run's buffers; only a finished run's adapter is
  // handed back.
  const release = () => {
    for (const t of [grads, m, v, sumsq]) t.buffer.destroy();
    objective.release();
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
    return { status, message, adapter, metrics: state.metrics, steps: state.optimizerStep };
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
  /** One optimizer step: a window of micro-batches, then the update. Returns the outcome when the run stops early. */
  const optimizerStep = async (): Promise<TrainOutcome | null> => {
    const windowStart = { epoch: state.epoch, cursor: state.cursor };
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
    const sums: Record<string, number> = {};
    for (const [microIndex, micro] of window.entries()) {
      await hooks.control.checkpoint();
      if (hooks.control.isCancelled) {
        // This window's micro-batches are dropped with their gradients: the run stands at the end of its last whole
        // step, and a checkpoint of that (unless one was just saved) lets a resumed run repeat them.
        if (state.epoch !== windowStart.epoch) batches = epochBatches(objective, config.batchSize, config.seed, windowStart.epoch);
        Object.assign(state, windowStart);
        tokensThisRun = tokensBefore;
        await saveCheckpoint();
        return stopped('cancelled', `cancelled at step ${state.optimizerStep}`);
      }
      const outcome = await objective.microBatch(micro, totals, dropoutSeed(microIndex));
      tokensThisRun += outcome.inputTokens;
      for (const [k, x] of Object.entries(outcome.sums)) sums[k] = (sums[k] ?? 0) + x;
    }

    // ---- the update, only once the loss and gradient are known to be finite ----
    const { loss, ...rest } = objective.metrics(sums, totals);
    const [sq] = await gpu.runAndRead(gradNorm, [sumsq]);
    const norm = Math.sqrt(sq[0]);
    if (!Number.isFinite(loss) || !Number.isFinite(norm)) {
      const what = Number.isFinite(loss) ? `the gradient norm is ${norm}` : `the loss is ${loss}`;
      const scene = { gpu, pool: model.pool, adapter, grads };
      const origin = await locateNonFinite(scene, window.length, (i) => objective.microBatch(window[i], totals, dropoutSeed(i)));
      // Before the first update the learning rate cannot be the cause, and there are no weights to keep.
      const kept =
        state.optimizerStep > 0
          ? `The adapter keeps its weights from step ${state.optimizerStep}. Lower the learning rate, keep gradient clipping on (max_grad_norm 1.0), or check the data for very long or empty answers.`
          : 'No step was completed, so nothing is saved; no update was made yet, so the learning rate is not the cause: check the model, the stage-one adapter and the data (very long or empty answers).';
      return stopped('diverged', `Training stopped at step ${stepNumber}: ${what}. ${kept} ${origin}`);
    }
    const lr = lrForStep(config.lrSchedulerType, config.learningRate, stepNumber, config.warmupSteps, total);
    optimizer.update({ lr, step: stepNumber });
    gpu.record().run(optimizer.dispatches).clear(grads).submit();
    state.optimizerStep = stepNumber;
    state.pending.push({ loss, grad_norm: norm, ...rest });

    // ---- progress, logging every logging_steps, checkpoints every save_steps ----
    const elapsed = (performance.now() - started) / 1000;
    const perStep = elapsed / (state.optimizerStep - (hooks.resume?.optimizerStep ?? 0));
    emit({
      type: 'step',
      step: state.optimizerStep,
      totalSteps: total,
      tokensPerSecond: tokensThisRun / Math.max(elapsed, 1e-9),
      etaSeconds: perStep * (total - state.optimizerStep),
      elapsedSeconds: elapsed,
    });
    if (state.optimizerStep % config.loggingSteps === 0 || state.optimizerStep === total) {
      const record = { step: state.optimizerStep, ...meanOf(state.pending) } as LogRecord;
      // HF logs the learning rate the scheduler holds after this step, and the fractional epoch.
      record.learning_rate = lrForStep(config.lrSchedulerType, config.learningRate, stepNumber + 1, config.warmupSteps, total);
      record.epoch = state.optimizerStep / stepsPerEpoch;
      record.num_tokens = baseTokens + tokensThisRun;
      state.metrics.push(record);
      emit({ type: 'log', record });
      state.pending = [];
    }
    const evaluation = await hooks.validation?.afterStep(state, adapter, state.cursor >= batches.length, stepsPerEpoch);
    if (evaluation) {
      state.metrics.push(evaluation);
      emit({ type: 'log', record: evaluation });
    }
    const stepDue = config.saveSteps > 0 && state.optimizerStep % config.saveSteps === 0;
    // By time as well, and once after step 1: a run is resumable from its first minute (a reload or a crash then finds
    // it, in the studio and the CLI), not only after save_minutes.
    const timeDue = config.saveMinutes > 0 && (state.optimizerStep === 1 || performance.now() - lastSaved >= config.saveMinutes * 60_000);
    if (stepDue || timeDue) await save();
    return null;
  };

  try {
    for (let first = true; state.optimizerStep < total; first = false) {
      held = first ? [] : null;
      const ended = first ? await gpu.checked(what, optimizerStep) : await optimizerStep();
      const events = held ?? [];
      held = null;
      if (ended) return ended;
      for (const e of events) hooks.onEvent(e);
      if (saveHeld) await saveCheckpoint();
      saveHeld = false;
    }
  } catch (err) {
    release();
    adapter.destroy();
    throw err;
  }
  return stopped('completed', `trained ${total} steps${hooks.validation?.finish(state, adapter) ?? ''}`);
}
