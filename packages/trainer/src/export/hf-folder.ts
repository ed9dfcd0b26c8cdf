// The merged model as a Hugging Face folder that `AutoModelForCausalLM.from_pretrained(folder)` loads: config.json
// (torch_dtype set to what was written), model.safetensors (sharded past a size), generation_config.json, the base's
// tokenizer files and chat template unchanged, and a model card.

import { DEFAULT_MAX_SHARD_BYTES } from '../api.ts';
import type { AdapterRecord } from '../store/db.ts';
import { baseLink, CARD_HYPERPARAMETERS, cell, finalMetrics, formatValue, yamlScalar } from '../store/export.ts';
import type { FloatDType } from './dtype.ts';
import { bytesFile, type ExportFile } from './files.ts';
import { type Checkpoint, mergeAdapters } from './merge.ts';
import { safetensorsFiles } from './safetensors-out.ts';

/** The base model's non-weight files, by name (config.json required; the tokenizer files as the base has them). */
export type BaseFiles = Map<string, Uint8Array>;

/** Files copied from the base as they are: the tokenizer and its chat template. */
export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'chat_template.jinja',
  'chat_template.json',
  'tokenizer.model',
  'vocab.json',
  'merges.txt',
];

export const TORCH_DTYPE: Record<FloatDType, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

/** The dtype a checkpoint's weights are stored in (its first matrix's, as llama.cpp's converter guesses it). */
export function storedDType(base: Checkpoint): FloatDType {
  return base.tensors.find((t) => t.shape.length === 2)?.dtype ?? 'F32';
}

export interface MergedOptions {
  /** Written dtype; the base's by default. */
  dtype?: FloatDType;
  maxShardBytes?: number;
  /** Name of the base model (Hub id or folder) for the card. */
  baseModel: string;
}

/** What the card says about the adapters merged in (their records, without tensors). */
export type MergedFrom = Pick<AdapterRecord, 'id' | 'name' | 'method' | 'lora' | 'trainingConfig' | 'metrics'>;

export function mergedModelFiles(
  base: Checkpoint,
  baseFiles: BaseFiles,
  adapters: (MergedFrom & Pick<AdapterRecord, 'baseModel' | 'tensors'>)[],
  options: MergedOptions,
): ExportFile[] {
  const dtype = options.dtype ?? storedDType(base);
  const merged = mergeAdapters(base, adapters);
  const config: Record<string, unknown> = { ...base.configJson, torch_dtype: TORCH_DTYPE[dtype] };
  if ('dtype' in base.configJson) config.dtype = TORCH_DTYPE[dtype];
  const files: ExportFile[] = [bytesFile('config.json', `${JSON.stringify(config, null, 2)}\n`)];
  files.push(...safetensorsFiles(merged, dtype, options.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES));
  const generation = baseFiles.get('generation_config.json');
  files.push(bytesFile('generation_config.json', generation ?? generationConfig(base)));
  for (const name of TOKENIZER_FILES) {
    const data = baseFiles.get(name);
    if (data) files.push(bytesFile(name, data));
  }
  files.push(bytesFile('README.md', mergedModelCard(options.baseModel, adapters, dtype)));
  return files;
}

/** generation_config.json from config.json's special ids, as transformers derives it when a checkpoint has none. */
function generationConfig(base: Checkpoint): string {
  const c = base.config;
  const out: Record<string, unknown> = { _from_model_config: true };
  if (c.bosTokenId !== null) out.bos_token_id = c.bosTokenId;
  if (c.eosTokenIds.length > 0) out.eos_token_id = c.eosTokenIds.length === 1 ? c.eosTokenIds[0] : c.eosTokenIds;
  if (typeof base.configJson.pad_token_id === 'number') out.pad_token_id = base.configJson.pad_token_id;
  return `${JSON.stringify(out, null, 2)}\n`;
}

/** README.md: what was merged into what, how each adapter was trained (TRL's names), its final metrics, usage. */
export function mergedModelCard(baseModel: string, adapters: MergedFrom[], dtype: FloatDType): string {
  const lines = ['---'];
  if (baseModel) lines.push(`base_model: ${yamlScalar(baseModel)}`);
  lines.push('library_name: transformers', 'pipeline_tag: text-generation', 'tags:', '- webtune', '- trl');
  for (const m of new Set(adapters.map((a) => a.method))) lines.push(`- ${m}`);
  lines.push('---', '', `# ${(adapters.at(-1)?.name ?? 'webtune model').replace(/\s*\n\s*/g, ' ')} (merged)`, '');
  const stages = adapters.map((a) => `the ${a.method.toUpperCase()} adapter "${a.name}" (${a.id})`).join(', then ');
  lines.push(
    `${baseLink(baseModel)} with ${stages} merged into its weights by webtune: for every adapted projection ` +
      '`W + lora_alpha/r · B·A`, computed in float64 and rounded once to float32, then saved as ' +
      `${TORCH_DTYPE[dtype]}. It loads as a plain model; no PEFT is needed.`,
    '',
  );
  for (const a of adapters) {
    lines.push(`## ${a.method.toUpperCase()} adapter "${cell(a.name)}"`, '');
    const { r, alpha, dropout, targetModules, useRslora } = a.lora;
    lines.push(
      `- LoRA: r=${r}, lora_alpha=${alpha}, lora_dropout=${dropout}, target_modules=${targetModules.join(', ')}${useRslora ? ', use_rslora=true' : ''}`,
    );
    const config = a.trainingConfig ?? {};
    const data = config.dataset ?? config.dataset_name ?? config.train_file;
    if (data !== undefined) lines.push(`- Data: ${cell(formatValue(data))}`);
    const hyper = CARD_HYPERPARAMETERS.filter((k) => config[k] !== undefined && config[k] !== null);
    if (hyper.length > 0) {
      lines.push('', '| hyper-parameter | value |', '| --- | --- |');
      for (const k of hyper) lines.push(`| ${k} | ${cell(formatValue(config[k]))} |`);
    }
    const { values, step } = finalMetrics(a.metrics);
    if (values.length > 0) {
      lines.push(
        '',
        `Final metrics${step !== undefined ? ` (step ${formatValue(step)})` : ''}:`,
        '',
        '| metric | value |',
        '| --- | --- |',
      );
      for (const [k, v] of values) lines.push(`| ${cell(k)} | ${formatValue(v)} |`);
    }
    lines.push('');
  }
  lines.push('## Usage', '', '```python', 'from transformers import AutoModelForCausalLM, AutoTokenizer', '');
  lines.push('model = AutoModelForCausalLM.from_pretrained("path/to/this-folder")');
  lines.push('tokenizer = AutoTokenizer.from_pretrained("path/to/this-folder")', '```', '');
  return lines.join('\n');
}
