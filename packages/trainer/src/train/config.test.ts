// The run's config: rsLoRA as a hyper-parameter like any other, and training_config.json's keys that let TRL repeat
// the run (truncation, which tokens the loss covers, dropout in DPO, what was done to the rows).
import { describe, expect, it } from 'vitest';
import {
  defaultConfig,
  evaluatesWhileTraining,
  fromTrlConfig,
  HYPER_PARAMS,
  methodOfTrlConfig,
  setFromText,
  type TrainConfig,
  toTrlConfig,
  validateConfig,
} from './config.ts';

const extra = { model: 'org/model', dataset: 'data.jsonl' };

describe('use_rslora', () => {
  it('is a boolean LoRA hyper-parameter: PEFT name use_rslora, flag --use-rslora, off by default', () => {
    const p = HYPER_PARAMS.find((h) => h.trl === 'use_rslora');
    expect(p).toMatchObject({ key: 'useRslora', flag: 'use-rslora', kind: { type: 'boolean' }, lora: true });
    expect(p?.only).toBeUndefined();
    expect(defaultConfig('sft').lora.useRslora).toBe(false);
    expect(defaultConfig('dpo').lora.useRslora).toBe(false);
  });

  it('is set from the text "true" or "false", and refuses anything else naming the flag', () => {
    const c = defaultConfig('sft');
    setFromText(c, 'use-rslora', 'true');
    expect(c.lora.useRslora).toBe(true);
    validateConfig(c);
    setFromText(c, 'use-rslora', 'false');
    expect(c.lora.useRslora).toBe(false);
    expect(() => setFromText(c, 'use-rslora', 'yes')).toThrow('--use-rslora must be true or false, got "yes"');
  });

  it('a number flag reads decimal text only, and a range without an upper bound is said as one', () => {
    const c = defaultConfig('sft');
    setFromText(c, 'learning-rate', '2e-4');
    expect(c.learningRate).toBe(2e-4);
    for (const text of ['0x1', '', '1_0', 'Infinity'])
      expect(() => setFromText(c, 'learning-rate', text), text).toThrow(`--learning-rate must be a number, got "${text}"`);
    expect(() => validateConfig({ ...defaultConfig('sft'), maxGradNorm: -1 })).toThrow(
      '--max-grad-norm (max_grad_norm) must be at least 0, got -1',
    );
    expect(() => validateConfig({ ...defaultConfig('sft'), loggingSteps: 0 })).toThrow(
      '--logging-steps (logging_steps) must be at least 1, got 0',
    );
  });

  it('must be a boolean in a config', () => {
    const c = defaultConfig('dpo');
    (c.lora as unknown as Record<string, unknown>).useRslora = 1;
    expect(() => validateConfig(c)).toThrow('--use-rslora (use_rslora) must be true or false, got 1');
  });

  it('goes to peft_config.use_rslora and back', () => {
    const c = defaultConfig('sft');
    c.lora.useRslora = true;
    const json = toTrlConfig(c, extra);
    expect(json.peft_config).toMatchObject({ use_rslora: true });
    expect(fromTrlConfig(json).lora.useRslora).toBe(true);
    const bad = { ...json, peft_config: { ...(json.peft_config as object), use_rslora: 'yes' } };
    expect(() => fromTrlConfig(bad)).toThrow('--use-rslora (use_rslora) must be true or false, got "yes"');
  });
});

