// The TRL run folder: config.yaml holds only names TRL's CLI parses (TrlParser refuses others), the hyper-parameters
// as training_config.json has them, the dataset as used, the adapter, and the command in the README.
import { describe, expect, it } from 'vitest';
import { defaultConfig, toTrlConfig } from '../train/config.ts';
import { ExportError, fileBytes } from './files.ts';
import { type TrlRunInput, trlConfigYaml, trlRunFiles } from './trl-run.ts';

const SFT_CONFIG = {
  trainer: 'SFTTrainer',
  model_name_or_path: 'ignored/here',
  dataset: 'sft.jsonl',
  learning_rate: 0.0002,
  num_train_epochs: 2,
  per_device_train_batch_size: 4,
  max_length: 512,
  lr_scheduler_type: 'cosine',
  save_steps: 50,
  save_minutes: 10,
  assistant_only_loss: true,
  optim: 'adamw_torch',
  truncation_mode: 'keep_start',
  packing: false,
  data_preparation: { dropped_rows: 'rows whose prompt alone fills max_length were left out' },
  peft_config: { peft_type: 'LORA', r: 8, lora_alpha: 16, lora_dropout: 0.05, target_modules: ['q_proj', 'v_proj'], use_rslora: false },
};

const input = (trainingConfig: Record<string, unknown>): TrlRunInput => ({
  trainingConfig,
  baseModel: 'Qwen/Qwen2.5-0.5B',
  datasetLines: ['{"prompt": "a", "completion": "b"}', '{"prompt": "c", "completion": "d"}'],
  adapterFiles: [{ name: 'adapter_config.json', data: new TextEncoder().encode('{"r": 8}') }],
  adapterName: 'my sft',
});

describe('TRL run folder', () => {
  it("config.yaml: TRL names only, webtune's notes out, dataset and LoRA in ModelConfig / DatasetMixtureConfig names", () => {
    const { command, yaml } = trlConfigYaml(input(SFT_CONFIG));
    expect(command).toBe('sft');
    expect(yaml).toBe(
      [
        'model_name_or_path: "Qwen/Qwen2.5-0.5B"',
        'learning_rate: 0.0002',
        'num_train_epochs: 2',
        'per_device_train_batch_size: 4',
        'max_length: 512',
        'lr_scheduler_type: "cosine"',
        'save_steps: 50',
        'assistant_only_loss: true',
        'optim: "adamw_torch"',
        'truncation_mode: "keep_start"',
        'packing: false',
        'datasets:',
        '  - path: "json"',
        '    data_files: "train.jsonl"',
        '    split: "train"',
        'output_dir: "output"',
        'use_peft: true',
        'lora_r: 8',
        'lora_alpha: 16',
        'lora_dropout: 0.05',
        'lora_target_modules:',
        '  - "q_proj"',
        '  - "v_proj"',
        'use_rslora: false',
        '',
      ].join('\n'),
    );
  });

  it('DPO: trl dpo, the removed null length limits left out', () => {
    const { command, yaml } = trlConfigYaml(
      input({ ...SFT_CONFIG, trainer: 'DPOTrainer', beta: 0.1, max_prompt_length: null, ref_model: 'base' }),
    );
    expect(command).toBe('dpo');
    expect(yaml).toContain('beta: 0.1\n');
    expect(yaml).not.toMatch(/max_prompt_length|ref_model/);
  });

  it('refuses a trainer TRL has no CLI command for, naming it', () => {
    expect(() => trlConfigYaml(input({ ...SFT_CONFIG, trainer: 'CPOTrainer' }))).toThrow(ExportError);
    expect(() => trlConfigYaml(input({}))).toThrow(/trainer undefined has no TRL CLI command/);
  });

  it('the folder: the rows as used, config, accelerate config, the adapter, the README with the command', async () => {
    const files = trlRunFiles(input(SFT_CONFIG));
    expect(files.map((f) => f.name)).toEqual([
      'train.jsonl',
      'config.yaml',
      'accelerate_config.yaml',
      'adapter/adapter_config.json',
      'README.md',
    ]);
    const text = async (i: number) => new TextDecoder().decode(await fileBytes(files[i]));
    expect(await text(0)).toBe('{"prompt": "a", "completion": "b"}\n{"prompt": "c", "completion": "d"}\n');
    expect(await text(2)).toContain('distributed_type: MULTI_GPU\n');
    const readme = await text(4);
    expect(readme).toContain('trl sft --config config.yaml ');
    expect(readme).toContain('trl sft --config config.yaml --accelerate_config accelerate_config.yaml');
  });
});

