// A run folder for TRL on a GPU machine: the dataset as webtune used it, config.yaml in the names TRL's CLI parses
// (TrlParser over SFTConfig/DPOConfig/KTOConfig, ModelConfig and DatasetMixtureConfig; huggingface/trl at
// 0167b7dfd373ff29d11bdbddbd93701b58c5a42c, trl/scripts/utils.py, which refuses any key no dataclass has), an
// accelerate config for every GPU of one machine, the adapter the browser run produced, and a README with the
// command. The hyper-parameters are the adapter's training_config.json (already TRL's names) with webtune's own
// notes taken out: the same run, at a larger scale, without translation.
//
// Evaluation: TRL has no val_size (no dataclass of the sft/dpo/kto scripts holds it). Its scripts evaluate on
// `dataset[dataset_test_split]` when eval_strategy is not "no" (trl/scripts/sft.py, dpo.py, kto.py), and a
// `datasets:` mixture has a test split only from its own random test_split_size draw. So a run that held rows out (or
// evaluated on a file of its own) is written as a folder dataset, data/train.jsonl (the rows it trained on) and
// data/test.jsonl (the rows it evaluated on), named by `dataset_name`: datasets' load_dataset assigns files named
// train.* and test.* to those splits (SPLIT_KEYWORDS in huggingface/datasets src/datasets/data_files.py), and TRL
// evaluates on the very rows webtune did. eval_strategy, eval_steps, load_best_model_at_end and metric_for_best_model
// are TrainingArguments' own names and pass through as they are.
import { bytesFile, ExportError, type ExportFile } from './files.ts';

/** TRL CLI sub-command by the trainer webtune's training_config.json names. */
const COMMANDS: Record<string, string> = { SFTTrainer: 'sft', DPOTrainer: 'dpo', KTOTrainer: 'kto' };

/**
 * Keys of training_config.json that are webtune's record of the run rather than TRL arguments: what the trainer was,
 * the dataset's file name (config.yaml names train.jsonl instead), notes on the data and the reference, the LoRA block
 * (ModelConfig takes it as lora_*), and save_minutes (webtune's time-based checkpoints; TRL saves by steps).
 */
const WEBTUNE_KEYS = new Set(['trainer', 'dataset', 'data_preparation', 'peft_config', 'ref_model', 'stage_one_adapter', 'save_minutes']);

/** webtune's validation split (the rows it stands for are written as data/test.jsonl instead). */
const SPLIT_KEYS = new Set(['val_size', 'eval_dataset']);

/** A YAML scalar: numbers and booleans plain, strings JSON-quoted (valid YAML), null as null. */
function yamlValue(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(String(v));
}

function yaml(entries: [string, unknown][]): string {
  const lines: string[] = [];
  for (const [k, v] of entries) {
    if (Array.isArray(v)) {
      lines.push(`${k}:`);
      for (const item of v) {
        if (typeof item === 'object' && item !== null) {
          const [first, ...rest] = Object.entries(item);
          lines.push(`  - ${first[0]}: ${yamlValue(first[1])}`);
          for (const [ik, iv] of rest) lines.push(`    ${ik}: ${yamlValue(iv)}`);
        } else lines.push(`  - ${yamlValue(item)}`);
      }
    } else lines.push(`${k}: ${yamlValue(v)}`);
  }
  return `${lines.join('\n')}\n`;
}

export interface TrlRunInput {
  /** The adapter's training_config.json (TRL's names). */
  trainingConfig: Record<string, unknown>;
  /** The base model's Hub id or folder. */
  baseModel: string;
  /** The dataset's rows as used: the lines of the file that were kept, in order. */
  datasetLines: string[];
  /** The file line (1-based) of each of datasetLines: needed when the run held rows of it out (val_size). */
  datasetLineNumbers?: number[];
  /** The rows of the eval file a run evaluated on instead (training_config.json's eval_dataset.file), as used. */
  evalLines?: string[];
  /** The adapter's PEFT files (adapter_config.json, adapter_model.safetensors, ...). */
  adapterFiles: { name: string; data: Uint8Array }[];
  adapterName: string;
}

/** The rows the run trained on and those it evaluated on, when it evaluated (else null: train.jsonl is every row). */
export function trlRunSplit(input: TrlRunInput): { train: string[]; test: string[] } | null {
  const record = input.trainingConfig.eval_dataset as { held_out_from?: string; lines?: number[]; file?: string } | undefined;
  if (!record) return null;
  if (record.file !== undefined) {
    if (!input.evalLines)
      throw new ExportError(
        `"${input.adapterName}" was evaluated on ${record.file}: load ${record.file} too and export with it as the eval data ` +
          '(evalDatasetId), so the run folder evaluates on the same rows',
      );
    return { train: input.datasetLines, test: input.evalLines };
  }
  const numbers = input.datasetLineNumbers;
  const held = new Set(record.lines ?? []);
  const kept = new Set(numbers);
  if (!numbers || numbers.length !== input.datasetLines.length || [...held].some((l) => !kept.has(l)))
    throw new ExportError(
      `"${input.adapterName}" held lines ${[...held].join(', ')} of ${record.held_out_from} out for evaluation: export with the ` +
        'dataset it was trained on (the same file, read with the same max length)',
    );
  const test = input.datasetLines.filter((_, i) => held.has(numbers[i]));
  return { train: input.datasetLines.filter((_, i) => !held.has(numbers[i])), test };
}

