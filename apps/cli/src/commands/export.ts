// `pnpm cli export`: the model and an adapter as files people run elsewhere (api.ts ExportFormat), streamed from the
// page into <out> chunk by chunk and landed whole (out-dir.ts): a failed or interrupted export leaves no folder that
// looks complete.
import { basename } from 'node:path';
import {
  EXPORT_FORMATS,
  type ExportDType,
  type ExportFormat,
  fromTrlConfig,
  type ModelExportRequest,
  type TrainConfig,
} from '@webtune/trainer';
import { parseCommandArgs, RUNTIME_HELP, UsageError } from '../args.ts';
import type { AdapterFiles } from '../model-arg.ts';
import { OutputFile, OutputFolder } from '../out-dir.ts';
import { adapterArg, importAdapterArg, loadData, modelArg, openWithModel, readDataFile, streamExport } from './shared.ts';

export const help = `pnpm cli export --format <format> --model <dir|hub-id> [--adapter <dir>] --out <dir> [options]

Write the model with a PEFT adapter merged in, or the adapter itself, in a format other tools run:
  peft       the adapter as a PEFT folder (adapter_model.safetensors, adapter_config.json, README.md,
             training_config.json: the run that trained it)
  merged     the merged model as a Hugging Face folder (config.json, model.safetensors, tokenizer, model card)
  gguf       the merged model as one GGUF file for llama.cpp, LM Studio, Ollama
  gguf-lora  the adapter as a GGUF LoRA, for llama.cpp with the base model's GGUF (--lora)
  ollama     model.gguf, an Ollama Modelfile (chat template, stop tokens) and a README with the commands
  trl-run    a folder to go on training with TRL on a GPU machine (needs --data: the dataset the adapter used)
Without --adapter, merged, gguf and ollama export the base model alone. For an adapter trained on top of
another (train --adapter), give its <out>/stacked folder: one adapter that applies both.

<out> is written whole when the export ends, never mixed with an earlier export's files. An <out> ending in .zip
is one stored ZIP of the export's files, under a folder of its name (bundle.zip holds bundle/Modelfile, ...).

  --dtype f32|f16|bf16|q8_0     stored number type (merged: the base's by default; gguf, ollama: f16 by default,
                                q8_0 = llama.cpp's 8-bit blocks; gguf-lora: f32 by default)
  --max-shard-size SIZE         merged: split model.safetensors past SIZE (bytes, or 500MB, 2GB; default 2GB)
  --unstacked                   peft: an adapter trained on top of another alone, not stacked with it
  --data FILE                   trl-run: the JSONL dataset, written into the folder as the run read it
  --overwrite                   replace <out> if it holds files
${RUNTIME_HELP}
  --verbose                     forward the page's console`;

const DTYPES: Record<string, ExportDType> = { f32: 'F32', f16: 'F16', bf16: 'BF16', q8_0: 'Q8_0' };
/** Flags that only some formats read (--data has its own message): any other format refuses them rather than ignore them. */
const FLAG_FORMATS: Record<'dtype' | 'max-shard-size' | 'unstacked', readonly ExportFormat[]> = {
  dtype: ['merged', 'gguf', 'gguf-lora', 'ollama'],
  'max-shard-size': ['merged'],
  unstacked: ['peft'],
};
const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30 };

/** "2GB", "500MB", "1048576": bytes, as transformers' max_shard_size reads it (decimal units; KiB/MiB/GiB binary). */
export function parseSize(flag: string, raw: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(raw.trim());
  const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined || Number(m[1]) * unit < 1)
    throw new UsageError(`--${flag} ${raw}: give a size in bytes, or with a unit (500MB, 2GB, 1GiB)`);
  return Math.floor(Number(m[1]) * unit);
}

/** The run an adapter folder records (training_config.json): what trl-run loads --data with. */
function adapterRun(adapter: AdapterFiles): TrainConfig {
  const file = adapter.files.find((f) => f.name === 'training_config.json');
  if (!file)
    throw new UsageError(`--adapter ${adapter.dir} has no training_config.json: trl-run repeats the run it records (train writes one)`);
  const where = `--adapter ${adapter.dir}/training_config.json`;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(file.data));
  } catch (err) {
    throw new UsageError(`${where} is not valid JSON (${(err as Error).message}): give the folder train wrote, as it wrote it`);
  }
  try {
    return fromTrlConfig(json);
  } catch (err) {
    throw new UsageError(`${where}: ${(err as Error).message}`);
  }
}

