// Between a run and its checkpoints: what a checkpoint stores of a run's state and request, the state a resumed run
// starts from, and the typed summary a client lists interrupted runs with.
import type { RunSummary, TrainRequest } from '../api.ts';
import type { LogRecord } from '../train/events.ts';
import type { RunState } from '../train/trainer.ts';
import type { CheckpointRecord, StoredRun } from './db.ts';

/** The checkpoint of `state`, for run `runId` started with `request`; `trl`: its settings in TRL's key names. */
export function checkpointOf(runId: string, request: TrainRequest, trl: Record<string, unknown>, state: RunState): CheckpointRecord {
  const { resumeRunId: _, ...started } = request;
  return {
    runId,
    step: state.optimizerStep,
    createdAt: Date.now(),
    config: trl,
    request: started,
    state: { params: state.params, m: state.m, v: state.v, ...(state.best ? { bestParams: state.best.params } : {}) },
    progress: {
      epoch: state.epoch,
      cursor: state.cursor,
      optimizerStep: state.optimizerStep,
      seed: request.config.seed,
      numTokens: state.numTokens,
      ...(state.best ? { best: { step: state.best.step, value: state.best.value } } : {}),
    },
    metrics: state.metrics,
    pending: state.pending,
  };
}

/** The state a run resumed from `ckpt` starts in. */
export function resumeState(ckpt: CheckpointRecord): RunState {
  const { best, ...progress } = ckpt.progress;
  const bestParams = ckpt.state.bestParams;
  return {
    ...progress,
    ...(best && bestParams ? { best: { ...best, params: bestParams } } : {}),
    params: ckpt.state.params,
    m: ckpt.state.m,
    v: ckpt.state.v,
    metrics: ckpt.metrics as LogRecord[],
    pending: ckpt.pending ?? [],
    numTokens: ckpt.progress.numTokens ?? 0,
  };
}

/** A stored run as clients list it. Checkpoints written before `request` had its own field kept it in the config. */
export function runSummary(run: StoredRun): RunSummary {
  const { request: legacy, ...trainingConfig } = run.config;
  const model = trainingConfig.model_name_or_path;
  return {
    runId: run.runId,
    step: run.step,
    createdAt: run.createdAt,
    checkpoints: run.checkpoints,
    model: typeof model === 'string' ? model : '',
    trainingConfig,
    request: startedWith(run.request ?? legacy),
  };
}

/** The request a run was started with, when what was stored has its shape; otherwise null. */
function startedWith(stored: unknown): RunSummary['request'] {
  if (typeof stored !== 'object' || stored === null) return null;
  const r = stored as Partial<TrainRequest>;
  if (typeof r.config !== 'object' || r.config === null || typeof r.datasetId !== 'string') return null;
  const { resumeRunId: _, ...started } = r as TrainRequest;
  return started;
}
