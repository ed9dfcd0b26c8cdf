// Steps every model command shares: read the arguments' files, open the engine, load the model, load a dataset
// and report it. Everything that can be checked in Node (flags, folders, files) is checked before Chromium starts.

import { PageError } from '@webtune/harness';
import {
  type Advice,
  type DatasetSummary,
  type ExportChunk,
  HYPER_PARAMS,
  ktoBalance,
  lineRanges,
  METHOD_NAMES,
  METHODS,
  type ModelExportRequest,
  type ModelInfo,
  reasonSummary,
  type TrainConfig,
  type TrainMethod,
  unusedWeightsWarning,
} from '@webtune/trainer';
import { gpuOption, runtimeOption, UsageError } from '../args.ts';
import { Engine } from '../engine.ts';
import { type AdapterFiles, type ModelArg, readAdapterDir, readDataFile } from '../model-arg.ts';
import type { OutputFolder } from '../out-dir.ts';
import { ProgressPrinter } from '../progress.ts';

export { modelArg } from '../model-arg.ts';

export interface Opened {
  engine: Engine;
  model: ModelInfo;
  progress: ProgressPrinter;
}

/** `beforeModel` runs once the trainer is up, before the model loads: checks that need the profile (train's resume). */
export async function openWithModel(
  arg: ModelArg,
  values: { gpu?: string; runtime?: string; verbose?: boolean },
  beforeModel?: (engine: Engine, progress: ProgressPrinter) => Promise<void>,
): Promise<Opened> {
  const engine = await Engine.open({
    runtime: runtimeOption(values.runtime),
    gpu: gpuOption(values.gpu),
    mounts: arg.mounts,
    verbose: values.verbose,
  });
  const progress = new ProgressPrinter();
  try {
    const device = await engine.init({ onProgress: (p) => progress.download(p.file, p.loaded, p.total, p.cached) });
    progress.line(`webgpu: ${[device.vendor, device.architecture, device.description].filter(Boolean).join(' ')}`);
    await beforeModel?.(engine, progress);
    progress.line(`model: ${arg.label}`);
    let model: ModelInfo;
    try {
      model = await engine.call(
        'loadModel',
        arg.source((n) => engine.localUrl(n)),
      );
    } catch (err) {
      // The trainer says "pass an access token"; on the command line that is $HF_TOKEN.
      if (arg.hub && err instanceof PageError && /access token/.test(err.message))
        err.message += process.env.HF_TOKEN
          ? ' (the token given is $HF_TOKEN)'
          : ' Set HF_TOKEN to a Hugging Face access token with read access and run again.';
      throw err;
    } finally {
      progress.done();
    }
    progress.line(
      `loaded ${model.architecture}: ${(model.parameters / 1e6).toFixed(2)}M parameters, ${model.layers} layers, vocab ${model.vocabSize}`,
    );
    if (model.chatTemplateProblem) progress.line(`warning: ${engine.localPaths(model.chatTemplateProblem)}`);
    const unused = unusedWeightsWarning(model.architecture, model.unusedWeights);
    if (unused) progress.line(`warning: ${unused}`);
    return { engine, model, progress };
  } catch (err) {
    await engine.close();
    throw err;
  }
}

/** `--adapter <dir>` (or another adapter flag), read in Node before the browser starts; null when not given. */
export function adapterArg(dir: string | undefined, flag: string): AdapterFiles | null {
  return dir === undefined ? null : readAdapterDir(dir, flag);
}

/** Import a PEFT folder given on the command line; returns its id in the engine. */
export async function importAdapterArg(engine: Engine, adapter: AdapterFiles, parentId: string | null = null): Promise<string> {
  try {
    const summary = await engine.call('importAdapter', adapter.files, adapter.dir, parentId);
    return summary.id;
  } catch (err) {
    if (!(err instanceof PageError)) throw err;
    const trainedOn = adapter.baseModel ? ` (trained on ${adapter.baseModel})` : '';
    throw new PageError(`--${adapter.flag} ${adapter.dir}${trainedOn}: ${err.message}`, err.pageName, err.pageStack);
  }
}

/**
 * Streams an export from the page into `append`, a chunk of at most 4 MiB (EXPORT_CHUNK_BYTES) at a time: a file never
 * crosses the page boundary whole, where one message holding its base64 costs several copies of it on each side (an
 * adapter of Qwen2.5-0.5B's shape, 35 MB, raised the page's and Node's memory by about 320 and 190 MiB at once).
 * A write that fails (`append` throws) ends the export in the page, and is the error thrown, named by `out`.
 */
export async function streamExport(
  engine: Pick<Engine, 'stream'>,
  request: ModelExportRequest,
  out: { arg: string },
  append: (file: string, chunk: Uint8Array) => void,
): Promise<void> {
  let writeError: Error | undefined;
  try {
    await engine.stream('exportModel', [request], (chunk: ExportChunk) => {
      try {
        append(chunk.file, chunk.data);
      } catch (err) {
        writeError = err as Error;
        throw err;
      }
    });
  } catch (err) {
    if (writeError) throw new Error(`could not write ${out.arg}: ${writeError.message}; nothing was written`);
    throw err;
  }
}

