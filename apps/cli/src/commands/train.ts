// `pnpm cli train`: SFT or DPO of a LoRA adapter; writes a PEFT folder, metrics.jsonl and training_config.json.
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defaultConfig, HYPER_PARAMS, setFromText, type TrainEvent, type TrainResult, validateConfig } from '@webtune/trainer';
import { type OptionSpec, parseCommandArgs, UsageError } from '../args.ts';
import {
  adapterArg,
  importAdapterArg,
  loadData,
  methodOption,
  modelArg,
  openWithModel,
  readDataFile,
  refuseOtherMethodFlags,
} from './shared.ts';

const flags = HYPER_PARAMS.map((p) => `  --${p.flag.padEnd(28)} ${p.only ? `(${p.only.toUpperCase()} only) ` : ''}${p.help}`).join('\n');

export const help = `pnpm cli train --method sft|dpo --model <dir|hub-id> --data <file.jsonl> --out <dir> [--adapter <dir>] [options]

Train a LoRA adapter and write <out>/adapter_model.safetensors + adapter_config.json (PEFT),
<out>/training_config.json (the run in TRL's names) and <out>/metrics.jsonl (one line per logged step).
With --adapter, that PEFT adapter is the stage-one model (DPO on top of SFT): it is part of the
reference and of the starting policy, and a new adapter is trained on top. <out> then holds the new
adapter alone (apply it on top of the stage-one adapter; \`eval --ref-adapter <stage one> --adapter <out>\`),
and <out>/stacked/ one exact adapter of rank r1+r2 that applies both to the base model.

  --name TEXT                    name of the adapter
  --gpu auto|hardware|swiftshader
  --verbose                      forward the page's console
hyper-parameters (TRL/PEFT names, kebab-case):
${flags}`;

export async function run(argv: string[]): Promise<number> {
  const options: OptionSpec = {
    method: { type: 'string' },
    model: { type: 'string' },
    data: { type: 'string' },
    out: { type: 'string' },
    adapter: { type: 'string' },
    name: { type: 'string' },
    gpu: { type: 'string' },
    verbose: { type: 'boolean' },
  };
  // A boolean hyper-parameter is a bare flag (--use-rslora), the others take a value.
  for (const p of HYPER_PARAMS) options[p.flag] = { type: p.kind.type === 'boolean' ? 'boolean' : 'string' };
  const { values } = parseCommandArgs('train', argv, options);
  const method = methodOption(values.method as string | undefined);
  refuseOtherMethodFlags(values, method);
  if (!values.out) throw new UsageError('--out is required: the folder to write the adapter to');
  const config = defaultConfig(method);
  try {
    for (const p of HYPER_PARAMS) {
      const given = values[p.flag];
      if (given !== undefined) setFromText(config, p.flag, String(given));
    }
    validateConfig(config);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const out = resolve(values.out as string);
  if (existsSync(out) && !statSync(out).isDirectory())
    throw new UsageError(`--out ${values.out} is a file; give the folder to write the adapter to`);
  // Every file argument is read before Chromium starts: a typo costs a second, not a model load.
  const model = modelArg(values.model as string | undefined);
  const adapter = adapterArg(values.adapter as string | undefined, 'adapter');
  const data = readDataFile(values.data as string | undefined);
  const { engine, progress } = await openWithModel(model, values as { gpu?: string; verbose?: boolean });
  let result: TrainResult;
  const onSigint = () => {
    progress.line('interrupted: stopping after the current micro-batch (Ctrl-C again to kill)');
    void engine.call('cancel');
    process.once('SIGINT', () => process.exit(130));
  };
  try {
    const parentAdapterId = adapter ? await importAdapterArg(engine, adapter) : null;
    const ds = await loadData(engine, progress, method, data, config.maxLength, out);
    process.once('SIGINT', onSigint);
    result = await engine.stream('train', [{ config, datasetId: ds.id, parentAdapterId, name: values.name }], (e: TrainEvent) =>
      progress.event(e),
    );
    progress.done();
    if (result.adapterId) {
      mkdirSync(out, { recursive: true });
      // DPO on top of a stage-one adapter: <out> holds this run's adapter (apply it on top of
      // --adapter, as `eval --ref-adapter` does), <out>/stacked the one exact adapter for the base.
      for (const f of await engine.call('exportAdapter', result.adapterId, { stacked: false })) writeFileSync(join(out, f.name), f.data);
      if (parentAdapterId) {
        mkdirSync(join(out, 'stacked'), { recursive: true });
        for (const f of await engine.call('exportAdapter', result.adapterId, { stacked: true }))
          writeFileSync(join(out, 'stacked', f.name), f.data);
      }
      writeFileSync(
        join(out, 'metrics.jsonl'),
        result.metrics.map((m) => JSON.stringify(m)).join('\n') + (result.metrics.length ? '\n' : ''),
      );
      progress.line(`wrote ${out}`);
    }
  } finally {
    process.off('SIGINT', onSigint);
    await engine.close();
  }
  if (result.status !== 'completed') process.stderr.write(`webtune train: ${result.message}\n`);
  return result.status === 'completed' ? 0 : 1;
}
