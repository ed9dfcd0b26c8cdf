// One training run as the worker starts it: the stage-one adapters it builds on, the state it resumes from, the DPO
// and KTO reference log-probs (cached by content), checkpoints as it goes, and the adapter it saves at the end.
import type { Gpu } from '@webtune/kernels';
import type { TrainRequest, TrainResult } from '../api.ts';
import { hashKey } from '../hash.ts';
import { adapterFingerprint } from '../model/fingerprint.ts';
import type { LoraAdapter } from '../model/lora.ts';
import { ktoBalance } from '../objectives/kto-balance.ts';
import type { AdapterRecord, Store } from '../store/db.ts';
import { checkpointOf, resumeState } from '../store/runs.ts';
import {
  dataKindOf,
  defaultConfig,
  evalDataProblem,
  METHOD_NAMES,
  type TrainConfig,
  toTrlConfig,
  validateConfig,
} from '../train/config.ts';
import type { RunControl } from '../train/control.ts';
import type { TrainEvent } from '../train/events.ts';
import { KtoReferenceCache } from '../train/kto-reference.ts';
import { ReferenceCache } from '../train/reference.ts';
import { type RunState, runTraining, type TrainData, TrainingError } from '../train/trainer.ts';
import { Validation } from '../train/validation.ts';
import type { AdapterShelf } from './adapters.ts';
import { balanceOf, type Datasets, type PreparedDataset } from './datasets.ts';
import { type HeldOut, heldOutRows } from './held-out.ts';
import type { LoadedModel } from './model.ts';

export interface RunContext {
  gpu: Gpu;
  store: Store;
  loaded: LoadedModel;
  shelf: AdapterShelf;
  dataset: PreparedDataset;
  /** The rows to evaluate on, when the request names a separate file (checkRequest). */
  evalDataset?: PreparedDataset;
  control: RunControl;
  onEvent(e: TrainEvent): void;
}

/**
 * Checks a request's settings, then returns its dataset (and eval dataset) if the run's method can train on it: the
 * method it was loaded for, or another of the same data (preference pairs serve DPO, ORPO and SimPO alike).
 */
export function checkRequest(request: TrainRequest, datasets: Datasets): { dataset: PreparedDataset; evalDataset?: PreparedDataset } {
  const config = runConfig(request);
  validateConfig(config);
  const stop = request.stopAfterStep;
  if (stop !== undefined && !(Number.isInteger(stop) && stop >= 1))
    throw new TrainingError(`stopAfterStep must be a whole number of at least 1, got ${JSON.stringify(stop)}.`);
  const { method } = config;
  const usable = (d: PreparedDataset) => {
    if (dataKindOf(d.method) !== dataKindOf(method))
      throw new TrainingError(
        `${d.file} was loaded for ${METHOD_NAMES[d.method].short}, but the run is ${METHOD_NAMES[method].short}: load it again for ${METHOD_NAMES[method].short}.`,
      );
    return d;
  };
  const dataset = usable(datasets.get(request.datasetId));
  const evalDataset = request.evalDatasetId ? usable(datasets.get(request.evalDatasetId)) : undefined;
  const problem = evalDataProblem(config, dataset.file, evalDataset?.file ?? null);
  if (problem) throw new TrainingError(problem);
  return { dataset, evalDataset };
}

/** The request's settings; a config saved before the loss switches existed (a run to resume) has their defaults. */
export const runConfig = (request: TrainRequest): TrainConfig => ({ ...defaultConfig(request.config.method), ...request.config });

