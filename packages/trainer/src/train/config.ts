// Every hyper-parameter of a run, once: its TRL/PEFT name (training_config.json), its flag
// (kebab-case, the CLI), its default per method, its bounds and a one-line explanation (the studio).
import type { DpoLossType } from '@webtune/kernels';
import { isObject } from '../model/arch/fields.ts';
import { LORA_TARGETS, type LoraConfig } from '../model/lora-config.ts';
import type { KtoLossType } from '../objectives/kto.ts';
import { LR_SCHEDULERS, type LrSchedulerType } from '../optim/schedule.ts';

export const METHODS = ['sft', 'dpo', 'kto', 'orpo', 'simpo'] as const;
/** Every objective a run can train (objectives/*). */
export type TrainMethod = (typeof METHODS)[number];

/** Each method as people name it: short (adapter names, charts) and long (model cards). */
export const METHOD_NAMES: Record<TrainMethod, { short: string; long: string }> = {
  sft: { short: 'SFT', long: 'supervised fine-tuning (SFT)' },
  dpo: { short: 'DPO', long: 'direct preference optimisation (DPO)' },
  kto: { short: 'KTO', long: 'Kahneman-Tversky optimisation (KTO)' },
  orpo: { short: 'ORPO', long: 'odds ratio preference optimisation (ORPO)' },
  simpo: { short: 'SimPO', long: 'simple preference optimisation (SimPO)' },
};

/** The data each method trains on: SFT rows, preference pairs (DPO, ORPO, SimPO), or KTO's unpaired rows. */
export const dataKindOf = (m: TrainMethod): 'sft' | 'pairs' | 'kto' => (m === 'sft' ? 'sft' : m === 'kto' ? 'kto' : 'pairs');

/** Loss types by method: TRL's loss_type values each trainer accepts (webtune's). */
export const LOSS_TYPES = { dpo: ['sigmoid', 'ipo', 'hinge'], kto: ['kto', 'apo_zero_unpaired'] } as const;

/** The TRL trainer that runs each method (SimPO is the CPO trainer with loss_type "simpo"). */
export const TRL_TRAINERS: Record<TrainMethod, string> = {
  sft: 'SFTTrainer',
  dpo: 'DPOTrainer',
  kto: 'KTOTrainer',
  orpo: 'ORPOTrainer',
  simpo: 'CPOTrainer',
};

export interface TrainConfig {
  method: TrainMethod;
  learningRate: number; // peak LR of AdamW
  numTrainEpochs: number; // passes over the data (ignored when maxSteps > 0)
  maxSteps: number; // optimizer steps; -1 = from epochs
  batchSize: number; // sequences (SFT, KTO) or pairs (DPO, ORPO, SimPO) per micro-batch
  gradientAccumulationSteps: number; // micro-batches per optimizer step
  maxLength: number; // tokens per sequence, prompt + completion; longer ones keep their start
  warmupSteps: number;
  lrSchedulerType: LrSchedulerType;
  weightDecay: number;
  maxGradNorm: number; // clip the global gradient norm; 0 disables
  seed: number;
  loggingSteps: number; // log metrics every N optimizer steps
  saveSteps: number; // checkpoint every N optimizer steps; 0 disables
  saveMinutes: number; // and every N minutes of training, whichever comes first; 0 disables
  adamBeta1: number;
  adamBeta2: number;
  adamEpsilon: number;
  beta: number; // DPO, KTO: strength of the KL penalty to the reference; ORPO: odds-ratio weight; SimPO: reward scale
  lossType: DpoLossType | KtoLossType; // DPO: sigmoid, ipo or hinge; KTO: kto or apo_zero_unpaired
  labelSmoothing: number; // DPO (sigmoid), SimPO: assumed fraction of flipped preference labels
  desirableWeight: number; // KTO: weight of the desirable (thumbs-up) rows' losses
  undesirableWeight: number; // KTO: weight of the undesirable (thumbs-down) rows' losses
  simpoGamma: number; // SimPO: target reward margin
  cpoAlpha: number; // SimPO: weight of the NLL on the chosen answers (0 = pure SimPO)
  completionOnlyLoss: boolean; // SFT prompt-completion rows: loss on the completion only
  assistantOnlyLoss: boolean; // SFT messages rows: loss on the assistant turns only
  evalStrategy: EvalStrategy; // when to evaluate on the held-out rows: never, every evalSteps steps, each epoch's end
  evalSteps: number; // optimizer steps between evaluations (evalStrategy "steps")
  valSize: number; // rows of the training file held out for evaluation: a fraction below 1, or a count
  loadBestModelAtEnd: boolean; // end with the adapter of the best evaluation instead of the last step's
  metricForBestModel: string; // the evaluation metric "best" means (eval_loss; higher is better unless it is a loss)
  gradientCheckpointing: boolean; // keep each layer's input only and recompute its activations in the backward
  lora: LoraConfig;
}

