// Steps every model command shares: open the engine, load the model, load a dataset and report it.
import type { DatasetSummary, DownloadProgress, Method, ModelInfo } from '@webtune/trainer';
import { gpuOption, UsageError } from '../args.ts';
import { Engine } from '../engine.ts';
import { type ModelArg, modelArg, readAdapterDir, readDataFile } from '../model-arg.ts';
import { ProgressPrinter } from '../progress.ts';

export interface Opened {
  engine: Engine;
  model: ModelInfo;
  progress: ProgressPrinter;
}

export async function openWithModel(values: { model?: string; gpu?: string; verbose?: boolean }): Promise<Opened> {
  const arg: ModelArg = modelArg(values.model);
  const engine = await Engine.open({ gpu: gpuOption(values.gpu), mounts: arg.mounts, verbose: values.verbose });
  const progress = new ProgressPrinter();
  try {
    const device = await engine.call('init');
    progress.line(`webgpu: ${[device.vendor, device.architecture, device.description].filter(Boolean).join(' ')}`);
    progress.line(`model: ${arg.label}`);
    const model = await engine.stream('loadModel', [arg.source((n) => engine.localUrl(n)), {}], (p: DownloadProgress) =>
      progress.download(p.file, p.loaded, p.total, p.cached),
    );
    progress.done();
    progress.line(
      `loaded ${model.architecture}: ${(model.parameters / 1e6).toFixed(2)}M parameters, ${model.layers} layers, vocab ${model.vocabSize}`,
    );
    return { engine, model, progress };
  } catch (err) {
    await engine.close();
    throw err;
  }
}

/** Import a PEFT folder given on the command line; returns its id in the engine. */
export async function importAdapterArg(engine: Engine, dir: string, flag: string, parentId: string | null = null): Promise<string> {
  const files = readAdapterDir(dir, flag);
  const summary = await engine.call('importAdapter', files, `${flag} ${dir}`, parentId);
  return summary.id;
}

export async function loadData(
  engine: Engine,
  progress: ProgressPrinter,
  method: Method,
  dataPath: string | undefined,
  maxLength: number,
): Promise<DatasetSummary> {
  const { text, file } = readDataFile(dataPath);
  const ds = await engine.call('loadDataset', method, text, file, maxLength);
  const rejected = Object.entries(ds.rejectedByReason);
  progress.line(
    `data: ${file} (${ds.format}): ${ds.kept} rows kept, ${ds.rejected.length} rejected, ${ds.dropped.length} dropped, ${ds.truncated} truncated to ${maxLength} tokens`,
  );
  for (const [reason, count] of rejected) progress.line(`  rejected ${count} x ${reason}`);
  for (const r of ds.rejected.slice(0, 5)) progress.line(`    line ${r.line}: ${r.reason}`);
  for (const r of ds.dropped.slice(0, 5)) progress.line(`  dropped line ${r.line}: ${r.reason}`);
  if (ds.kept === 0) throw new UsageError(`${file} has no usable ${method.toUpperCase()} rows`);
  return ds;
}

export function methodOption(value: string | undefined): Method {
  if (value === 'sft' || value === 'dpo') return value;
  throw new UsageError(`--method must be sft or dpo${value ? ` (got "${value}")` : ''}`);
}