describe('TRL run folder: the validation split in TRL terms', () => {
  // training_config.json as webtune writes it for an SFT run that held 2 of its rows out and evaluated every 5 steps.
  const heldOut = (): Record<string, unknown> =>
    toTrlConfig(
      { ...defaultConfig('sft'), valSize: 2, evalStrategy: 'steps', evalSteps: 5 },
      {
        model: 'Qwen/Qwen2.5-0.5B',
        dataset: 'sft.jsonl',
        evalDataset: { held_out_from: 'sft.jsonl', val_size: 2, seed: 42, rows: 2, lines: [2, 5] },
      },
    );
  // Lines 1, 2, 4, 5 of the file were kept (line 3 was refused).
  const rows = ['{"prompt": "1"}', '{"prompt": "2"}', '{"prompt": "4"}', '{"prompt": "5"}'];
  const withLines = (tc: Record<string, unknown>): TrlRunInput => ({ ...input(tc), datasetLines: rows, datasetLineNumbers: [1, 2, 4, 5] });

  it('a run without evaluation: no val_size (no TRL dataclass has it), the one train.jsonl', () => {
    const tc = toTrlConfig(defaultConfig('sft'), { model: 'm', dataset: 'sft.jsonl' });
    expect(tc.val_size).toBe(0);
    const { yaml } = trlConfigYaml(input(tc));
    expect(yaml).not.toMatch(/val_size|eval_dataset|dataset_name/);
    expect(yaml).toContain('eval_strategy: "no"\n');
    expect(yaml).toContain('    data_files: "train.jsonl"\n');
  });

  it('held-out rows: data/train.jsonl the rows trained on, data/test.jsonl those held out, TRL evaluating on that split', async () => {
    const { yaml } = trlConfigYaml(withLines(heldOut()));
    expect(yaml).not.toMatch(/val_size|eval_dataset|datasets:|test_split_size/);
    for (const line of [
      'eval_strategy: "steps"',
      'eval_steps: 5',
      'load_best_model_at_end: false',
      'metric_for_best_model: "eval_loss"',
      'dataset_name: "./data"',
      'dataset_train_split: "train"',
      'dataset_test_split: "test"',
    ])
      expect(yaml).toContain(`${line}\n`);
    const files = trlRunFiles(withLines(heldOut()));
    const byName = new Map(files.map((f) => [f.name, f]));
    expect(byName.has('train.jsonl')).toBe(false);
    const text = async (name: string) => new TextDecoder().decode(await fileBytes(byName.get(name) as (typeof files)[number]));
    expect(await text('data/train.jsonl')).toBe(`${rows[0]}\n${rows[2]}\n`);
    expect(await text('data/test.jsonl')).toBe(`${rows[1]}\n${rows[3]}\n`);
    expect(await text('README.md')).toContain('`data/train.jsonl`: the 2 rows webtune trained on; `data/test.jsonl`: the 2 it evaluated');
  });

  it('a separate eval file: its rows are the test split; without them the export says what to load', async () => {
    const tc = toTrlConfig(
      { ...defaultConfig('dpo'), evalStrategy: 'epoch' },
      { model: 'm', dataset: 'pairs.jsonl', evalDataset: { file: 'eval.jsonl', format: 'preference', rows: 1 } },
    );
    const files = trlRunFiles({ ...input(tc), evalLines: ['{"prompt": "e"}'] });
    const test = files.find((f) => f.name === 'data/test.jsonl');
    expect(new TextDecoder().decode(await fileBytes(test as (typeof files)[number]))).toBe('{"prompt": "e"}\n');
    expect(() => trlRunFiles(input(tc))).toThrow(/"my sft" was evaluated on eval\.jsonl: load eval\.jsonl too and export with it/);
  });

  it('held-out lines the dataset does not have (another file or max length): refused, naming them', () => {
    expect(() => trlRunFiles({ ...withLines(heldOut()), datasetLineNumbers: [1, 2, 3, 4] })).toThrow(
      /held lines 2, 5 of sft\.jsonl out for evaluation: export with the dataset it was trained on/,
    );
    expect(() => trlRunFiles(input(heldOut()))).toThrow(ExportError);
  });
});