describe('training_config.json pins what TRL would do differently by default', () => {
  const config = (method: 'sft' | 'dpo', change: Partial<TrainConfig> = {}) => ({ ...defaultConfig(method), maxLength: 256, ...change });

  it('DPO: one cut of prompt + completion at max_length keeping the start, no prompt or completion limit, dropout kept', () => {
    const json = toTrlConfig(config('dpo'), { ...extra, datasetFormat: 'standard' });
    expect(json).toMatchObject({
      trainer: 'DPOTrainer',
      max_length: 256,
      truncation_mode: 'keep_start',
      max_prompt_length: null,
      max_completion_length: null,
      disable_dropout: false,
    });
    expect(json).not.toHaveProperty('completion_only_loss');
    expect(json.data_preparation).toEqual({
      format: 'standard',
      dropped_rows:
        'rows whose prompt alone fills max_length were left out (TRL would keep them with no completion token); webtune listed each with its line when the data was loaded',
    });
  });

  it('SFT: the loss covers completion tokens only, keep_start, no packing', () => {
    const json = toTrlConfig(config('sft'), { ...extra, datasetFormat: 'prompt-completion' });
    expect(json).toMatchObject({
      trainer: 'SFTTrainer',
      max_length: 256,
      truncation_mode: 'keep_start',
      completion_only_loss: true,
      assistant_only_loss: true,
      packing: false,
    });
    for (const k of ['max_prompt_length', 'max_completion_length', 'disable_dropout', 'beta', 'loss_type'])
      expect(json).not.toHaveProperty(k);
    expect(json.data_preparation).not.toHaveProperty('messages');
  });

  it('SFT on "messages" rows records assistant_only_loss, and how webtune found the turns TRL finds by generation tags', () => {
    const json = toTrlConfig(config('sft'), { ...extra, datasetFormat: 'messages' });
    const prep = json.data_preparation as Record<string, string>;
    expect(json.assistant_only_loss).toBe(true);
    expect(prep.format).toBe('messages');
    expect(prep.messages).toContain('rendering the conversation up to it');
    expect(prep.messages).toContain('{% generation %}');
    const whole = toTrlConfig(config('sft', { assistantOnlyLoss: false }), { ...extra, datasetFormat: 'messages' });
    expect(whole.assistant_only_loss).toBe(false);
    expect(whole.data_preparation).not.toHaveProperty('messages');
  });

  it('the extra keys do not disturb reading the hyper-parameters back', () => {
    const c = config('dpo', { beta: 0.3, lossType: 'ipo' });
    // target_modules are written sorted, as PEFT does.
    const sorted = { ...c, lora: { ...c.lora, targetModules: [...c.lora.targetModules].sort() } };
    expect(fromTrlConfig(toTrlConfig(c, extra))).toEqual(sorted);
  });
});

describe('settings that would do nothing are refused, naming the flag', () => {
  it('a learning rate of 0', () => {
    const c = { ...defaultConfig('sft'), learningRate: 0 };
    expect(() => validateConfig(c)).toThrow('--learning-rate (learning_rate) is 0: the adapter would never change');
    // Not 0 in float64, but 0 on the GPU.
    expect(() => validateConfig({ ...c, learningRate: 1e-300 })).toThrow(
      '--learning-rate (learning_rate) is 0 in float32 (1e-300): the adapter would never change',
    );
    expect(() => validateConfig({ ...c, learningRate: 1e-30 })).not.toThrow();
  });

  it('a LoRA target module named twice', () => {
    const c = defaultConfig('sft');
    expect(() => validateConfig({ ...c, lora: { ...c.lora, targetModules: ['q_proj', 'v_proj', 'q_proj'] } })).toThrow(
      '--target-modules (target_modules) names q_proj more than once: give each module once',
    );
  });

  it('an AdamW epsilon of 0 (or 0 in float32), which makes LoRA A NaN at its first step', () => {
    for (const adamEpsilon of [0, 1e-50]) {
      const c = { ...defaultConfig('sft'), adamEpsilon };
      expect(() => validateConfig(c)).toThrow('--adam-epsilon (adam_epsilon) is 0: AdamW would divide 0 by 0 wherever a gradient is zero');
    }
    expect(() => validateConfig({ ...defaultConfig('sft'), adamEpsilon: 1e-12 })).not.toThrow();
  });

  it("label smoothing: none in TRL's DPO losses (refused with any of them, 0 is fine), SimPO's cDPO smoothing kept", () => {
    for (const lossType of ['sigmoid', 'ipo', 'hinge'] as const) {
      const c = { ...defaultConfig('dpo'), lossType, labelSmoothing: 0.1 };
      expect(() => validateConfig(c)).toThrow(
        "--label-smoothing (label_smoothing) is 0.1, and TRL's DPO losses that webtune offers (sigmoid, ipo, hinge) have no label smoothing",
      );
      expect(() => validateConfig({ ...c, labelSmoothing: 0 })).not.toThrow();
    }
    expect(() => validateConfig({ ...defaultConfig('simpo'), labelSmoothing: 0.1 })).not.toThrow();
  });

  it('save_minutes: 2 by default, 0 turns it off, a negative value is refused', () => {
    expect(defaultConfig('sft').saveMinutes).toBe(2);
    expect(() => validateConfig({ ...defaultConfig('sft'), saveMinutes: 0 })).not.toThrow();
    expect(() => validateConfig({ ...defaultConfig('sft'), saveMinutes: -1 })).toThrow('--save-minutes (save_minutes) must be between 0');
  });
});