/** Streams the export's files into <out>: a folder of them, or the one ZIP the page writes (request.zip). */
function commitStreamed(
  out: OutputFolder | OutputFile,
  fill: (append: (name: string, chunk: Uint8Array) => void) => Promise<void>,
): Promise<void> {
  if (out instanceof OutputFolder) return out.commitStreamed(fill);
  return out.commitStreamed((append) => fill((_name, chunk) => append(chunk)));
}

const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('export', argv, {
    format: { type: 'string' },
    model: { type: 'string' },
    adapter: { type: 'string' },
    out: { type: 'string' },
    dtype: { type: 'string' },
    'max-shard-size': { type: 'string' },
    unstacked: { type: 'boolean' },
    data: { type: 'string' },
    overwrite: { type: 'boolean' },
    gpu: { type: 'string' },
    runtime: { type: 'string' },
    verbose: { type: 'boolean' },
  });
  const format = values.format as ExportFormat | undefined;
  if (!format || !EXPORT_FORMATS.includes(format))
    throw new UsageError(`--format must be one of ${EXPORT_FORMATS.join(', ')}${format ? ` (got "${format}")` : ''}`);
  const dtype = values.dtype === undefined ? undefined : DTYPES[values.dtype.toLowerCase()];
  if (values.dtype !== undefined && !dtype) throw new UsageError(`--dtype must be f32, f16, bf16 or q8_0 (got "${values.dtype}")`);
  for (const [flag, formats] of Object.entries(FLAG_FORMATS)) {
    if (values[flag as keyof typeof FLAG_FORMATS] !== undefined && !formats.includes(format))
      throw new UsageError(`--${flag} is for --format ${formats.join(', ')}; --format ${format} would ignore it: leave it out`);
  }
  if (!values.out) throw new UsageError('--out is required: the folder to write the export to');
  const zip = /\.zip$/i.test(values.out) ? basename(values.out).slice(0, -'.zip'.length) : undefined;
  if (zip === '') throw new UsageError(`--out ${values.out}: name the archive (bundle.zip), its folder takes the name`);
  const reads = [
    { flag: 'model', path: values.model },
    { flag: 'adapter', path: values.adapter },
    { flag: 'data', path: values.data },
  ];
  const out =
    zip === undefined
      ? OutputFolder.check(values.out, 'out', reads).requireEmptyOr(values.overwrite === true)
      : OutputFile.check(values.out, 'out');
  if (out instanceof OutputFile && out.exists && values.overwrite !== true)
    throw new UsageError(`--out ${values.out} exists: give --overwrite to replace it, or another name`);
  const model = modelArg(values.model);
  const adapter = adapterArg(values.adapter, 'adapter');
  if (!adapter && (format === 'peft' || format === 'gguf-lora' || format === 'trl-run'))
    throw new UsageError(`--format ${format} exports an adapter: give --adapter <dir>`);
  const run = format === 'trl-run' && adapter ? adapterRun(adapter) : undefined;
  const data = run ? readDataFile(values.data) : undefined;
  if (!run && values.data !== undefined) throw new UsageError('--data is for --format trl-run (the dataset written into the run folder)');
  const maxShardBytes = values['max-shard-size'] === undefined ? undefined : parseSize('max-shard-size', values['max-shard-size']);
  const { engine, progress } = await openWithModel(model, values);
  try {
    const adapterId = adapter ? await importAdapterArg(engine, adapter) : null;
    const datasetId = run && data ? (await loadData(engine, progress, run.method, data, run.maxLength, undefined, run)).id : undefined;
    const request: ModelExportRequest = { format, adapterId, dtype, maxShardBytes, stacked: values.unstacked !== true, datasetId, zip };
    const plan = await engine.call('planExport', request);
    const total = plan.reduce((n, f) => n + f.size, 0);
    progress.line(`export ${format}: ${plan.length} file${plan.length === 1 ? '' : 's'}, ${mb(total)}`);
    const sizes = new Map(plan.map((f) => [f.name, f.size]));
    const written = new Map<string, number>();
    try {
      await commitStreamed(out, (append) =>
        streamExport(engine, request, out, (file, data) => {
          append(file, data);
          const done = (written.get(file) ?? 0) + data.length;
          written.set(file, done);
          progress.download(file, done, sizes.get(file) ?? null, false);
        }),
      );
    } finally {
      progress.done();
    }
    progress.line(`wrote ${out.path} (${mb(total)})`);
    return 0;
  } finally {
    await engine.close();
  }
}
