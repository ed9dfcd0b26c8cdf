// `pnpm cli train`: SFT, DPO, KTO, ORPO or SimPO of a LoRA adapter; writes a PEFT folder, metrics.jsonl and training_config.json.
import {
  defaultConfig,
  dpoStartAdvice,
  evalDataProblem,
  HYPER_PARAMS,
  METHOD_NAMES,
  METHODS,
  paramValue,
  rangeText,
  setFromText,
  type TrainConfig,
  type TrainEvent,
  type TrainMethod,
  type TrainResult,
  validateConfig,
} from '@webtune/trainer';
import { numberOption, type OptionSpec, parseCommandArgs, RUNTIME_HELP, runtimeOption, UsageError } from '../args.ts';
import { profileDir } from '../engine.ts';
import { exitCodeFor, stopGracefully, stopSignal } from '../interrupt.ts';
import { OutputFolder } from '../out-dir.ts';
import { findRunToResume } from '../resume.ts';
import {
  adapterArg,
  importAdapterArg,
  loadData,
  methodOption,
  modelArg,
  openWithModel,
  printAdvice,
  readDataFile,
  refuseOtherMethodFlags,
  streamExport,
} from './shared.ts';

type Param = (typeof HYPER_PARAMS)[number];
/** Each method's defaults, read once for the help and the flags' types. */
const DEFAULTS = Object.fromEntries(METHODS.map((m) => [m, defaultConfig(m)])) as Record<TrainMethod, TrainConfig>;

/**
 * A boolean hyper-parameter off by default (in SFT's config) is a bare flag (--use-rslora); the others take a value
 * (--assistant-only-loss false).
 */
const isBare = (p: Param) => p.kind.type === 'boolean' && paramValue(DEFAULTS.sft, p) === false;

/** What the flag takes, as help shows it: N, a|b, a list; nothing for a bare flag. */
function placeholder(p: Param): string {
  if (isBare(p)) return '';
  if (p.kind.type === 'enum') return p.kind.choices.join('|');
  if (p.kind.type === 'targets') return 'LIST';
  if (p.kind.type === 'boolean') return 'true|false';
  return 'N';
}

/** "default 5e-5 (SFT: 2e-4); between 0 and 1": each method's default, grouped by value, and the range. */
function defaultsText(p: Param): string {
  const methods = METHODS.filter((m) => !p.only || p.only.includes(m));
  const byValue = new Map<string, string[]>();
  for (const m of methods) {
    const v = paramValue(DEFAULTS[m], p);
    const text = Array.isArray(v) ? v.join(',') : typeof v === 'number' ? numberText(v) : String(v);
    byValue.set(text, [...(byValue.get(text) ?? []), METHOD_NAMES[m].short]);
  }
  const [first, ...rest] = [...byValue].sort((a, b) => b[1].length - a[1].length);
  const others = rest.map(([v, ms]) => `${ms.join(', ')}: ${v}`).join('; ');
  const range = p.kind.type === 'number' || p.kind.type === 'int' ? `; ${rangeText(p.kind.min, p.kind.max)}` : '';
  if (isBare(p) && byValue.size === 1) return 'off by default';
  return `default ${first[0]}${others ? ` (${others})` : ''}${range}`;
}

/** 2e-4 as people write it in a config (String() gives 0.0002, and 0.00005 for 5e-5). */
const numberText = (v: number) => (v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential() : String(v));

const COLUMN = 30;
const flags = HYPER_PARAMS.map((p) => {
  const name = `--${p.flag} ${placeholder(p)}`.trim();
  const only = p.only ? `(${p.only.map((m) => METHOD_NAMES[m].short).join('/')} only) ` : '';
  const indent = ' '.repeat(COLUMN + 3);
  // A long name (an enum's choices) takes its own line, so the help column stays one column.
  const head = name.length < COLUMN ? `  ${name.padEnd(COLUMN)} ` : `  ${name}\n${indent}`;
  return `${head}${only}${p.help}\n${indent}${defaultsText(p)}`;
}).join('\n');