describe('values of the wrong kind are refused, naming the flag and showing the value as given', () => {
  it('a number given as text, a fractional rank, steps and epochs of 0, no target modules', () => {
    const c = defaultConfig('sft');
    const bad = (over: Partial<TrainConfig>) => () => validateConfig({ ...c, ...over });
    expect(bad({ learningRate: '2e-4' as unknown as number })).toThrow('--learning-rate (learning_rate) must be a number, got "2e-4"');
    expect(bad({ learningRate: Number.NaN })).toThrow('--learning-rate (learning_rate) must be a number, got NaN');
    expect(bad({ lora: { ...c.lora, r: 2.5 } })).toThrow('--lora-r (r) must be a whole number, got 2.5');
    expect(bad({ maxSteps: 0 })).toThrow('--max-steps (max_steps) must be -1 (use epochs) or at least 1, got 0');
    expect(bad({ maxSteps: -1, numTrainEpochs: 0 })).toThrow('--num-train-epochs must be above 0 when --max-steps is -1');
    expect(bad({ lora: { ...c.lora, targetModules: [] } })).toThrow('--target-modules (target_modules) needs at least one of q_proj');
    expect(bad({ lora: { ...c.lora, targetModules: 'q_proj' as unknown as [] } })).toThrow(
      '--target-modules (target_modules) must be a list of module names from q_proj, k_proj',
    );
  });
});

describe('fromTrlConfig refuses what it cannot read as written, rather than train something else', () => {
  const json = toTrlConfig(defaultConfig('sft'), extra);
  const peft = json.peft_config as Record<string, unknown>;

  it('not an object, another trainer, or none', () => {
    expect(() => fromTrlConfig(null)).toThrow("must be a JSON object of TRL's hyper-parameters (as train writes it), got null");
    expect(() => fromTrlConfig([json])).toThrow('got a list');
    expect(() => fromTrlConfig({ ...json, trainer: 'PPOTrainer' })).toThrow(
      'trainer "PPOTrainer" is not one webtune trains with; give one of SFTTrainer, DPOTrainer, KTOTrainer, ORPOTrainer, CPOTrainer',
    );
    const { trainer: _, ...none } = json;
    expect(() => fromTrlConfig(none)).toThrow('trainer undefined is not one webtune trains with');
    expect(() => fromTrlConfig({ ...json, peft_config: 'lora' })).toThrow('peft_config must be a JSON object of LoRA settings, got string');
  });

  it('a target module it cannot adapt, by name: never dropped from the list', () => {
    expect(() => fromTrlConfig({ ...json, peft_config: { ...peft, target_modules: ['q_proj', 'v_prj'] } })).toThrow(
      '--target-modules (target_modules): unknown module v_prj; choose from q_proj',
    );
    expect(() => fromTrlConfig({ ...json, peft_config: { ...peft, target_modules: ['lm_head'] } })).toThrow('unknown module lm_head');
  });

  it('PEFT\'s "all-linear" is the seven projections', () => {
    const given = { ...peft, target_modules: 'all-linear' };
    const c = fromTrlConfig({ ...json, peft_config: given });
    expect([...c.lora.targetModules].sort()).toEqual(['down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj', 'up_proj', 'v_proj']);
    expect(given.target_modules).toBe('all-linear'); // the caller's object is left as it was
  });
});