export async function train(request: TrainRequest, ctx: RunContext): Promise<TrainResult> {
  const { gpu, store, loaded, shelf, dataset: ds, control, onEvent } = ctx;
  const { model, tokenizer, id: modelId } = loaded;
  const config = runConfig(request);
  const runId = request.resumeRunId ?? crypto.randomUUID();
  const parentId = request.parentAdapterId ?? null;
  const parentRecords = parentId ? await shelf.chain(parentId) : [];
  const parent = await Promise.all(parentRecords.map((r) => shelf.adapter(r.id, model.config)));
  let resume: RunState | undefined;
  if (request.resumeRunId) {
    const ckpt = await store.latestCheckpoint(request.resumeRunId);
    if (!ckpt) throw new Error(`Run ${request.resumeRunId} has no checkpoint to resume from.`);
    resume = resumeState(ckpt);
  }
  const heldOut = heldOutRows(ds, ctx.evalDataset, config);
  if (heldOut.evalRows) onEvent({ type: 'phase', phase: 'preparing', message: heldOut.message });
  const { data, saveReference } = await trainData(ctx, config, parentRecords, parent, heldOut);
  const trl = toTrlConfig(config, {
    model: modelId,
    dataset: ds.file,
    datasetFormat: ds.format,
    parentAdapter: parentId,
    evalDataset: heldOut.record,
  });
  const padId = tokenizer.padTokenId;
  const validation =
    heldOut.evalRows && config.evalStrategy !== 'no'
      ? new Validation({ gpu, model, padId, reference: parent }, heldOut.evalRows, config)
      : undefined;
  const stopAt = request.stopAfterStep;
  gpu.ledger.resetPeak();
  const outcome = await runTraining(gpu, model, parent, data, config, padId, {
    // The loop sends a step's event before it queues the next step's update (while the next window runs) and checks the
    // control right after it, and before each micro-batch. Step stopAt it reads at once (readAtOnce): its event comes
    // before the next window starts, and the cancel stops the run there.
    onEvent: stopAt
      ? (e) => {
          onEvent(e);
          if (e.type === 'step' && e.step >= stopAt) control.cancel();
        }
      : onEvent,
    readAtOnce: stopAt,
    control,
    resume,
    validation,
    checkpoint: async (state) => {
      await saveReference();
      await store.putCheckpoint(checkpointOf(runId, { ...request, config }, trl, state));
    },
  });
  await saveReference();
  if (stopAt && outcome.status === 'cancelled' && outcome.steps === stopAt)
    outcome.message = `stopped after step ${stopAt} as asked (stopAfterStep); resuming the run continues it`;
  let adapterId: string | null = null;
  if (outcome.steps > 0) {
    onEvent({ type: 'phase', phase: 'saving', message: 'saving the adapter' });
    const peft = await outcome.adapter.toPeft();
    const now = Date.now();
    adapterId = crypto.randomUUID();
    const record: AdapterRecord = {
      id: adapterId,
      name: request.name ?? `${METHOD_NAMES[config.method].short} ${new Date(now).toISOString().slice(0, 16).replace('T', ' ')}`,
      createdAt: now,
      updatedAt: now,
      baseModel: modelId,
      method: config.method,
      parentId,
      lora: config.lora,
      trainingConfig: { ...trl, max_steps_run: outcome.steps, status: outcome.status, ...validation?.kept },
      metrics: outcome.metrics,
      tensors: [...peft].map(([name, t]) => ({ name, shape: t.shape, data: t.data })),
    };
    await shelf.put(record, outcome.adapter);
  } else {
    outcome.adapter.destroy();
  }
  if (outcome.status === 'completed') await store.deleteRun(runId);
  onEvent({ type: 'phase', phase: 'done', message: outcome.message });
  const { peak, peakTotal } = gpu.ledger.memory;
  const gpuUse = { peakBytes: peak, peakTotalBytes: peakTotal, perStep: outcome.stepCounts };
  return { status: outcome.status, message: outcome.message, adapterId, metrics: outcome.metrics, runId, gpu: gpuUse };
}

/** What the loop trains on; for DPO and KTO with the reference log-probs, and how to save the ones computed so far. */
async function trainData(
  ctx: RunContext,
  config: TrainConfig,
  parentRecords: AdapterRecord[],
  parent: LoraAdapter[],
  heldOut: HeldOut,
): Promise<{ data: TrainData; saveReference: () => Promise<void> }> {
  const { gpu, store, loaded, dataset: ds, onEvent } = ctx;
  const noReference = async () => {};
  const { model, tokenizer, fingerprint } = loaded;
  // A reference is keyed on what it computes, never on names: the checkpoint's files, the stage-one adapters'
  // contents, and the dataset's text and max_length (ds.hash; the tokenizer is in the model's fingerprint). An entry
  // may be partial (NaN): a run computes the rows it reaches.
  const referenceKey = async (...what: string[]) => hashKey([...what, fingerprint, await adapterFingerprint(parentRecords), ds.hash]);
  const announce = (missing: number, total: number, what: string) =>
    onEvent({
      type: 'phase',
      phase: 'reference',
      message:
        missing === 0
          ? 'reference log-probs: all cached'
          : `reference log-probs: ${total - missing} of ${total} ${what} cached; the others are computed when their batch comes, once`,
    });
  const saver = (key: string, cache: { dirty: boolean; values: Float32Array | Float64Array }) => async () => {
    if (!cache.dirty) return;
    await store.putRefLogps(key, cache.values);
    cache.dirty = false;
  };
  const train = heldOut.trainRows;
  switch (train.method) {
    case 'sft':
      return { data: train, saveReference: noReference };
    case 'kto': {
      const { examples } = train;
      const { warning } = ktoBalance(balanceOf(examples), config.desirableWeight, config.undesirableWeight);
      if (warning) onEvent({ type: 'phase', phase: 'preparing', message: `warning: ${warning}` });
      // KL rows pair each row with its micro-batch neighbour's answer: the batch size is part of what is computed.
      // v2: float32 sums on the GPU (targetLogpSums); v1 summed in float64 on the host.
      const key = await referenceKey('kto-ref-v2', String(config.batchSize), ...heldOut.key);
      const cached = await store.getRefLogps(key);
      const reference = new KtoReferenceCache(gpu, model, parent, examples.length, tokenizer.padTokenId, cached);
      const kl = config.lossType === 'kto';
      announce(reference.missing(kl), (kl ? 2 : 1) * examples.length, kl ? 'answers and KL rows' : 'answers');
      return { data: { method: 'kto', examples, reference }, saveReference: saver(key, reference) };
    }
    default: {
      if (config.method === 'orpo' || config.method === 'simpo')
        return { data: { method: config.method, examples: train.examples }, saveReference: noReference };
      // v3: float32 sums on the GPU. The cache covers the file's pairs (found by example), whatever is held out.
      const pairs = ds.method === 'sft' || ds.method === 'kto' ? train.examples : ds.data.examples;
      const key = await referenceKey('ref-v3');
      const reference = new ReferenceCache(gpu, model, parent, pairs, tokenizer.padTokenId, await store.getRefLogps(key));
      announce(reference.missing, train.examples.length, 'pairs');
      return { data: { method: 'dpo', examples: train.examples, reference }, saveReference: saver(key, reference) };
    }
  }
}