export const help = `pnpm cli train --method sft|dpo|kto|orpo|simpo --model <dir|hub-id> --data <file.jsonl> --out <dir> [--adapter <dir>] [--eval-data <file.jsonl>] [options]

Train a LoRA adapter and write <out>/adapter_model.safetensors + adapter_config.json (PEFT),
<out>/training_config.json (the run in TRL's names) and <out>/metrics.jsonl (one line per logged step).
  sft    {"prompt","completion"}, {"messages"} or {"text"} rows: imitate the answers
  dpo    {"prompt","chosen","rejected"} pairs: prefer one answer over the other, against a frozen reference
  kto    {"prompt","completion","label": true|false} rows (thumbs up/down), or pairs (unpaired as TRL does)
  orpo   pairs: SFT on the chosen answer and preference in one run from the base model, no reference
  simpo  pairs: preference on length-averaged log-probs with a target margin, no reference (TRL's CPO, loss_type simpo)
With --adapter, that PEFT adapter is the stage-one model (DPO on top of SFT): it is part of the
reference and of the starting policy, and a new adapter is trained on top. <out> then holds the new
adapter alone (apply it on top of the stage-one adapter; \`eval --ref-adapter <stage one> --adapter <out>\`),
and <out>/stacked/ one exact adapter of rank r1+r2 that applies both to the base model.

<out> is written whole at the end (or on Ctrl-C, with the steps done), never mixed with an earlier run's files.
Checkpoints go to the browser profile every --save-steps steps or --save-minutes minutes; the same command run
again after an interruption (Ctrl-C, a kill, a crash) resumes from the newest one. (With --runtime dawn they are
kept in memory and end with the command: Ctrl-C still writes the steps done, but nothing resumes.)

Evaluation: --val-size holds out rows of --data (drawn with --seed, their lines written to training_config.json's
eval_dataset), or --eval-data names a file of its own; --eval-strategy steps|epoch measures them with the method's
TRL metrics, written to metrics.jsonl as their own lines (eval_loss, eval_rewards/accuracies, ...);
--load-best-model-at-end keeps the adapter of the best evaluation by --metric-for-best-model.

  --eval-data FILE               rows to evaluate on (the method's format), instead of --val-size
  --name TEXT                    name of the adapter
  --overwrite                    replace <out> as a whole, and start over instead of resuming its interrupted run
  --resume                       insist on resuming: fail if <out> has no interrupted run to go on from
  --memory-budget-gib N          refuse to start a run whose GPU memory estimate is over N GiB (it is also refused
                                 when one of its buffers is past the GPU's maxBufferSize or maxStorageBufferBindingSize)
${RUNTIME_HELP}
  --json                         at the end, one JSON object on stdout: status, message, the log records and the
                                 run's GPU use (peak GPU bytes by kind; dispatches, submits and host reads of one
                                 optimizer step, each the median over the steps); use \`pnpm -s cli\` to keep pnpm's banner off stdout
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
    'eval-data': { type: 'string' },
    name: { type: 'string' },
    gpu: { type: 'string' },
    runtime: { type: 'string' },
    verbose: { type: 'boolean' },
    json: { type: 'boolean' },
    overwrite: { type: 'boolean' },
    resume: { type: 'boolean' },
    'memory-budget-gib': { type: 'string' },
  };
  for (const p of HYPER_PARAMS) options[p.flag] = { type: isBare(p) ? 'boolean' : 'string' };
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
  // TRL reads eval_steps only under eval_strategy "steps" (webtune's default is "no"): given alone it would do nothing.
  if (values['eval-steps'] !== undefined && config.evalStrategy !== 'steps')
    throw new UsageError(
      `--eval-steps sets the steps between evaluations of --eval-strategy steps; with --eval-strategy ${config.evalStrategy} it would be ignored: add --eval-strategy steps, or leave it out`,
    );
  const budgetGib = numberOption('memory-budget-gib', values['memory-budget-gib'] as string | undefined, 0, 0);
  const overwrite = values.overwrite === true;
  const resume = values.resume === true;
  if (overwrite && resume) throw new UsageError('--overwrite starts over and --resume goes on: give one of them');
  const runtime = runtimeOption(values.runtime as string | undefined);
  if (resume && runtime === 'dawn')
    throw new UsageError(
      '--resume goes on from a checkpoint in the browser profile: with --runtime dawn checkpoints end with the command; resume with --runtime browser',
    );
  const out = OutputFolder.check(values.out as string, 'out', [
    { flag: 'model', path: values.model as string | undefined },
    { flag: 'adapter', path: values.adapter as string | undefined },
    { flag: 'data', path: values.data as string | undefined },
    { flag: 'eval-data', path: values['eval-data'] as string | undefined },
  ]);
  // Every file argument is read before Chromium starts: a typo costs a second, not a model load.
  const model = modelArg(values.model as string | undefined);
  const adapter = adapterArg(values.adapter as string | undefined, 'adapter');
  const data = readDataFile(values.data as string | undefined);
  const evalData = values['eval-data'] === undefined ? null : readDataFile(values['eval-data'] as string, '--eval-data');
  const evalProblem = evalDataProblem(config, data.file, evalData?.file ?? null);
  if (evalProblem) throw new UsageError(evalProblem);
  let resumeRunId: string | undefined;
  const { engine, progress } = await openWithModel(
    model,
    values as { gpu?: string; runtime?: string; verbose?: boolean },
    async (engine, progress) => {
      resumeRunId = await findRunToResume(engine, progress, out, config, { overwrite, resume, profile: profileDir() });
    },
  );
  let result: TrainResult;
  // Ctrl-C (or SIGTERM) once: the run ends after its current micro-batch with a checkpoint, and what it trained is
  // written; twice: everything ends at once (interrupt.ts).
  const allowStop = stopGracefully((signal) => {
    progress.line(`${signal}: stopping after the current micro-batch, then saving what is done (again to quit at once)`);
    void engine.call('cancel');
  });
  try {
    const parentAdapterId = adapter ? await importAdapterArg(engine, adapter) : null;
    const ds = await loadData(engine, progress, method, data, config.maxLength, out, config);
    const evalDatasetId = evalData ? (await loadData(engine, progress, method, evalData, config.maxLength, undefined, config)).id : null;
    const startAdvice = method === 'dpo' ? dpoStartAdvice(parentAdapterId) : null;
    if (startAdvice) printAdvice(progress, startAdvice);
    const memoryBudgetBytes = budgetGib > 0 ? Math.round(budgetGib * 2 ** 30) : undefined;
    const request = {
      config,
      datasetId: ds.id,
      evalDatasetId,
      parentAdapterId,
      name: values.name,
      outputDir: out.path,
      resumeRunId,
      memoryBudgetBytes,
    };
    result = await engine.stream('train', [request], (e: TrainEvent) => progress.event(e));
    progress.done();
    if (result.adapterId) {
      // DPO on top of a stage-one adapter: <out> holds this run's adapter (apply it on top of --adapter, as
      // `eval --ref-adapter` does), <out>/stacked the one exact adapter for the base.
      // The adapter's files stream in (a model's adapter is tens of MB), beside the files queued here.
      out.add('metrics.jsonl', result.metrics.map((m) => `${JSON.stringify(m)}\n`).join(''));
      const adapterId = result.adapterId;
      await out.commitStreamed(async (append) => {
        await streamExport(engine, { format: 'peft', adapterId, stacked: false }, out, append);
        if (parentAdapterId)
          await streamExport(engine, { format: 'peft', adapterId, stacked: true }, out, (file, data) => append(`stacked/${file}`, data));
      });
      if (result.status === 'completed') progress.line(`wrote ${out.path}`);
    }
  } finally {
    allowStop();
    await engine.close();
  }
  if (values.json) {
    const { status, message, adapterId, metrics, gpu } = result;
    process.stdout.write(`${JSON.stringify({ status, message, out: adapterId ? out.path : null, metrics, gpu })}\n`);
  }
  const signal = stopSignal();
  if (result.status === 'cancelled' && signal) {
    process.stderr.write(
      result.adapterId
        ? `webtune train: stopped by ${signal}: ${result.message}; wrote ${out.path} with the adapter of the steps done` +
            (engine.runtime === 'dawn'
              ? ' (with --runtime dawn no checkpoint outlives the command)\n'
              : ', and saved a checkpoint: the same command resumes the run\n')
        : `webtune train: stopped by ${signal} before the first step ended: nothing written\n`,
    );
    return exitCodeFor(signal);
  }
  if (result.status !== 'completed') process.stderr.write(`webtune train: ${result.message}\n`);
  return result.status === 'completed' ? 0 : 1;
}
