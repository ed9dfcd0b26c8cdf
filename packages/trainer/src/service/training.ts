// One training run as the worker starts it: the stage-one adapters it builds on, the state it resumes from, the DPO
// reference log-probs (cached by content), checkpoints as it goes, and the adapter it saves at the end.
import type { Gpu } from '@webtune/kernels';
import type { TrainRequest, TrainResult } from '../api.ts';
import { hashKey } from '../hash.ts';
import { adapterFingerprint } from '../model/fingerprint.ts';
import type { LoraAdapter } from '../model/lora.ts';
import type { AdapterRecord, Store } from '../store/db.ts';
import { checkpointOf, resumeState } from '../store/runs.ts';
import { defaultConfig, type Method, type TrainConfig, toTrlConfig, validateConfig } from '../train/config.ts';
import type { RunControl } from '../train/control.ts';
import type { TrainEvent } from '../train/events.ts';
import { ReferenceCache } from '../train/reference.ts';
import { type RunState, runTraining, type TrainData } from '../train/trainer.ts';
import type { AdapterShelf } from './adapters.ts';
import { type Datasets, lossKeyOf, type PreparedDataset } from './datasets.ts';
import type { LoadedModel } from './model.ts';

export interface RunContext {
  gpu: Gpu;
  store: Store;
  loaded: LoadedModel;
  shelf: AdapterShelf;
  dataset: PreparedDataset;
  control: RunControl;
  onEvent(e: TrainEvent): void;
}

/** Checks a request's settings, then returns its dataset if the run's method can train on it. */
export function checkRequest(request: TrainRequest, datasets: Datasets): PreparedDataset {
  validateConfig(runConfig(request));
  const dataset = datasets.get(request.datasetId);
  const { method } = request.config;
  if (dataset.method !== method)
    throw new Error(`The dataset was loaded for ${dataset.method.toUpperCase()}, but the run is ${method.toUpperCase()}.`);
  return dataset;
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
  const { data, saveReference } = await trainData(ctx, config, parentRecords, parent);
  const trl = toTrlConfig(config, { model: modelId, dataset: ds.file, datasetFormat: ds.format, parentAdapter: parentId });
  const outcome = await runTraining(gpu, model, parent, data, config, tokenizer.padTokenId, {
    onEvent,
    control,
    resume,
    checkpoint: async (state) => {
      await saveReference();
      await store.putCheckpoint(checkpointOf(runId, { ...request, config }, trl, state));
    },
  });
  await saveReference();
  let adapterId: string | null = null;
  if (outcome.steps > 0) {
    onEvent({ type: 'phase', phase: 'saving', message: 'saving the adapter' });
    const peft = await outcome.adapter.toPeft();
    const now = Date.now();
    adapterId = crypto.randomUUID();
    const record: AdapterRecord = {
      id: adapterId,
      name: request.name ?? `${config.method.toUpperCase()} ${new Date(now).toISOString().slice(0, 16).replace('T', ' ')}`,
      createdAt: now,
      updatedAt: now,
      baseModel: modelId,
      method: config.method as Method, // the dataset check above admits SFT and DPO runs only, until the service trains the others
      parentId,
      lora: config.lora,
      trainingConfig: { ...trl, max_steps_run: outcome.steps, status: outcome.status },
      metrics: outcome.metrics,
      tensors: [...peft].map(([name, t]) => ({ name, shape: t.shape, data: t.data })),
    };
    await shelf.put(record, outcome.adapter);
  } else {
    outcome.adapter.destroy();
  }
  if (outcome.status === 'completed') await store.deleteRun(runId);
  onEvent({ type: 'phase', phase: 'done', message: outcome.message });
  return { status: outcome.status, message: outcome.message, adapterId, metrics: outcome.metrics, runId };
}

/** What the loop trains on; for DPO with the reference log-probs, and how to save the ones computed so far. */
async function trainData(
  ctx: RunContext,
  config: TrainConfig,
  parentRecords: AdapterRecord[],
  parent: LoraAdapter[],
): Promise<{ data: TrainData; saveReference: () => Promise<void> }> {
  const { gpu, store, loaded, dataset: ds, onEvent } = ctx;
  if (ds.method === 'sft') {
    const sameLoss = ds.lossKey === lossKeyOf(config);
    return { data: { method: 'sft', examples: sameLoss ? ds.data.examples : ds.retokenise(config) }, saveReference: async () => {} };
  }
  const { model, tokenizer, fingerprint } = loaded;
  // Keyed on what the reference computes, never on names: the checkpoint's files, the stage-one adapters' contents,
  // and the dataset's text and max_length (ds.hash; the tokenizer is in the model's fingerprint). v3: float32
  // sums on the GPU. An entry may be partial (NaN): a run computes the pairs it reaches.
  const key = await hashKey(['ref-v3', fingerprint, await adapterFingerprint(parentRecords), ds.hash]);
  const reference = new ReferenceCache(gpu, model, parent, ds.data.examples, tokenizer.padTokenId, await store.getRefLogps(key));
  const total = ds.data.examples.length;
  const cached = total - reference.missing;
  onEvent({
    type: 'phase',
    phase: 'reference',
    message:
      cached === total
        ? 'reference log-probs: all cached'
        : `reference log-probs: ${cached} of ${total} pairs cached; the others are computed when their batch comes, once`,
  });
  const saveReference = async () => {
    if (!reference.dirty) return;
    await store.putRefLogps(key, reference.values);
    reference.dirty = false;
  };
  return { data: { method: 'dpo', examples: ds.data.examples, reference }, saveReference };
}
