// The TRL run folder: config.yaml holds only names TRL's CLI parses (TrlParser refuses others), the hyper-parameters
// as training_config.json has them, the dataset as used, the adapter, and the command in the README.
import { describe, expect, it } from 'vitest';
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
