// An adapter record <-> the files of a PEFT adapter folder:
//   adapter_model.safetensors  adapter_config.json  training_config.json  README.md (a Hugging Face model card)
// The folder loads with `PeftModel.from_pretrained(base, folder)`; training_config.json holds the run's config in
// TRL's names so the same run can be repeated with TRL.
import { type LoraConfig, LoraError, modulePath, type PeftTensors } from '../model/lora.ts';
import { parseSafetensors, weightToFloat32 } from '../model/safetensors.ts';
import { METHOD_NAMES } from '../train/config.ts';
import type { AdapterRecord, AdapterSummary } from './db.ts';
import { FINAL_METRICS, metricsFromModelCard, metricsFromTrainerState, TRAINER_STATE } from './folder-metrics.ts';
import { adapterConfigJson, adapterSafetensors, parseAdapterConfig } from './peft.ts';
import type { StackPart } from './stack.ts';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
export const TRAINING_CONFIG = 'training_config.json';
export const MODEL_CARD = 'README.md';

/** A set of files that is not a PEFT adapter webtune can import, with the reason. */
export class AdapterFilesError extends Error {
  override name = 'AdapterFilesError';
}

const encoder = new TextEncoder();

/** The files of the PEFT folder for `rec`. `modelCard` replaces the generated README.md. */
export function adapterFiles(rec: AdapterRecord, modelCard?: string): { name: string; data: Uint8Array }[] {
  const tensors: PeftTensors = new Map(rec.tensors.map((t) => [t.name, { shape: t.shape, data: t.data }]));
  return [
    { name: ADAPTER_CONFIG, data: encoder.encode(adapterConfigJson(rec.lora, rec.baseModel)) },
    { name: ADAPTER_WEIGHTS, data: adapterSafetensors(tensors) },
    { name: MODEL_CARD, data: encoder.encode(modelCard ?? adapterModelCard(rec)) },
    { name: TRAINING_CONFIG, data: encoder.encode(`${JSON.stringify(rec.trainingConfig ?? {}, null, 2)}\n`) },
  ];
}

/** Hyper-parameters the model card shows when the training config has them, in TRL's names. */
export const CARD_HYPERPARAMETERS = [
  'learning_rate',
  'num_train_epochs',
  'max_steps',
  'per_device_train_batch_size',
  'gradient_accumulation_steps',
  'max_length',
  'lr_scheduler_type',
  'warmup_steps',
  'warmup_ratio',
  'weight_decay',
  'max_grad_norm',
  'beta',
  'loss_type',
  'label_smoothing',
  'seed',
];

/** A YAML scalar: plain when unambiguous, else double-quoted (JSON strings are valid YAML). */
export function yamlScalar(s: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9._\-/]*$/.test(s) && !/^(true|false|null|yes|no|on|off|~)$/i.test(s) && !/^[0-9.eE+-]+$/.test(s)
    ? s
    : JSON.stringify(s);
}

export function formatValue(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : Number(v.toPrecision(6)).toString();
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

/** A Hugging Face Hub model id, owner/name: the only kind of id with a Hub page to link to. A model loaded from a
 *  folder or a web page (the studio's embedded demo model, "webtune-demo") has none. */
const isHubId = (base: string) => /^[\w.-]+\/[\w.-]+$/.test(base);

/** The base model as a Hub link when it is a Hub id, else as given. */
export function baseLink(base: string): string {
  if (!base) return 'its base model';
  return isHubId(base) ? `[${base}](https://huggingface.co/${base})` : `\`${base.replace(/`/g, "'")}\` (not a Hugging Face Hub model)`;
}

/** Markdown table cell text: no pipes or newlines. */
export const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

/** The last value each metric took over the run, and the step it was logged at. */
export function finalMetrics(metrics: Record<string, number>[]): { values: [string, number][]; step?: number } {
  const last = new Map<string, number>();
  for (const row of metrics ?? []) for (const [k, v] of Object.entries(row)) if (typeof v === 'number') last.set(k, v);
  const step = last.get('step');
  last.delete('step');
  return { values: [...last], step };
}