export const EVAL_STRATEGIES = ['no', 'steps', 'epoch'] as const;
/** TRL's (transformers') eval_strategy: never, every eval_steps optimizer steps, or at the end of each epoch. */
export type EvalStrategy = (typeof EVAL_STRATEGIES)[number];

/** The metrics DPO logs besides its loss (and ORPO and SimPO, length-averaged), in TRL's names. */
const PAIR_METRICS = ['rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected'];
/**
 * What an evaluation of each method gives (train/evaluate.ts), in TRL's names; a run's evaluation logs each with
 * "eval_" before it, as transformers' Trainer does.
 */
export const EVAL_METRICS: Record<TrainMethod, readonly string[]> = {
  sft: ['loss'],
  dpo: ['loss', ...PAIR_METRICS],
  kto: ['loss', 'kl', 'rewards/chosen', 'rewards/rejected', 'rewards/margins', 'logps/chosen', 'logps/rejected'],
  orpo: ['loss', ...PAIR_METRICS, 'nll_loss', 'log_odds_ratio', 'log_odds_chosen'],
  simpo: ['loss', ...PAIR_METRICS, 'nll_loss'],
};
const EVAL_METRIC_NAMES = [...new Set(Object.values(EVAL_METRICS).flat())].map((k) => `eval_${k}`);

type Kind =
  | { type: 'number' | 'int'; min: number; max: number }
  /** One of `choices`; `byMethod` narrows them for a method (the studio offers those, validation refuses others). */
  | { type: 'enum'; choices: readonly string[]; byMethod?: Partial<Record<TrainMethod, readonly string[]>> }
  | { type: 'targets' }
  /** On or off, true or false in JSON. On the command line a bare flag (`--use-rslora`) when off by default, and
   *  given a value when on by default (`--assistant-only-loss false`). */
  | { type: 'boolean' };

export interface HyperParam {
  key: Exclude<keyof TrainConfig, 'method' | 'lora'> | keyof LoraConfig;
  /** Name in TRL's / PEFT's config (training_config.json); save_minutes and val_size are webtune's own keys there (export/trl-run.ts). */
  trl: string;
  /** Command-line flag without the dashes. */
  flag: string;
  kind: Kind;
  /** One-line explanation shown in the studio and in `--help`. */
  help: string;
  /** Only meaningful for these methods. */
  only?: readonly TrainMethod[];
  /** Belongs to the LoRA config. */
  lora?: boolean;
}

const int = (min: number, max = Number.MAX_SAFE_INTEGER): Kind => ({ type: 'int', min, max });
const num = (min: number, max = Number.POSITIVE_INFINITY): Kind => ({ type: 'number', min, max });

