// The training loop: micro-batches through the recorded decoder step, gradients accumulated in
// one flat buffer, then clip + AdamW. SFT weights each completion token by 1/(tokens in the
// optimizer step), DPO averages over the step's pairs, so batch 1 x accumulation 4 gives the
// same update as batch 4 x accumulation 1 (as HF does with num_items_in_batch).
import { adamw, type Command, dpoLoss, type Gpu, IGNORE_INDEX, mixSeed, sumOfSquares, type Tensor } from '@webtune/kernels';
import { dpoBatch, sftBatch, shuffled, type TokenBatch } from '../data/batch.ts';
import { type DpoExample, lossTokenCount, type SftExample } from '../data/tokenize.ts';
import type { Step } from '../model/decoder.ts';
import { LoraAdapter } from '../model/lora.ts';
import type { Model } from '../model/model.ts';
import { lrForStep } from '../optim/schedule.ts';
import { type TrainConfig, totalSteps } from './config.ts';
import type { RunControl } from './control.ts';
import type { LogRecord, TrainEvent } from './events.ts';

/** DPO's reference log-prob sums of a micro-batch, [chosen_0..chosen_P-1, rejected_0..rejected_P-1] (reference.ts). */
export interface ReferenceLogps {
  of(examples: DpoExample[]): Promise<Float32Array>;
}

export type TrainData = { method: 'sft'; examples: SftExample[] } | { method: 'dpo'; examples: DpoExample[]; reference: ReferenceLogps };

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
}

export interface TrainHooks {
  onEvent(e: TrainEvent): void;
  control: RunControl;
  /** Called every save_steps with the state to persist. */
  checkpoint?(state: RunState): Promise<void>;
  /** Start from this state instead of a fresh adapter. */
  resume?: RunState;
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

/** Micro-batches of one epoch, in the seeded order. */
function epochBatches<E>(examples: E[], batchSize: number, seed: number, epoch: number): E[][] {
  const order = shuffled(examples, seed, epoch);
  const out: E[][] = [];
  for (let i = 0; i < order.length; i += batchSize) out.push(order.slice(i, i + batchSize));
  return out;
}

/** Non-pad tokens of a batch's sequences (TRL's num_tokens counts the attention mask). */
function inputTokens(batch: TokenBatch, padless: number[]): number {
  return padless.reduce((a, b) => a + b, 0) || batch.B * batch.T;
}

interface DpoBuffers {
  mask: Tensor;
  refLogps: Tensor;
  seqLogps: Tensor;
  counts: Tensor;
  losses: Tensor;
  chosenRewards: Tensor;
  rejectedRewards: Tensor;
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
  const examples = data.examples as (SftExample | DpoExample)[];
  if (examples.length === 0) throw new TrainingError('no training examples left after validation and truncation');
  const { stepsPerEpoch, total } = totalSteps(config, examples.length);
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
  const dpoBuffers = new Map<number, DpoBuffers>();

  const buffersFor = (P: number, T: number): DpoBuffers => {
    const key = P * 100000 + T;
    let b = dpoBuffers.get(key);
    if (!b) {
      b = {
        mask: gpu.tensor([2 * P, T], 'dpo mask'),
        refLogps: gpu.tensor([2 * P], 'dpo ref logps'),
        seqLogps: gpu.tensor([2 * P], 'dpo seq logps'),
        counts: gpu.tensor([2 * P], 'dpo counts'),
        losses: gpu.tensor([P], 'dpo losses'),
        chosenRewards: gpu.tensor([P], 'dpo chosen rewards'),
        rejectedRewards: gpu.tensor([P], 'dpo rejected rewards'),
      };
      dpoBuffers.set(key, b);
    }
    return b;
  };

  // Every way out (completed, cancelled, diverged, an error) frees the run's buffers; only a finished run's adapter is
  // handed back.
  const release = () => {
    for (const t of [grads, m, v, sumsq]) t.buffer.destroy();
    for (const b of dpoBuffers.values()) for (const t of Object.values(b)) t.buffer.destroy();
  };
  const stopped = (status: TrainOutcome['status'], message: string): TrainOutcome => {
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
    await hooks.checkpoint({ ...state, pending: [...state.pending], params, m: mm, v: vv, numTokens: baseTokens + tokensThisRun });
    hooks.onEvent({ type: 'checkpoint', step: state.optimizerStep });
    savedStep = state.optimizerStep;
    lastSaved = performance.now();
  };