/** config.yaml: the run's hyper-parameters for `trl <command> --config config.yaml`. */
export function trlConfigYaml(input: TrlRunInput): { command: string; yaml: string } {
  const tc = input.trainingConfig;
  const command = COMMANDS[String(tc.trainer)];
  if (!command)
    throw new ExportError(
      `training_config.json: trainer ${JSON.stringify(tc.trainer)} has no TRL CLI command (trl sft, dpo and kto do); ` +
        'run it with a script instead',
    );
  const entries: [string, unknown][] = [['model_name_or_path', input.baseModel]];
  for (const [k, v] of Object.entries(tc)) {
    if (WEBTUNE_KEYS.has(k) || SPLIT_KEYS.has(k) || k === 'model_name_or_path') continue;
    // Length limits TRL >= 0.29 removed: null means "no limit", which is also what leaving them out means there.
    if (v === null && (k === 'max_prompt_length' || k === 'max_completion_length')) continue;
    if (typeof v === 'object' && v !== null) continue;
    entries.push([k, v]);
  }
  const lora = (tc.peft_config ?? {}) as Record<string, unknown>;
  const dataset: [string, unknown][] = trlRunSplit(input)
    ? [
        ['dataset_name', './data'],
        ['dataset_train_split', 'train'],
        ['dataset_test_split', 'test'],
      ]
    : [['datasets', [{ path: 'json', data_files: 'train.jsonl', split: 'train' }]]];
  entries.push(
    ...dataset,
    ['output_dir', 'output'],
    ['use_peft', true],
    ['lora_r', lora.r ?? null],
    ['lora_alpha', lora.lora_alpha ?? null],
    ['lora_dropout', lora.lora_dropout ?? null],
    ['lora_target_modules', (lora.target_modules as unknown[]) ?? []],
    ['use_rslora', lora.use_rslora ?? false],
  );
  return { command, yaml: yaml(entries) };
}

/** Accelerate's config for data-parallel training on every GPU of one machine (`accelerate config` writes the same). */
export const ACCELERATE_CONFIG = `compute_environment: LOCAL_MACHINE
distributed_type: MULTI_GPU
machine_rank: 0
main_training_function: main
mixed_precision: bf16
num_machines: 1
num_processes: 8  # the number of GPUs on the machine
rdzv_backend: static
same_network: true
use_cpu: false
`;

export function trlRunReadme(input: TrlRunInput, command: string): string {
  const split = trlRunSplit(input);
  const data = split
    ? [
        `- \`data/train.jsonl\`: the ${split.train.length} rows webtune trained on; \`data/test.jsonl\`: the ${split.test.length} it evaluated`,
        "  on (eval_strategy), TRL's test split",
      ]
    : ['- `train.jsonl`: the dataset as webtune used it (the rows it kept, as they were written)'];
  return [
    `# Continue "${input.adapterName}" with TRL`,
    '',
    `The run that produced this adapter in webtune, set up for TRL's \`trl ${command}\` on a GPU machine:`,
    '',
    ...data,
    "- `config.yaml`: the hyper-parameters in TRL's names, the base model, the dataset and LoRA settings",
    '- `accelerate_config.yaml`: data-parallel training on one machine (set num_processes to its GPU count;',
    '  for DeepSpeed or FSDP, run `accelerate config` and use the file it writes)',
    '- `adapter/`: the adapter trained in the browser (PEFT), to compare with or start from',
    '',
    '```sh',
    'pip install trl peft accelerate',
    `trl ${command} --config config.yaml                       # one GPU`,
    `trl ${command} --config config.yaml --accelerate_config accelerate_config.yaml   # every GPU of the machine`,
    '```',
    '',
    'The run writes its adapter to `output/`. Any setting can be changed on the command line, e.g.',
    `\`trl ${command} --config config.yaml --num_train_epochs 3\`.`,
    '',
  ].join('\n');
}

const jsonl = (lines: string[]) => lines.map((l) => `${l}\n`).join('');

export function trlRunFiles(input: TrlRunInput): ExportFile[] {
  const { command, yaml: config } = trlConfigYaml(input);
  const split = trlRunSplit(input);
  return [
    ...(split
      ? [bytesFile('data/train.jsonl', jsonl(split.train)), bytesFile('data/test.jsonl', jsonl(split.test))]
      : [bytesFile('train.jsonl', jsonl(input.datasetLines))]),
    bytesFile('config.yaml', config),
    bytesFile('accelerate_config.yaml', ACCELERATE_CONFIG),
    ...input.adapterFiles.map((f) => bytesFile(`adapter/${f.name}`, f.data)),
    bytesFile('README.md', trlRunReadme(input, command)),
  ];
}