export const HYPER_PARAMS: HyperParam[] = [
  {
    key: 'learningRate',
    trl: 'learning_rate',
    flag: 'learning-rate',
    kind: num(0, 1),
    help: 'Peak step size of AdamW; LoRA usually wants 1e-4 to 5e-4 for SFT and less for DPO.',
  },
  {
    key: 'numTrainEpochs',
    trl: 'num_train_epochs',
    flag: 'num-train-epochs',
    kind: num(0, 1000),
    help: 'How many times to go through the data (ignored when max steps is set).',
  },
  {
    key: 'maxSteps',
    trl: 'max_steps',
    flag: 'max-steps',
    kind: int(-1),
    help: 'Stop after this many optimizer steps; -1 uses the epochs.',
  },
  {
    key: 'batchSize',
    trl: 'per_device_train_batch_size',
    flag: 'batch-size',
    kind: int(1, 4096),
    help: 'Examples (DPO: pairs) per forward/backward pass; memory grows with it.',
  },
  {
    key: 'gradientAccumulationSteps',
    trl: 'gradient_accumulation_steps',
    flag: 'gradient-accumulation-steps',
    kind: int(1, 4096),
    help: 'Passes summed into each optimizer step: a bigger effective batch at the same memory.',
  },
  {
    key: 'maxLength',
    trl: 'max_length',
    flag: 'max-length',
    kind: int(2, 65536),
    help: 'Longest sequence in tokens (prompt + answer); longer ones are cut at the end.',
  },
  {
    key: 'warmupSteps',
    trl: 'warmup_steps',
    flag: 'warmup-steps',
    kind: int(0),
    help: 'Optimizer steps over which the learning rate ramps up from 0.',
  },
  {
    key: 'lrSchedulerType',
    trl: 'lr_scheduler_type',
    flag: 'lr-scheduler-type',
    kind: { type: 'enum', choices: LR_SCHEDULERS },
    help: 'How the learning rate changes after warmup: linear or cosine decay, or constant.',
  },
  {
    key: 'weightDecay',
    trl: 'weight_decay',
    flag: 'weight-decay',
    kind: num(0, 1),
    help: 'Decoupled weight decay of AdamW (pulls the adapter towards zero).',
  },
  {
    key: 'maxGradNorm',
    trl: 'max_grad_norm',
    flag: 'max-grad-norm',
    kind: num(0),
    help: 'Clip the gradient to this norm to avoid spikes; 0 turns clipping off.',
  },
  {
    key: 'seed',
    trl: 'seed',
    flag: 'seed',
    kind: int(0, 2 ** 31 - 1),
    help: 'Seed for the adapter init, data order and dropout: same seed, same run.',
  },
  { key: 'loggingSteps', trl: 'logging_steps', flag: 'logging-steps', kind: int(1), help: 'Log metrics every this many optimizer steps.' },
  {
    key: 'saveSteps',
    trl: 'save_steps',
    flag: 'save-steps',
    kind: int(0),
    help: 'Save a resumable checkpoint every this many steps; 0 never.',
  },
  {
    key: 'saveMinutes',
    trl: 'save_minutes',
    flag: 'save-minutes',
    kind: num(0, 1e6),
    help: 'Also save one after step 1 and every this many minutes of training, whichever comes first (a crash loses minutes); 0 never.',
  },
  { key: 'adamBeta1', trl: 'adam_beta1', flag: 'adam-beta1', kind: num(0, 0.999999), help: 'AdamW momentum of the gradient.' },
  { key: 'adamBeta2', trl: 'adam_beta2', flag: 'adam-beta2', kind: num(0, 0.999999), help: 'AdamW momentum of the squared gradient.' },
  { key: 'adamEpsilon', trl: 'adam_epsilon', flag: 'adam-epsilon', kind: num(0, 1), help: 'AdamW denominator guard.' },
  {
    key: 'beta',
    trl: 'beta',
    flag: 'beta',
    kind: num(1e-6, 1000),
    only: ['dpo', 'kto', 'orpo', 'simpo'],
    help: 'DPO/KTO: how far the model may move from the reference (small beta drifts further); ORPO: weight of the odds-ratio term; SimPO: reward scale.',
  },
  {
    key: 'lossType',
    trl: 'loss_type',
    flag: 'loss-type',
    kind: { type: 'enum', choices: [...LOSS_TYPES.dpo, ...LOSS_TYPES.kto] },
    only: ['dpo', 'kto'],
    help: 'DPO: sigmoid (the original), ipo (regularised) or hinge; KTO: kto, or apo_zero_unpaired (no KL term).',
  },
  {
    key: 'labelSmoothing',
    trl: 'label_smoothing',
    flag: 'label-smoothing',
    kind: num(0, 0.5),
    // TRL f2cd577's DPO sigmoid loss has none (its label_smoothing is for the robust and exo_pair losses, which webtune
    // does not offer); its CPO trainer applies it to SimPO as cDPO does.
    only: ['simpo'],
    help: "Share of preference labels assumed wrong (cDPO smoothing of the SimPO loss, as TRL's CPO trainer applies it).",
  },
  {
    key: 'desirableWeight',
    trl: 'desirable_weight',
    flag: 'desirable-weight',
    kind: num(0, 1000),
    only: ['kto'],
    help: 'KTO: weight of the thumbs-up rows; raise it when they are fewer than the thumbs-down ones.',
  },
  {
    key: 'undesirableWeight',
    trl: 'undesirable_weight',
    flag: 'undesirable-weight',
    kind: num(0, 1000),
    only: ['kto'],
    help: 'KTO: weight of the thumbs-down rows; lower it when they outnumber the thumbs-up ones.',
  },
  {
    key: 'simpoGamma',
    trl: 'simpo_gamma',
    flag: 'simpo-gamma',
    kind: num(0, 1000),
    only: ['simpo'],
    help: 'SimPO: the margin by which the chosen answer should beat the rejected one (in reward units).',
  },
  {
    key: 'cpoAlpha',
    trl: 'cpo_alpha',
    flag: 'cpo-alpha',
    kind: num(0, 1000),
    only: ['simpo'],
    help: 'SimPO: weight of an SFT loss on the chosen answers added to the preference loss; 0 is pure SimPO.',
  },
  { key: 'r', trl: 'r', flag: 'lora-r', kind: int(1, 1024), lora: true, help: 'LoRA rank: capacity of the adapter; 8 to 64 is typical.' },
  {
    key: 'alpha',
    trl: 'lora_alpha',
    flag: 'lora-alpha',
    kind: num(1e-6, 1e6),
    lora: true,
    help: 'LoRA scale numerator: the update is multiplied by alpha / r.',
  },
  {
    key: 'dropout',
    trl: 'lora_dropout',
    flag: 'lora-dropout',
    kind: num(0, 0.99),
    lora: true,
    help: 'Dropout on the adapter input during training; 0 to 0.1 is typical.',
  },
  {
    key: 'targetModules',
    trl: 'target_modules',
    flag: 'target-modules',
    kind: { type: 'targets' },
    lora: true,
    help: `Which projections get an adapter (comma-separated from ${LORA_TARGETS.join(', ')}).`,
  },
  {
    key: 'completionOnlyLoss',
    trl: 'completion_only_loss',
    flag: 'completion-only-loss',
    kind: { type: 'boolean' },
    only: ['sft'],
    help: 'Prompt-completion rows: the loss covers the completion only (true, as TRL) or the prompt too (false).',
  },
  {
    key: 'assistantOnlyLoss',
    trl: 'assistant_only_loss',
    flag: 'assistant-only-loss',
    kind: { type: 'boolean' },
    only: ['sft'],
    help: '"messages" rows: the loss covers every assistant turn (true, webtune\'s default) or the whole conversation (false, TRL\'s default).',
  },
  {
    key: 'valSize',
    trl: 'val_size',
    flag: 'val-size',
    kind: num(0),
    help: "Rows of the training file held out for evaluation (LLaMA Board's val_size): a fraction below 1, or a count; drawn with the seed.",
  },
  {
    key: 'evalStrategy',
    trl: 'eval_strategy',
    flag: 'eval-strategy',
    kind: { type: 'enum', choices: EVAL_STRATEGIES },
    help: 'When to measure the held-out rows: no, every eval_steps steps, or at the end of each epoch.',
  },
  {
    key: 'evalSteps',
    trl: 'eval_steps',
    flag: 'eval-steps',
    kind: int(1),
    help: 'Optimizer steps between evaluations when eval_strategy is steps.',
  },
  {
    key: 'loadBestModelAtEnd',
    trl: 'load_best_model_at_end',
    flag: 'load-best-model-at-end',
    kind: { type: 'boolean' },
    help: "Keep the adapter of the best evaluation (by metric_for_best_model) instead of the last step's.",
  },
  {
    key: 'metricForBestModel',
    trl: 'metric_for_best_model',
    flag: 'metric-for-best-model',
    kind: {
      type: 'enum',
      choices: EVAL_METRIC_NAMES,
      byMethod: Object.fromEntries(METHODS.map((m) => [m, EVAL_METRICS[m].map((k) => `eval_${k}`)])),
    },
    help: 'The evaluation metric that picks the best step: lower is better for a loss, higher for the others.',
  },
  {
    key: 'gradientCheckpointing',
    trl: 'gradient_checkpointing',
    flag: 'gradient-checkpointing',
    kind: { type: 'boolean' },
    help: "Keep one tensor per layer and recompute the layer's activations in the backward (TRL's default): far less GPU memory for about a third more compute; false keeps every layer's.",
  },
  {
    key: 'useRslora',
    trl: 'use_rslora',
    flag: 'use-rslora',
    kind: { type: 'boolean' },
    lora: true,
    help: 'rsLoRA: scale the update by alpha / sqrt(r) instead of alpha / r, so a higher rank is not damped.',
  },
];

