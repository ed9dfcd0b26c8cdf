// Evaluation during a run, as transformers' Trainer does it: eval_strategy "steps" evaluates after every eval_steps-th
// optimizer step, "epoch" after the step that ends an epoch; each evaluation is logged as its own record with the
// method's TRL metrics named eval_<metric> (eval_loss, eval_rewards/accuracies, ...), beside the training records.
// With load_best_model_at_end the weights of the best evaluation by metric_for_best_model (lower is better for a loss,
// higher for the others; a tie keeps the earlier step) are kept, in checkpoints too, and a completed run ends with them.
import type { LoraAdapter } from '../model/lora.ts';
import { EVAL_METRICS, greaterIsBetter, type TrainConfig } from './config.ts';
import { type EvalModels, type EvalReferences, type EvalRows, evaluateRows } from './evaluate.ts';
import type { LogRecord } from './events.ts';
import { KtoReferenceCache } from './kto-reference.ts';
import { evaluateDpoReference } from './reference.ts';
import type { RunState } from './trainer.ts';

/** The best evaluation so far: its step, the value of metric_for_best_model, and the adapter's weights then. */
export interface BestStep {
  step: number;
  value: number;
  params: Float32Array;
}

/** Whether eval_strategy asks for an evaluation after optimizer step `step` (`epochEnded`: it finished an epoch). */
export function evaluationDue(config: Pick<TrainConfig, 'evalStrategy' | 'evalSteps'>, step: number, epochEnded: boolean): boolean {
  if (config.evalStrategy === 'steps') return step % config.evalSteps === 0;
  if (config.evalStrategy === 'epoch') return epochEnded;
  return false;
}

/** Whether `value` of `metric` beats the best so far (strictly, as transformers compares; never a non-finite value). */
export function improves(metric: string, value: number | undefined, best: { value: number } | undefined): boolean {
  if (value === undefined || !Number.isFinite(value)) return false;
  if (!best) return true;
  return greaterIsBetter(metric) ? value > best.value : value < best.value;
}

/** A run's evaluations of its held-out rows (`rows`) with the adapter it trains on top of `frozen`. */
export class Validation {
  private readonly references: EvalReferences = {};

  constructor(
    private readonly models: Omit<EvalModels, 'policy'>,
    private readonly rows: EvalRows,
    private readonly config: TrainConfig,
  ) {}

  /** Rows (pairs) evaluated. */
  get size(): number {
    return this.rows.examples.length;
  }

  /** The method's metrics of `adapter` on the held-out rows, named eval_<metric>. */
  async evaluate(adapter: LoraAdapter): Promise<Record<string, number>> {
    const { gpu, model, padId, reference } = this.models;
    // The reference is frozen: its log-probs of the held-out rows are computed at the first evaluation and kept.
    if (this.rows.method === 'dpo')
      this.references.dpo ??= await evaluateDpoReference(gpu, model, reference, this.rows.examples, this.config.batchSize, padId);
    if (this.rows.method === 'kto') this.references.kto ??= new KtoReferenceCache(gpu, model, reference, this.rows.examples.length, padId);
    const metrics = await evaluateRows({ ...this.models, policy: [adapter] }, this.rows, this.config, this.references);
    const out: Record<string, number> = {};
    for (const k of EVAL_METRICS[this.config.method]) if (k in metrics) out[`eval_${k}`] = metrics[k];
    return out;
  }

  /**
   * After an optimizer step: evaluates when eval_strategy says so, and with load_best_model_at_end keeps a better
   * step's weights in `state.best`. Returns the record to log, or null.
   */
  async afterStep(state: RunState, adapter: LoraAdapter, epochEnded: boolean, stepsPerEpoch: number): Promise<LogRecord | null> {
    if (!evaluationDue(this.config, state.optimizerStep, epochEnded)) return null;
    const metrics = await this.evaluate(adapter);
    const { metricForBestModel: metric } = this.config;
    if (this.config.loadBestModelAtEnd && improves(metric, metrics[metric], state.best)) {
      const params = await this.models.gpu.read(adapter.params);
      if (adapter.nonFiniteTensor(params) === null) state.best = { step: state.optimizerStep, value: metrics[metric], params };
    }
    return { step: state.optimizerStep, epoch: state.optimizerStep / stepsPerEpoch, ...metrics };
  }

  /** The best evaluation whose adapter a completed run kept (finish), as transformers' state names it. */
  kept: { best_global_step: number; best_metric: number } | null = null;

  /** At a completed run's end: with load_best_model_at_end, the adapter takes the best step's weights; says what it kept. */
  finish(state: RunState, adapter: LoraAdapter): string {
    const metric = this.config.metricForBestModel;
    if (!this.config.loadBestModelAtEnd) return '';
    const best = state.best;
    if (!best) return `; no evaluation gave a finite ${metric}, so the last step's adapter is kept`;
    this.kept = { best_global_step: best.step, best_metric: best.value };
    if (best.step === state.optimizerStep) return `; the last step is the best by ${metric} (${best.value})`;
    adapter.load(best.params);
    return `; kept the adapter of step ${best.step}, the best by ${metric} (${best.value})`;
  }
}