  let batches = epochBatches(examples, config.batchSize, config.seed, state.epoch);
  /** One optimizer step: a window of micro-batches, then the update. Returns the outcome when the run stops early. */
  const optimizerStep = async (): Promise<TrainOutcome | null> => {
    const windowStart = { epoch: state.epoch, cursor: state.cursor };
    const tokensBefore = tokensThisRun;
    const window: (SftExample | DpoExample)[][] = [];
    while (window.length < config.gradientAccumulationSteps) {
      if (state.cursor >= batches.length) {
        if (window.length > 0) break; // an epoch's last, shorter window
        state.epoch++;
        state.cursor = 0;
        batches = epochBatches(examples, config.batchSize, config.seed, state.epoch);
      }
      window.push(batches[state.cursor++]);
    }
    const stepNumber = state.optimizerStep + 1;
    const windowTokens = data.method === 'sft' ? window.flat().reduce((n, e) => n + lossTokenCount((e as SftExample).seq), 0) : 0;
    const windowPairs = window.reduce((n, b) => n + b.length, 0);
    const sums: Record<string, number> = {};
    const add = (k: string, x: number) => {
      sums[k] = (sums[k] ?? 0) + x;
    };
    gpu.record().clear(grads).submit();
    for (const [microIndex, micro] of window.entries()) {
      // Each micro-batch draws its own dropout masks: seeded by (seed, optimizer step, micro-batch in the window), a
      // function of the run's position, so a resumed run draws the same ones.
      const dropoutSeed = mixSeed(config.seed, stepNumber, microIndex);
      await hooks.control.checkpoint();
      if (hooks.control.isCancelled) {
        // This window's micro-batches are dropped with their gradients: the run stands at the end of its last whole
        // step, and a checkpoint of that (unless one was just saved) lets a resumed run repeat them.
        if (state.epoch !== windowStart.epoch) batches = epochBatches(examples, config.batchSize, config.seed, windowStart.epoch);
        Object.assign(state, windowStart);
        tokensThisRun = tokensBefore;
        await saveCheckpoint();
        return stopped('cancelled', `cancelled at step ${state.optimizerStep}`);
      }
      let step: Step;
      let extra: Command[] = [];
      if (data.method === 'sft') {
        const exs = micro as SftExample[];
        const batch = sftBatch(exs, padId);
        step = await model.step(batch.B, batch.T, { frozen, trainable: { adapter, grads }, train: true });
        writeInputs(gpu, step, batch);
        gpu.write(
          step.lossWeights,
          Float32Array.from(batch.targets, (t) => (t === IGNORE_INDEX ? 0 : 1 / Math.max(1, windowTokens))),
        );
        tokensThisRun += inputTokens(
          batch,
          exs.map((e) => e.seq.ids.length),
        );
        step.reseed(dropoutSeed);
        gpu.run(...step.forward, ...step.backward);
        const logprobs = await gpu.read(step.logprobs);
        let nll = 0;
        for (let i = 0; i < logprobs.length; i++) if (batch.targets[i] !== IGNORE_INDEX) nll -= logprobs[i];
        add('nll', nll);
      } else {
        const exs = micro as DpoExample[];
        // First: a reference pass not cached yet runs the model, and its inputs share buffers with this step's.
        const ref = await data.reference.of(exs);
        const batch = dpoBatch(exs, padId);
        const P = exs.length;
        step = await model.step(batch.B, batch.T, { frozen, trainable: { adapter, grads }, train: true });
        writeInputs(gpu, step, batch);
        const b = buffersFor(P, batch.T);
        gpu.write(b.mask, batch.mask);
        gpu.write(b.refLogps, ref);
        extra = await dpoLoss(
          gpu,
          { logprobs: step.logprobs.view([2 * P, batch.T]), weights: step.lossWeights.view([2 * P, batch.T]), ...b },
          { beta: config.beta, lossType: config.lossType, labelSmoothing: config.labelSmoothing, pairsTotal: windowPairs },
        );
        tokensThisRun += inputTokens(
          batch,
          exs.flatMap((e) => [e.chosen.ids.length, e.rejected.ids.length]),
        );
        step.reseed(dropoutSeed);
        gpu.run(...step.forward, ...extra, ...step.backward);
        const [losses, cr, rr, seq, counts] = await Promise.all(
          [b.losses, b.chosenRewards, b.rejectedRewards, b.seqLogps, b.counts].map((t) => gpu.read(t)),
        );
        const avg = config.lossType === 'ipo';
        for (let p = 0; p < P; p++) {
          add('loss', losses[p]);
          add('rewards/chosen', cr[p]);
          add('rewards/rejected', rr[p]);
          add('rewards/accuracies', cr[p] > rr[p] ? 1 : 0);
          add('rewards/margins', cr[p] - rr[p]);
          add('logps/chosen', avg ? seq[p] / Math.max(1, counts[p]) : seq[p]);
          add('logps/rejected', avg ? seq[P + p] / Math.max(1, counts[P + p]) : seq[P + p]);
        }
      }
    }
    // ---- the update, only once the loss and gradient are known to be finite ----
    const loss = data.method === 'sft' ? sums.nll / Math.max(1, windowTokens) : sums.loss / windowPairs;
    gpu.run(...gradNorm);
    const norm = Math.sqrt((await gpu.read(sumsq))[0]);
    if (!Number.isFinite(loss) || !Number.isFinite(norm)) {
      const what = Number.isFinite(loss) ? `the gradient norm is ${norm}` : `the loss is ${loss}`;
      return stopped(
        'diverged',
        `Training stopped at step ${stepNumber}: ${what}. The adapter keeps its weights from step ${state.optimizerStep}. ` +
          'Lower the learning rate, keep gradient clipping on (max_grad_norm 1.0), or check the data for very long or empty answers.',
      );
    }
    const lr = lrForStep(config.lrSchedulerType, config.learningRate, stepNumber, config.warmupSteps, total);
    optimizer.update({ lr, step: stepNumber });
    gpu.run(...optimizer.dispatches);
    state.optimizerStep = stepNumber;
    const metrics: Record<string, number> = { loss, grad_norm: norm };
    if (data.method === 'dpo') for (const [k, x] of Object.entries(sums)) if (k !== 'loss') metrics[k] = x / windowPairs;
    state.pending.push(metrics);

    const elapsed = (performance.now() - started) / 1000;
    const perStep = elapsed / (state.optimizerStep - (hooks.resume?.optimizerStep ?? 0));
    hooks.onEvent({
      type: 'step',
      step: state.optimizerStep,
      totalSteps: total,
      tokensPerSecond: tokensThisRun / Math.max(elapsed, 1e-9),
      etaSeconds: perStep * (total - state.optimizerStep),
      elapsedSeconds: elapsed,
    });
    if (state.optimizerStep % config.loggingSteps === 0 || state.optimizerStep === total) {
      const record: LogRecord = { step: state.optimizerStep } as LogRecord;
      const { pending } = state;
      for (const k of Object.keys(pending[0])) record[k] = pending.reduce((s, r) => s + r[k], 0) / pending.length;
      // HF logs the learning rate the scheduler holds after this step, and the fractional epoch.
      record.learning_rate = lrForStep(config.lrSchedulerType, config.learningRate, stepNumber + 1, config.warmupSteps, total);
      record.epoch = state.optimizerStep / stepsPerEpoch;
      record.num_tokens = baseTokens + tokensThisRun;
      state.metrics.push(record);
      hooks.onEvent({ type: 'log', record });
      state.pending = [];
    }
    const stepDue = config.saveSteps > 0 && state.optimizerStep % config.saveSteps === 0;
    const timeDue = config.saveMinutes > 0 && performance.now() - lastSaved >= config.saveMinutes * 60_000;
    if (stepDue || timeDue) await saveCheckpoint();
    return null;
  };

  try {
    for (let first = true; state.optimizerStep < total; first = false) {
      const ended = first ? await gpu.checked(what, optimizerStep) : await optimizerStep();
      if (ended) return ended;
    }
  } catch (err) {
    release();
    adapter.destroy();
    throw err;
  }
  return stopped('completed', `trained ${total} steps`);
}

export function writeInputs(gpu: Gpu, step: Step, batch: TokenBatch): void {
  gpu.write(step.ids, batch.ids);
  gpu.write(step.positions, batch.positions);
  gpu.write(step.targets, batch.targets);
}