/**
 * Defaults a practitioner expects for LoRA: TRL's (and transformers' TrainingArguments') where they fit LoRA in a
 * browser tab, and where they do not, why beside each. Every value is written to training_config.json, so TRL repeats
 * the run whatever its own defaults.
 */
export function defaultConfig(method: TrainMethod): TrainConfig {
  return {
    method,
    // LoRA-sized: TRL's 2e-5 (SFT) and 1e-6 (the preference methods) are full fine-tuning's.
    learningRate: method === 'sft' ? 2e-4 : 5e-5,
    // One epoch of preference data on top of SFT, as DPO recipes run it (a small preference set is overfit soon
    // after); SFT keeps TrainingArguments' 3.
    numTrainEpochs: method === 'sft' ? 3 : 1,
    maxSteps: -1,
    // A pair is two sequences: 4 pairs are 8 sequences a forward, as SFT's and KTO's 8 rows (TRL's 8 pairs: 16).
    batchSize: method === 'sft' || method === 'kto' ? 8 : 4,
    gradientAccumulationSteps: 1,
    maxLength: 1024,
    warmupSteps: 0,
    lrSchedulerType: 'linear',
    weightDecay: 0,
    maxGradNorm: 1,
    seed: 42,
    // Every step, for the live charts (TRL: 10); the loop reads each step's metrics a step late, so it costs no stall.
    loggingSteps: 1,
    // A tab can be closed or reloaded at any moment: a checkpoint every 50 steps or 2 minutes (TrainingArguments: 500
    // steps; save_minutes is webtune's own).
    saveSteps: 50,
    saveMinutes: 2,
    adamBeta1: 0.9,
    adamBeta2: 0.999,
    adamEpsilon: 1e-8,
    // TRL's 0.1, but SimPO's 2: CPOConfig's 0.1 is CPO's, too weak for SimPO's length-averaged reward (the SimPO
    // authors use 2 to 2.5); and SimPO's pure form, cpo_alpha 0 below, as TRL's CPO docs advise.
    beta: method === 'simpo' ? 2 : 0.1,
    lossType: method === 'kto' ? 'kto' : 'sigmoid',
    labelSmoothing: 0,
    completionOnlyLoss: true,
    assistantOnlyLoss: true,
    evalStrategy: 'no',
    // TRL's None falls back to logging_steps, 10 by its default; here logging is every step, so 10 is written out.
    evalSteps: 10,
    valSize: 0,
    loadBestModelAtEnd: false,
    metricForBestModel: 'eval_loss',
    gradientCheckpointing: true, // TRL's _BaseConfig default
    desirableWeight: 1,
    undesirableWeight: 1,
    simpoGamma: 0.5,
    cpoAlpha: 0,
    lora: { r: 16, alpha: 32, dropout: 0.05, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], useRslora: false },
  };
}