/**
 * README.md for the adapter in Hugging Face's model card format: YAML front matter (base_model, library_name,
 * tags), what it is, how it was trained, its final metrics, and how to load it with PEFT. `parent` is the adapter a
 * DPO adapter was trained on top of, when known, so the card can name it. `stackedFrom` marks `rec` as the stacked
 * export of a chain (stack.ts): the card names each part and says the adapter stands alone on the base model.
 */
export function adapterModelCard(
  rec: AdapterRecord,
  options: { parent?: Pick<AdapterSummary, 'name' | 'id'>; stackedFrom?: StackPart[] } = {},
): string {
  const base = rec.baseModel || '';
  const baseRef = base || '<base model>';
  const { short: method, long: longMethod } = METHOD_NAMES[rec.method];
  const title = (rec.name || 'webtune adapter').replace(/\s*\n\s*/g, ' ');
  const lines: string[] = ['---'];
  if (base) lines.push(`base_model: ${yamlScalar(base)}`);
  lines.push('library_name: peft', 'pipeline_tag: text-generation', 'tags:', '- webtune', '- lora', `- ${rec.method}`, '- trl', '---', '');
  lines.push(`# ${title}`, '');
  lines.push(
    `A LoRA adapter for ${baseLink(base)}, trained with ${longMethod} ` +
      'in the browser on WebGPU by webtune. It is a standard PEFT adapter: `adapter_config.json` and `adapter_model.safetensors`.',
    '',
  );
  const parentName = options.parent ? `"${options.parent.name}" (${options.parent.id})` : rec.parentId;
  const stacked = options.stackedFrom && options.stackedFrom.length > 1 ? options.stackedFrom : undefined;
  if (stacked) {
    const names = stacked.map((p) => `the ${p.method.toUpperCase()} adapter "${p.name}" (${p.id})`);
    lines.push(
      `This adapter is stacked from ${names.slice(0, -1).join(', ')} and, trained on top of it, ${names.at(-1)}: ` +
        `one exact adapter of rank ${rec.lora.r} whose lora_A rows and lora_B columns are theirs, concatenated, with each ` +
        "part's scale folded into its lora_B columns (so lora_alpha = r and the scale is 1). Loaded alone on the plain base " +
        'model it reproduces the base model with every one of them applied: nothing needs merging first.',
      '',
      '| part | adapter | method | rows of lora_A | r | lora_alpha | scale | target_modules |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const [i, p] of stacked.entries()) {
      lines.push(
        `| ${i + 1} | ${cell(`"${p.name}" (${p.id})`)} | ${p.method.toUpperCase()} | ${p.rows[0]}-${p.rows[1] - 1} | ${p.r} | ` +
          `${formatValue(p.alpha)}${p.useRslora ? ' (rsLoRA)' : ''} | ${formatValue(p.scale)} | ${p.targetModules.join(', ')} |`,
      );
    }
    lines.push('');
  } else if (rec.parentId !== null) {
    lines.push(
      `This adapter was trained on top of the SFT adapter ${parentName}, merged into the base model: apply that adapter, ` +
        'merged, before this one (see below). On the plain base model it does not reproduce the trained model.',
      '',
    );
  }

  lines.push('## Training', '');
  const stage = stacked
    ? ' (second stage, on top of the adapters above; exported stacked with them)'
    : ' (second stage, on top of an SFT adapter)';
  lines.push(`- Method: ${method}${rec.parentId !== null || stacked ? stage : ''}`);
  lines.push(`- Trained: ${new Date(rec.updatedAt || rec.createdAt).toISOString().slice(0, 10)}`);
  const { r, alpha, dropout, targetModules, useRslora } = rec.lora;
  lines.push(
    `- LoRA: r=${r}, lora_alpha=${alpha}, lora_dropout=${dropout}, target_modules=${targetModules.join(', ')}${useRslora ? ', use_rslora=true' : ''}`,
  );
  const config = rec.trainingConfig ?? {};
  const hyper = CARD_HYPERPARAMETERS.filter((k) => config[k] !== undefined && config[k] !== null);
  if (hyper.length > 0) {
    lines.push('', '| hyper-parameter | value |', '| --- | --- |');
    for (const k of hyper) lines.push(`| ${k} | ${cell(formatValue(config[k]))} |`);
  }
  lines.push('', `The full configuration, in TRL's names, is in \`${TRAINING_CONFIG}\`.`, '');

  const { values, step } = finalMetrics(rec.metrics);
  if (values.length > 0) {
    lines.push(`${FINAL_METRICS}${step !== undefined ? ` (step ${formatValue(step)})` : ''}`, '', '| metric | value |', '| --- | --- |');
    for (const [k, v] of values) lines.push(`| ${cell(k)} | ${formatValue(v)} |`);
    lines.push('');
  }

  lines.push('## Usage', '', '```python', 'from peft import PeftModel', 'from transformers import AutoModelForCausalLM, AutoTokenizer', '');
  // A base that is not on the Hub loads from its folder.
  const from = isHubId(baseRef) ? baseRef : `path/to/${baseRef}`;
  lines.push(`base = AutoModelForCausalLM.from_pretrained(${JSON.stringify(from)})`);
  lines.push(`tokenizer = AutoTokenizer.from_pretrained(${JSON.stringify(from)})`);
  if (rec.parentId !== null && !stacked) {
    lines.push('# First the SFT adapter this one was trained on, merged into the base:');
    lines.push('base = PeftModel.from_pretrained(base, "path/to/sft-adapter").merge_and_unload()');
  }
  lines.push('model = PeftModel.from_pretrained(base, "path/to/this-adapter")', '```', '');
  return lines.join('\n');
}