describe('KTO, ORPO and SimPO in TRL names', () => {
  it('names the TRL trainer and writes only each method’s own parameters', () => {
    const kto = toTrlConfig({ ...defaultConfig('kto'), desirableWeight: 1.33 }, extra);
    expect(kto).toMatchObject({ trainer: 'KTOTrainer', loss_type: 'kto', beta: 0.1, desirable_weight: 1.33, undesirable_weight: 1 });
    expect(kto).toMatchObject({ train_sampling_strategy: 'sequential', disable_dropout: false, ref_model: 'base (adapter disabled)' });
    expect(kto).not.toHaveProperty('simpo_gamma');
    const orpo = toTrlConfig(defaultConfig('orpo'), extra);
    expect(orpo).toMatchObject({ trainer: 'ORPOTrainer', beta: 0.1 });
    for (const k of ['loss_type', 'ref_model', 'desirable_weight', 'label_smoothing', 'cpo_alpha']) expect(orpo).not.toHaveProperty(k);
    const simpo = toTrlConfig(defaultConfig('simpo'), extra);
    expect(simpo).toMatchObject({ trainer: 'CPOTrainer', loss_type: 'simpo', beta: 2, simpo_gamma: 0.5, cpo_alpha: 0, label_smoothing: 0 });
    expect(simpo).not.toHaveProperty('ref_model');
  });

  it('reads each back from its training_config.json', () => {
    // (target_modules come back sorted, as PEFT writes them)
    const { lora: _, ...c } = { ...defaultConfig('kto'), beta: 0.3 };
    for (const method of ['kto', 'orpo', 'simpo'] as const) {
      const { lora: _, ...c } = { ...defaultConfig(method), beta: 0.3 };
      expect(fromTrlConfig(toTrlConfig({ ...defaultConfig(method), ...c }, extra))).toMatchObject(c);
    }
    const apo = { ...c, lossType: 'apo_zero_unpaired' as const, undesirableWeight: 0.5 };
    expect(fromTrlConfig(toTrlConfig({ ...defaultConfig('kto'), ...apo }, extra))).toMatchObject(apo);
  });

  it('says when a KTO run unpaired preference pairs, and not for its own unpaired rows', () => {
    const prep = (format: string) => toTrlConfig(defaultConfig('kto'), { ...extra, datasetFormat: format }).data_preparation;
    expect(prep('standard')).toHaveProperty('unpaired');
    expect(prep('conversational (implicit prompt)')).toHaveProperty('unpaired');
    expect(prep('prompt-completion')).not.toHaveProperty('unpaired');
    expect(prep('conversational-prompt-completion')).not.toHaveProperty('unpaired');
  });

  it('tells SimPO by CPOTrainer with loss_type simpo, and refuses another CPO loss rather than reading it as another method', () => {
    const simpo = toTrlConfig(defaultConfig('simpo'), extra);
    expect(methodOfTrlConfig(simpo)).toBe('simpo');
    expect(methodOfTrlConfig({ trainer: 'KTOTrainer' })).toBe('kto');
    expect(methodOfTrlConfig({ trainer: 'PPOTrainer' })).toBeUndefined();
    expect(() => fromTrlConfig({ ...simpo, loss_type: 'sigmoid' })).toThrow(
      'trainer CPOTrainer runs here as SimPO only (loss_type "simpo"); got loss_type "sigmoid"',
    );
  });

  it('refuses a loss type of another method, and KTO with a batch of one row (its KL term needs neighbours)', () => {
    expect(() => validateConfig({ ...defaultConfig('kto'), lossType: 'sigmoid' })).toThrow(
      '--loss-type (loss_type) of --method kto must be one of kto, apo_zero_unpaired; got "sigmoid"',
    );
    expect(() => validateConfig({ ...defaultConfig('dpo'), lossType: 'kto' })).toThrow(
      '--loss-type (loss_type) of --method dpo must be one of sigmoid, ipo, hinge; got "kto"',
    );
    expect(() => validateConfig({ ...defaultConfig('kto'), batchSize: 1 })).toThrow(
      '--batch-size (per_device_train_batch_size) must be at least 2 for KTO',
    );
    validateConfig({ ...defaultConfig('kto'), batchSize: 1, lossType: 'apo_zero_unpaired' });
    expect(() => validateConfig({ ...defaultConfig('sft'), method: 'ppo' as never })).toThrow(
      'method must be one of sft, dpo, kto, orpo, simpo; got "ppo"',
    );
  });
});