/** Optimizer steps of a run over `examples` rows (pairs for DPO): the last micro-batch of an epoch may be short. */
export function totalSteps(config: TrainConfig, examples: number): { stepsPerEpoch: number; total: number } {
  const batches = Math.ceil(examples / config.batchSize);
  const stepsPerEpoch = Math.max(1, Math.ceil(batches / config.gradientAccumulationSteps));
  const total = config.maxSteps > 0 ? config.maxSteps : Math.max(1, Math.ceil(config.numTrainEpochs * stepsPerEpoch));
  return { stepsPerEpoch, total };
}

export class ConfigValueError extends Error {
  override name = 'ConfigValueError';
}

/** A hyper-parameter's value in a config (the LoRA ones in its `lora`). */
export function paramValue(c: TrainConfig, p: HyperParam): unknown {
  return p.lora ? c.lora[p.key as keyof LoraConfig] : c[p.key as keyof TrainConfig];
}

/** The values an enum hyper-parameter takes for `method`. */
export const choicesFor = (kind: Extract<Kind, { type: 'enum' }>, method: TrainMethod): readonly string[] =>
  kind.byMethod?.[method] ?? kind.choices;

/** Whether a larger value of the metric is better: transformers' greater_is_better default (not for a loss). */
export const greaterIsBetter = (metric: string): boolean => !metric.endsWith('loss');

/**
 * A number as a person writes it in decimal ("2e-4", "-1", ".5"), or null: what JavaScript's Number() also reads
 * ("0x10", "0b1", "", "  ") is refused, so a typo never becomes a value.
 */