/** Up to this many refused rows are listed one line each; past it, <out>/rejected_rows.jsonl holds them. */
export const LISTED_ROWS = 20;

/**
 * Loads the dataset and reports it: counts, then every reason with its count and all its lines, then each refused
 * row with its full reason (into `<out>/rejected_rows.jsonl`, written with the rest, when there are many and the command
 * has an --out).
 */
export async function loadData(
  engine: Engine,
  progress: ProgressPrinter,
  method: TrainMethod,
  data: { text: string; file: string },
  maxLength: number,
  out?: OutputFolder,
  config?: Pick<TrainConfig, 'completionOnlyLoss' | 'assistantOnlyLoss' | 'desirableWeight' | 'undesirableWeight'>,
): Promise<DatasetSummary> {
  const { text, file } = data;
  const loss = config && { completionOnlyLoss: config.completionOnlyLoss, assistantOnlyLoss: config.assistantOnlyLoss };
  const ds = await engine.call('loadDataset', method, text, file, maxLength, loss);
  progress.line(
    `data: ${file} (${ds.format}): ${ds.kept} rows kept, ${ds.rejected.length} rejected, ${ds.dropped.length} dropped, ${ds.truncated} truncated to ${maxLength} tokens`,
  );
  if (ds.balance) {
    const { warning } = ktoBalance(ds.balance, config?.desirableWeight ?? 1, config?.undesirableWeight ?? 1);
    progress.line(`  ${ds.balance.desirable} desirable (label true), ${ds.balance.undesirable} undesirable (label false)`);
    if (warning) progress.line(`  warning: ${warning}`);
  }
  for (const line of reasonSummary(ds.rejected)) progress.line(`  rejected: ${line}`);
  for (const line of reasonSummary(ds.dropped)) progress.line(`  dropped: ${line}`);
  const refused = [
    ...ds.rejected.map((r) => ({ line: r.line, status: 'rejected', reason: r.reason })),
    ...ds.dropped.map((r) => ({ line: r.line, status: 'dropped', reason: r.reason })),
  ].sort((a, b) => a.line - b.line);
  // With nothing to train there is no run to write: every refused row is listed here then.
  if (refused.length > LISTED_ROWS && out !== undefined && ds.kept > 0) {
    const list = out.add('rejected_rows.jsonl', refused.map((r) => `${JSON.stringify(r)}\n`).join(''));
    progress.line(`  each of the ${refused.length} refused rows with its reason: ${list} (written with the adapter)`);
  } else {
    // Rows refused for the very same reason (a chat template that raises on every row) are said once, with their lines.
    const groups = new Map<string, { status: string; reason: string; lines: number[] }>();
    for (const r of refused) {
      const key = `${r.status}: ${r.reason}`;
      const g = groups.get(key) ?? { status: r.status, reason: r.reason, lines: [] };
      g.lines.push(r.line);
      groups.set(key, g);
    }
    for (const g of groups.values()) progress.line(`    ${lineRanges(g.lines)} ${g.status}: ${g.reason}`);
  }
  if (ds.kept === 0) {
    const reasons = new Set(refused.map((r) => r.reason));
    const why = reasons.size === 1 ? `: every row was ${refused[0].status} (${refused[0].reason})` : '';
    throw new UsageError(`${file} has no usable ${METHOD_NAMES[method].short} rows${why}`);
  }
  for (const a of ds.advice) printAdvice(progress, a);
  return ds;
}

/** One piece of data advice, with its lines (ranges, bounded so a large file stays one line). */
export function printAdvice(progress: ProgressPrinter, a: Advice): void {
  progress.line(`  ${a.level}: ${a.message}${a.lines.length > 0 ? ` (${lineRanges(a.lines, 30)})` : ''}`);
}

export { readDataFile };

export function methodOption(value: string | undefined): TrainMethod {
  const method = METHODS.find((m) => m === value);
  if (method) return method;
  throw new UsageError(`--method must be ${METHODS.slice(0, -1).join(', ')} or ${METHODS.at(-1)}${value ? ` (got "${value}")` : ''}`);
}

/** Refuses hyper-parameter flags of other methods (e.g. --beta with --method sft): they would be ignored. */
export function refuseOtherMethodFlags(values: Record<string, unknown>, method: TrainMethod): void {
  const given = HYPER_PARAMS.filter((p) => p.only && !p.only.includes(method) && values[p.flag] !== undefined);
  if (given.length === 0) return;
  // Flags grouped by the methods they belong to: "--simpo-gamma, --cpo-alpha are --method simpo settings".
  const groups = new Map<string, string[]>();
  for (const p of given) {
    const owners = `--method ${p.only?.join('|')}`;
    groups.set(owners, [...(groups.get(owners) ?? []), `--${p.flag}`]);
  }
  const what = [...groups].map(([owners, flags]) =>
    flags.length === 1 ? `${flags[0]} is a ${owners} setting` : `${flags.join(', ')} are ${owners} settings`,
  );
  throw new UsageError(`${what.join('; ')}, ignored by --method ${method}: remove ${given.length === 1 ? 'it' : 'them'}`);
}