describe('evaluation settings (eval_strategy, eval_steps, val_size, load_best_model_at_end, metric_for_best_model)', () => {
  it('are hyper-parameters in TRL/LLaMA Board names, evaluation off by default', () => {
    const c = defaultConfig('dpo');
    expect(c).toMatchObject({ evalStrategy: 'no', valSize: 0, loadBestModelAtEnd: false, metricForBestModel: 'eval_loss' });
    for (const trl of ['eval_strategy', 'eval_steps', 'val_size', 'load_best_model_at_end', 'metric_for_best_model'])
      expect(HYPER_PARAMS.find((p) => p.trl === trl)?.only).toBeUndefined();
    setFromText(c, 'eval-strategy', 'steps');
    setFromText(c, 'eval-steps', '5');
    setFromText(c, 'val-size', '0.1');
    setFromText(c, 'load-best-model-at-end', 'true');
    setFromText(c, 'metric-for-best-model', 'eval_rewards/accuracies');
    validateConfig(c);
    const json = toTrlConfig(c, { ...extra, evalDataset: { held_out_from: 'data.jsonl', lines: [3] } });
    expect(json).toMatchObject({
      eval_strategy: 'steps',
      eval_steps: 5,
      val_size: 0.1,
      load_best_model_at_end: true,
      metric_for_best_model: 'eval_rewards/accuracies',
      greater_is_better: true,
      per_device_eval_batch_size: c.batchSize,
      eval_dataset: { held_out_from: 'data.jsonl', lines: [3] },
    });
    expect(fromTrlConfig(json)).toMatchObject({ evalStrategy: 'steps', evalSteps: 5, valSize: 0.1, loadBestModelAtEnd: true });
  });

  it('a run evaluates as it trains (forward-only passes the memory estimate counts) with an eval_strategy and rows to evaluate', () => {
    const c = defaultConfig('sft');
    expect(evaluatesWhileTraining(c, true)).toBe(false); // eval_strategy "no": an eval file alone is not evaluated
    expect(evaluatesWhileTraining({ ...c, evalStrategy: 'steps' }, true)).toBe(true);
    expect(evaluatesWhileTraining({ ...c, evalStrategy: 'epoch', valSize: 0.1 }, false)).toBe(true);
    expect(evaluatesWhileTraining({ ...c, evalStrategy: 'steps' }, false)).toBe(false); // no rows: evalDataProblem says so
    expect(evaluatesWhileTraining({ ...c, valSize: 0.1 }, false)).toBe(false);
  });

  it('metric_for_best_model must be one the method evaluates', () => {
    const c = { ...defaultConfig('sft'), evalStrategy: 'steps' as const, metricForBestModel: 'eval_rewards/accuracies' };
    expect(() => validateConfig(c)).toThrow(
      '--metric-for-best-model (metric_for_best_model) must be one of eval_loss for SFT; got "eval_rewards/accuracies"',
    );
    expect(() => validateConfig({ ...defaultConfig('kto'), metricForBestModel: 'eval_kl' })).not.toThrow();
  });

  it('refuses load_best_model_at_end without evaluations, and a val_size that is neither a fraction nor a count', () => {
    expect(() => validateConfig({ ...defaultConfig('sft'), loadBestModelAtEnd: true })).toThrow(
      '--load-best-model-at-end (load_best_model_at_end) needs evaluations to choose from: set --eval-strategy steps or epoch',
    );
    expect(() => validateConfig({ ...defaultConfig('sft'), valSize: 2.5 })).toThrow(
      '--val-size (val_size) is a fraction below 1 or a whole number of rows, got 2.5',
    );
    expect(() => setFromText(defaultConfig('sft'), 'eval-strategy', 'often')).not.toThrow();
    const c = defaultConfig('sft');
    setFromText(c, 'eval-strategy', 'often');
    expect(() => validateConfig(c)).toThrow('--eval-strategy (eval_strategy) must be one of no, steps, epoch; got "often"');
  });
});