export function parseDecimal(text: string): number | null {
  if (!/^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(text)) return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

/** An allowed range in words: "between 0 and 1", "at least 1" (no upper bound), "at most 5" (no lower one). */
export function rangeText(min: number, max: number): string {
  const noMax = max === Number.POSITIVE_INFINITY || max === Number.MAX_SAFE_INTEGER;
  if (noMax && min === Number.NEGATIVE_INFINITY) return 'any number';
  if (noMax) return `at least ${min}`;
  if (min === Number.NEGATIVE_INFINITY) return `at most ${max}`;
  return `between ${min} and ${max}`;
}

/** Throws naming the flag, the value and the allowed range. */
export function validateConfig(c: TrainConfig): void {
  if (!(METHODS as readonly string[]).includes(c.method))
    throw new ConfigValueError(`method must be one of ${METHODS.join(', ')}; got "${c.method}"`);
  for (const p of HYPER_PARAMS) {
    const v = paramValue(c, p);
    const where = `--${p.flag} (${p.trl})`;
    if (p.kind.type === 'enum') {
      const choices = choicesFor(p.kind, c.method);
      if (!choices.includes(v as string))
        throw new ConfigValueError(
          `${where} must be one of ${choices.join(', ')}${p.kind.byMethod ? ` for ${METHOD_NAMES[c.method].short}` : ''}; got "${v}"`,
        );
    } else if (p.kind.type === 'targets') {
      const list = v as string[];
      if (!Array.isArray(list) || list.some((t) => typeof t !== 'string'))
        throw new ConfigValueError(`${where} must be a list of module names from ${LORA_TARGETS.join(', ')}, got ${JSON.stringify(v)}`);
      if (list.length === 0) throw new ConfigValueError(`${where} needs at least one of ${LORA_TARGETS.join(', ')}`);
      const bad = list.filter((t) => !(LORA_TARGETS as readonly string[]).includes(t));
      if (bad.length > 0) throw new ConfigValueError(`${where}: unknown module ${bad.join(', ')}; choose from ${LORA_TARGETS.join(', ')}`);
      const twice = list.filter((t, i) => list.indexOf(t) !== i);
      if (twice.length > 0)
        throw new ConfigValueError(`${where} names ${[...new Set(twice)].join(', ')} more than once: give each module once`);
    } else if (p.kind.type === 'boolean') {
      if (typeof v !== 'boolean') throw new ConfigValueError(`${where} must be true or false, got ${JSON.stringify(v)}`);
    } else {
      const n = v as number;
      if (typeof n !== 'number' || !Number.isFinite(n))
        throw new ConfigValueError(`${where} must be a number, got ${typeof v === 'number' ? v : JSON.stringify(v)}`);
      if (p.kind.type === 'int' && !Number.isInteger(n)) throw new ConfigValueError(`${where} must be a whole number, got ${n}`);
      if (n < p.kind.min || n > p.kind.max) throw new ConfigValueError(`${where} must be ${rangeText(p.kind.min, p.kind.max)}, got ${n}`);
    }
  }
  // The GPU computes in float32: a rate below its smallest value is 0 there.
  if (Math.fround(c.learningRate) === 0)
    throw new ConfigValueError(
      `--learning-rate (learning_rate) is 0${c.learningRate === 0 ? '' : ` in float32 (${c.learningRate})`}: the adapter would never change; give a positive rate (e.g. 2e-4 for SFT)`,
    );
  // AdamW divides by sqrt(v) + eps; LoRA's B starts at zero, so A's gradient is zero at step 1 and 0 / 0 is NaN.
  if (Math.fround(c.adamEpsilon) === 0)
    throw new ConfigValueError(
      '--adam-epsilon (adam_epsilon) is 0: AdamW would divide 0 by 0 wherever a gradient is zero (LoRA A at step 1, its B starting at zero), making the adapter NaN; give a small positive value (TRL: 1e-8)',
    );
  // A training_config.json or a studio config may still carry one (the CLI refuses the flag for DPO by name): TRL's
  // DPO would ignore it for every loss webtune offers (dpo_trainer.py's sigmoid, ipo and hinge read no smoothing).
  if (c.method === 'dpo' && c.labelSmoothing > 0)
    throw new ConfigValueError(
      `--label-smoothing (label_smoothing) is ${c.labelSmoothing}, and TRL's DPO losses that webtune offers (sigmoid, ipo, hinge) have no label smoothing (TRL reads it for its robust and exo_pair losses only): set it to 0`,
    );
  if (c.method === 'dpo' || c.method === 'kto') {
    const allowed: readonly string[] = LOSS_TYPES[c.method];
    if (!allowed.includes(c.lossType))
      throw new ConfigValueError(
        `--loss-type (loss_type) of --method ${c.method} must be one of ${allowed.join(', ')}; got "${c.lossType}"`,
      );
  }
  if (c.method === 'kto' && c.lossType === 'kto' && c.batchSize < 2)
    throw new ConfigValueError(
      "--batch-size (per_device_train_batch_size) must be at least 2 for KTO: its KL term pairs each prompt with another row's answer of the same batch (TRL refuses 1 too); or use --loss-type apo_zero_unpaired",
    );
  if (c.valSize >= 1 && !Number.isInteger(c.valSize))
    throw new ConfigValueError(`--val-size (val_size) is a fraction below 1 or a whole number of rows, got ${c.valSize}`);
  if (c.loadBestModelAtEnd && c.evalStrategy === 'no')
    throw new ConfigValueError(
      '--load-best-model-at-end (load_best_model_at_end) needs evaluations to choose from: set --eval-strategy steps or epoch',
    );
  if (c.maxSteps === 0) throw new ConfigValueError('--max-steps (max_steps) must be -1 (use epochs) or at least 1, got 0');
  if (c.maxSteps < 0 && !(c.numTrainEpochs > 0)) throw new ConfigValueError('--num-train-epochs must be above 0 when --max-steps is -1');
}

/**
 * Why a run's evaluation settings cannot work with its data (`evalFile`: the separate eval file, if any): no rows to
 * evaluate, or two sources of them. Null when they can.
 */
export function evalDataProblem(c: TrainConfig, trainFile: string, evalFile: string | null): string | null {
  if (evalFile !== null && c.valSize > 0)
    return `val_size ${c.valSize} holds out rows of ${trainFile} for evaluation, and ${evalFile} was given as the eval file too: use one of them.`;
  if (c.evalStrategy !== 'no' && evalFile === null && c.valSize === 0)
    return `eval_strategy "${c.evalStrategy}" needs rows to evaluate: hold out part of ${trainFile} with val_size (e.g. 0.1), or give an eval file.`;
  return null;
}

/**
 * Whether a run evaluates held-out rows as it trains (forward-only passes, which the memory estimate counts): an
 * eval_strategy, and rows to evaluate from an eval file or val_size.
 */
export function evaluatesWhileTraining(c: Pick<TrainConfig, 'evalStrategy' | 'valSize'>, hasEvalFile: boolean): boolean {
  return c.evalStrategy !== 'no' && (hasEvalFile || c.valSize > 0);
}

/** Parse a flag's text value into the config (CLI); throws naming the flag. */
export function setFromText(c: TrainConfig, flag: string, text: string): void {
  const p = HYPER_PARAMS.find((h) => h.flag === flag);
  if (!p) throw new ConfigValueError(`unknown hyper-parameter --${flag}`);
  let value: unknown;
  if (p.kind.type === 'enum') value = text;
  else if (p.kind.type === 'targets')
    value = text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  else if (p.kind.type === 'boolean') {
    if (text !== 'true' && text !== 'false') throw new ConfigValueError(`--${flag} must be true or false, got "${text}"`);
    value = text === 'true';
  } else {
    value = parseDecimal(text);
    if (value === null) throw new ConfigValueError(`--${flag} must be a number, got "${text}"`);
  }
  if (p.lora) (c.lora as unknown as Record<string, unknown>)[p.key] = value;
  else (c as unknown as Record<string, unknown>)[p.key] = value;
}

/**
 * The config in TRL's / PEFT's names, for training_config.json (repeatable with TRL on a cluster). Besides the
 * hyper-parameters it pins what TRL would otherwise do differently by default: how sequences are cut, which tokens
 * the SFT loss covers, that DPO keeps LoRA dropout on, and (data_preparation) what webtune did to the rows.
 * `datasetFormat` is the file's format as the dataset reader names it (e.g. "messages").
 */
export function toTrlConfig(
  c: TrainConfig,
  extra: {
    model: string;
    dataset: string;
    datasetFormat?: string;
    parentAdapter?: string | null;
    /** The rows evaluated: a separate file, or which lines of the training file were held out (data/split.ts). */
    evalDataset?: Record<string, unknown>;
  },
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    trainer: TRL_TRAINERS[c.method],
    model_name_or_path: extra.model,
    dataset: extra.dataset,
  };
  for (const p of HYPER_PARAMS) {
    if (p.lora || (p.only && !p.only.includes(c.method))) continue;
    out[p.trl] = paramValue(c, p);
  }
  if (c.method === 'simpo') out.loss_type = 'simpo';
  if (c.evalStrategy !== 'no') {
    out.per_device_eval_batch_size = c.batchSize;
    out.greater_is_better = greaterIsBetter(c.metricForBestModel);
  }
  if (extra.evalDataset) out.eval_dataset = extra.evalDataset;
  out.optim = 'adamw_torch';
  // prompt + completion is cut to max_length keeping its start, with no separate prompt or completion limit. TRL's
  // DPOConfig defaulted to keep_end with max_prompt_length 512 before 0.29 (which removed both length keys): on such
  // a version pass these as they are; on a later one drop the two null keys, which then mean the default.
  out.truncation_mode = 'keep_start';
  if (c.method === 'sft') {
    out.packing = false;
  } else {
    out.max_prompt_length = null;
    out.max_completion_length = null;
    // TRL's preference trainers switch every dropout off by default, LoRA's included; webtune applies lora_dropout.
    out.disable_dropout = false;
    if (c.method === 'dpo' || c.method === 'kto')
      out.ref_model = extra.parentAdapter ? 'base + stage-one adapter (merged)' : 'base (adapter disabled)';
    // KTO pairs each row with its batch neighbours for the KL term: batches in dataset order, as TRL requires.
    if (c.method === 'kto') out.train_sampling_strategy = 'sequential';
  }
  if (extra.parentAdapter) out.stage_one_adapter = extra.parentAdapter;
  out.data_preparation = dataPreparation(c.method, extra.datasetFormat, c.assistantOnlyLoss);
  out.peft_config = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    r: c.lora.r,
    lora_alpha: c.lora.alpha,
    lora_dropout: c.lora.dropout,
    target_modules: [...c.lora.targetModules].sort(),
    use_rslora: c.lora.useRslora,
    bias: 'none',
  };
  return out;
}