const baseName = (path: string) => path.split(/[/\\]/).at(-1) ?? path;
/** Zip clutter from macOS: __MACOSX/ folders and ._ resource forks. */
const isClutter = (path: string) => path.split(/[/\\]/).some((part) => part === '__MACOSX') || baseName(path).startsWith('._');

const PEFT_KEY = /^base_model\.model\.(.+)\.lora_([AB])\.weight$/;
const MODULE_PATH = /^model\.layers\.(\d+)\.(?:self_attn|mlp)\.([a-z_]+)$/;

/**
 * Reads a PEFT adapter folder's files (names may carry a folder prefix, as in a zip of the folder). Needs
 * adapter_config.json and adapter_model.safetensors; training_config.json is optional, and so are the metrics
 * (trainer_state.json, else the Final metrics of webtune's README.md: folder-metrics.ts). Checks that the tensors are
 * exactly the lora_A / lora_B pairs the config's rank and targets call for (shapes against the model are checked when
 * the adapter is loaded onto one).
 */
export function importAdapterFiles(files: Map<string, Uint8Array>): {
  lora: LoraConfig;
  baseModel: string;
  tensors: PeftTensors;
  trainingConfig?: Record<string, unknown>;
  metrics: Record<string, number>[];
} {
  const names = [...files.keys()].filter((n) => !isClutter(n));
  const find = (wanted: string): [string, Uint8Array] | undefined => {
    const hits = names.filter((n) => baseName(n) === wanted);
    if (hits.length > 1) {
      throw new AdapterFilesError(`found ${hits.length} copies of ${wanted} (${hits.join(', ')}): import one adapter folder at a time`);
    }
    return hits.length === 1 ? [hits[0], files.get(hits[0]) as Uint8Array] : undefined;
  };
  const got =
    names.length > 0 ? `got: ${names.slice(0, 8).join(', ')}${names.length > 8 ? `, and ${names.length - 8} more` : ''}` : 'got no files';
  const folder = `a PEFT adapter folder holds ${ADAPTER_CONFIG} and ${ADAPTER_WEIGHTS} (${got})`;

  const configFile = find(ADAPTER_CONFIG);
  if (!configFile) throw new AdapterFilesError(`${ADAPTER_CONFIG} is missing: ${folder}`);
  const weightsFile = find(ADAPTER_WEIGHTS);
  if (!weightsFile) {
    if (find('adapter_model.bin')) {
      throw new AdapterFilesError(
        `${ADAPTER_WEIGHTS} is missing; this adapter has only adapter_model.bin (a PyTorch pickle), which webtune does not read. ` +
          'Re-save it in Python with `model.save_pretrained(folder, safe_serialization=True)` to get adapter_model.safetensors.',
      );
    }
    throw new AdapterFilesError(`${ADAPTER_WEIGHTS} is missing: ${folder}`);
  }

  const { lora, baseModel } = parseAdapterConfig(decodeText(configFile), configFile[0]);

  const [weightsName, weights] = weightsFile;
  const parsed = parseSafetensors(weightsName, weights);
  const tensors: PeftTensors = new Map();
  const pairs = new Map<string, Set<string>>();
  for (const info of parsed.tensors.values()) {
    const fail = (why: string) => new LoraError(`${weightsName}: tensor "${info.name}": ${why}`);
    const key = PEFT_KEY.exec(info.name);
    const mod = key && MODULE_PATH.exec(key[1]);
    if (!key || !mod) {
      throw fail(
        'is not a LoRA weight webtune knows (expected base_model.model.model.layers.<i>.<self_attn|mlp>.<module>.lora_<A|B>.weight); ' +
          'adapters with extra saved modules or embedding adapters are not supported',
      );
    }
    const target = mod[2];
    if (
      !(lora.targetModules as string[]).includes(target) ||
      modulePath(Number(mod[1]), target as LoraConfig['targetModules'][number]) !== key[1]
    ) {
      throw fail(`module ${key[1]} is not among the target_modules of ${configFile[0]} (${lora.targetModules.join(', ')})`);
    }
    const which = key[2];
    if (info.shape.length !== 2) throw fail(`shape [${info.shape.join(', ')}] is not 2-D`);
    const rank = which === 'A' ? info.shape[0] : info.shape[1];
    if (rank !== lora.r) {
      throw fail(
        `shape [${info.shape.join(', ')}] has rank ${rank}, but ${configFile[0]} says r=${lora.r} (lora_A is [r, in], lora_B is [out, r])`,
      );
    }
    pairs.set(key[1], (pairs.get(key[1]) ?? new Set()).add(which));
    tensors.set(info.name, { shape: info.shape, data: weightToFloat32(weightsName, weights, parsed.dataOffset, info) });
  }
  if (tensors.size === 0) throw new LoraError(`${weightsName} holds no tensors`);
  for (const [path, have] of pairs) {
    for (const which of ['A', 'B']) {
      if (!have.has(which))
        throw new LoraError(`${weightsName}: module ${path} has no lora_${which}.weight (every module needs both A and B)`);
    }
  }

  const trainingFile = find(TRAINING_CONFIG);
  const trainingConfig = trainingFile ? readJsonObject(trainingFile) : undefined;
  const stateFile = find(TRAINER_STATE);
  const cardFile = find(MODEL_CARD);
  let metrics: Record<string, number>[] = [];
  if (stateFile) {
    const read = metricsFromTrainerState(readJsonObject(stateFile));
    if (!read) throw new AdapterFilesError(`${stateFile[0]} has no "log_history" list (the Trainer's logged metrics)`);
    metrics = read;
  } else if (cardFile) metrics = metricsFromModelCard(decodeText(cardFile));
  return trainingConfig === undefined ? { lora, baseModel, tensors, metrics } : { lora, baseModel, tensors, trainingConfig, metrics };
}

function readJsonObject(file: [string, Uint8Array]): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decodeText(file));
  } catch (err) {
    throw new AdapterFilesError(`${file[0]} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new AdapterFilesError(`${file[0]} must hold a JSON object`);
  return value as Record<string, unknown>;
}

function decodeText([name, bytes]: [string, Uint8Array]): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new AdapterFilesError(`${name} is not UTF-8 text`);
  }
}
