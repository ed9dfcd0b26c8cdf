// TRL's resume_from_checkpoint for the CLI: a run's checkpoints live in the browser profile (IndexedDB), tagged with
// the --out folder it writes. Run again with the same --out, the command finds them and goes on from the newest,
// instead of starting over; --overwrite starts over (dropping them), --resume insists on going on.
import { HYPER_PARAMS, type TrainConfig } from '@webtune/trainer';
import { UsageError } from './args.ts';
import type { Engine } from './engine.ts';
import type { OutputFolder } from './out-dir.ts';
import type { ProgressPrinter } from './progress.ts';

/** What may change when a run goes on, as with TRL's resume_from_checkpoint: how long it runs, how often it logs and saves. */
const FREE_ON_RESUME = new Set(['max-steps', 'num-train-epochs', 'save-steps', 'save-minutes', 'logging-steps']);

/** Flags whose value differs from the interrupted run's, as `--flag <then> (now <given>)`. */
function changedFlags(then: TrainConfig, now: TrainConfig): string[] {
  const value = (c: TrainConfig, p: (typeof HYPER_PARAMS)[number]) =>
    JSON.stringify(p.lora ? c.lora[p.key as keyof TrainConfig['lora']] : c[p.key as keyof TrainConfig]);
  return HYPER_PARAMS.filter((p) => !FREE_ON_RESUME.has(p.flag) && value(then, p) !== value(now, p)).map(
    (p) => `--${p.flag} ${value(then, p)} (now ${value(now, p)})`,
  );
}

/**
 * Decides, before the model loads, whether this run goes on from an interrupted one of the same --out: returns its id,
 * or undefined to start afresh. Refuses an --out that holds an earlier run unless it is that interrupted run's or
 * --overwrite is given, so a new adapter never lands beside another run's files.
 */
export async function findRunToResume(
  engine: Engine,
  progress: ProgressPrinter,
  out: OutputFolder,
  config: TrainConfig,
  flags: { overwrite: boolean; resume: boolean; profile: string },
): Promise<string | undefined> {
  const runs = (await engine.call('listRuns')).filter((r) => r.request?.outputDir === out.path);
  const run = runs[0]; // the most recently checkpointed
  if (run && flags.overwrite) {
    for (const r of runs) await engine.call('deleteRun', r.runId);
    progress.line(`--overwrite: starting over; the interrupted run of ${out.arg} (checkpoint at step ${run.step}) is dropped`);
    return undefined;
  }
  if (run) {
    const then = run.request?.config;
    if (!then || then.method !== config.method)
      throw new UsageError(
        `--out ${out.arg} belongs to an interrupted ${then?.method?.toUpperCase() ?? 'earlier'} run (checkpoint at step ${run.step}); give another folder, or --overwrite to start over`,
      );
    const changed = changedFlags(then, config);
    if (changed.length > 0)
      throw new UsageError(
        `--out ${out.arg} has an interrupted run (checkpoint at step ${run.step}) trained with other settings: ${changed.join(', ')}; give the same flags to resume it, or --overwrite to start over`,
      );
    if (config.maxSteps > 0 && config.maxSteps <= run.step)
      throw new UsageError(
        `--max-steps ${config.maxSteps}: the interrupted run of --out ${out.arg} is at step ${run.step} already; give more steps to go on, or --overwrite to start over`,
      );
    progress.line(`resuming the interrupted run of ${out.arg} from its checkpoint at step ${run.step} (--overwrite starts over)`);
    return run.runId;
  }
  if (flags.resume)
    throw new UsageError(
      `--resume: no interrupted run of --out ${out.arg} in the browser profile ${flags.profile}; run without --resume to start`,
    );
  if (out.existing.length > 0 && !flags.overwrite)
    throw new UsageError(
      `--out ${out.arg} already holds an earlier run (${out.existing.join(', ')}) and no checkpoint to resume; give a new folder, or --overwrite to replace it as a whole`,
    );
  return undefined;
}