/** What webtune did to the rows that TRL would not do by itself: to repeat the run, do the same to the data. */
function dataPreparation(method: TrainMethod, format: string | undefined, assistantOnlyLoss: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  if (format) out.format = format;
  out.dropped_rows =
    'rows whose prompt alone fills max_length were left out (TRL would keep them with no completion token); webtune listed each with its line when the data was loaded';
  // KTO's own rows are (conversational-)prompt-completion; any other format is a file of preference pairs.
  if (method === 'kto' && format && !format.endsWith('prompt-completion'))
    out.unpaired =
      'the preference pairs were unpaired as TRL does (unpair_preference_dataset): per 1000 pairs, the chosen answers as desirable rows, then the rejected ones as undesirable rows';
  if (method === 'sft' && format === 'messages' && assistantOnlyLoss)
    out.messages =
      "assistant_only_loss: TRL finds assistant turns from {% generation %} tags (the chat template's own, or its " +
      'training copy of a template it knows, as webtune does); for any other template TRL refuses, and webtune found ' +
      'each assistant turn by rendering the conversation up to it (with the generation prompt) and through it';
  return out;
}

/** The method of a training_config.json (its "trainer"; SimPO is the CPO trainer with loss_type simpo), if it names one. */
export function methodOfTrlConfig(json: Record<string, unknown>): TrainMethod | undefined {
  if (json.trainer === TRL_TRAINERS.simpo) return json.loss_type === 'simpo' ? 'simpo' : undefined;
  return METHODS.find((m) => TRL_TRAINERS[m] === json.trainer);
}

const jsonKind = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v);

/**
 * Inverse of toTrlConfig for the hyper-parameters (resume, re-run from an exported training_config.json). Refuses what
 * it cannot read as written (another trainer, a module it cannot adapt) rather than train something else.
 */
export function fromTrlConfig(json: unknown): TrainConfig {
  if (!isObject(json))
    throw new ConfigValueError(`must be a JSON object of TRL's hyper-parameters (as train writes it), got ${jsonKind(json)}`);
  if (json.trainer === TRL_TRAINERS.simpo && json.loss_type !== 'simpo')
    throw new ConfigValueError(
      `trainer ${TRL_TRAINERS.simpo} runs here as SimPO only (loss_type "simpo"); got loss_type ${JSON.stringify(json.loss_type)}`,
    );
  const method = methodOfTrlConfig(json);
  if (!method)
    throw new ConfigValueError(
      `trainer ${JSON.stringify(json.trainer)} is not one webtune trains with; give one of ${[...new Set(Object.values(TRL_TRAINERS))].join(', ')}`,
    );
  const peft = json.peft_config ?? {};
  if (!isObject(peft)) throw new ConfigValueError(`peft_config must be a JSON object of LoRA settings, got ${jsonKind(peft)}`);
  const c = defaultConfig(method);
  for (const p of HYPER_PARAMS) {
    let v = p.lora ? peft[p.trl] : json[p.trl];
    // PEFT's "all-linear": every linear layer but the output's, which for these decoders is the seven projections.
    if (p.kind.type === 'targets' && v === 'all-linear') v = [...LORA_TARGETS];
    if (v === undefined || (p.only && !p.only.includes(method))) continue;
    if (p.lora) (c.lora as unknown as Record<string, unknown>)[p.key] = v;
    else (c as unknown as Record<string, unknown>)[p.key] = v;
  }
  validateConfig(c);
  return c;
}
