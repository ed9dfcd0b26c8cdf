// The trainer engine: one object that owns the GPU, the loaded model and tokenizer, prepared
// datasets, adapters and the running job. worker.ts exposes it with Comlink; tests and the CLI
// page can also use it directly. Every method either returns plain data or throws an Error
// whose message tells the user what to do.
import { Gpu } from '@webtune/kernels';
import type { Message } from './data/formats.ts';
import { countByReason, type DatasetReport, readDpoDataset, readSftDataset } from './data/formats.ts';
import { type DpoExample, type LossOptions, type PreparedData, prepareDpo, prepareSft, type SftExample } from './data/tokenize.ts';
import { TextTokenizer } from './data/tokenizer.ts';
import { type ModelConfig, parseModelConfig } from './model/config.ts';
import { adapterFingerprint, modelFingerprint } from './model/fingerprint.ts';
import { generate } from './model/generate.ts';
import { LoraAdapter, type PeftTensors } from './model/lora.ts';
import { Model } from './model/model.ts';
import { type DownloadProgress, describeSource, fetchModelFiles, type ModelSource, sourceFolder } from './model/source.ts';
import { type AdapterRecord, hashKey, Store } from './store/db.ts';
import { adapterFiles, adapterModelCard, importAdapterFiles } from './store/export.ts';
import { stackedRecord } from './store/stack.ts';
import { defaultConfig, type Method, type TrainConfig, toTrlConfig, validateConfig } from './train/config.ts';
import { RunControl } from './train/control.ts';
import type { LogRecord, TrainEvent } from './train/events.ts';
import { estimateMemory, type MemoryEstimate } from './train/memory.ts';
import { evaluateDpo, evaluateSft, ReferenceCache } from './train/reference.ts';
import { type RunState, runTraining, type TrainData } from './train/trainer.ts';

export interface DeviceInfo {
  vendor: string;
  architecture: string;
  description: string;
  subgroups: boolean;
  maxBufferMB: number;
}

export interface ModelInfo {
  id: string;
  architecture: string;
  parameters: number;
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  vocabSize: number;
  tokenizerSize: number;
  hasChatTemplate: boolean;
  /** Bytes of GPU memory the weights take (float32). */
  weightBytes: number;
}

export interface DatasetSummary {
  id: string;
  method: Method;
  file: string;
  format: string;
  kept: number;
  rejected: { line: number; reason: string }[];
  rejectedByReason: Record<string, number>;
  truncated: number;
  /** Rows valid as JSON but unusable after tokenisation (e.g. the prompt fills max_length), with their reasons. */
  dropped: { line: number; reason: string }[];
  droppedByReason: Record<string, number>;
  /** Each sequence's token length after truncation to max_length, and before it (same order). */
  lengths: number[];
  fullLengths: number[];
  promptLengths: number[];
  /** A few rows as the model sees them: prompt and completion text after templating. */
  preview: { line: number; prompt: string; completion: string; rejected?: string; tokens: number }[];
}

export interface AdapterSummary {
  id: string;
  name: string;
  createdAt: number;
  baseModel: string;
  method: Method;
  parentId: string | null;
  lora: AdapterRecord['lora'];
  lastMetrics: Record<string, number> | null;
}

export interface TrainRequest {
  config: TrainConfig;
  datasetId: string;
  /** DPO on top of this stage-one adapter (it becomes part of the reference and the starting policy). */
  parentAdapterId?: string | null;
  name?: string;
  /** Continue an interrupted run from its last checkpoint. */
  resumeRunId?: string;
  /** Where the CLI writes the run (--out), kept with its checkpoints: running again with it finds them. */
  outputDir?: string;
}

export interface TrainResult {
  status: 'completed' | 'cancelled' | 'diverged';
  message: string;
  adapterId: string | null;
  metrics: LogRecord[];
  runId: string;
}

export interface GenerateRequest {
  /** Plain text, or chat messages rendered with the tokenizer's chat template. */
  prompt: string | Message[];
  /** Adapter stack to apply, base first (e.g. [sftId] or [sftId, dpoId]); empty = the base model. */
  adapterIds: string[];
  maxNewTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
}

export interface EvaluateRequest {
  datasetId: string;
  /** SFT: the adapter (with its parents) to evaluate. DPO: the policy's adapter, applied on top of the reference. */
  adapterId?: string | null;
  /** DPO: the reference is the base model with this adapter (and its parents); none = the base alone. */
  refAdapterId?: string | null;
  beta?: number;
  lossType?: 'sigmoid' | 'ipo' | 'hinge';
  labelSmoothing?: number;
  batchSize?: number;
}

interface Loaded {
  model: Model;
  tokenizer: TextTokenizer;
  id: string;
  /** A hash of the checkpoint's files (model/fingerprint.ts): what the DPO reference cache is keyed on, not the id. */
  fingerprint: string;
}

type Prepared = { method: 'sft'; data: PreparedData<SftExample> } | { method: 'dpo'; data: PreparedData<DpoExample> };

export class TrainerService {
  private gpu: Gpu | undefined;
  private loaded: Loaded | undefined;
  private store: Store | undefined;
  private readonly datasets = new Map<
    string,
    Prepared & { hash: string; file: string; format: string; lossKey: string; retokenise: (loss: LossOptions) => SftExample[] }
  >();
  private readonly adapters = new Map<string, LoraAdapter>();
  private control: RunControl | undefined;
  private download: AbortController | undefined;
  /** Called when the GPU device is lost: the UI shows it and offers a reload. */
  onDeviceLost: ((message: string) => void) | undefined;
  /** Called with a GPU error that no call was waiting for (work outside Gpu.checked): its name and message. */
  onGpuError: ((name: string, message: string) => void) | undefined;

  async init(storeName = 'webtune'): Promise<DeviceInfo> {
    if (!this.gpu) {
      this.gpu = await Gpu.create();
      this.gpu.onLost = (err) => this.onDeviceLost?.(err.message);
      this.gpu.onError = (err) => {
        console.error(err);
        this.onGpuError?.(err.name, err.message);
      };
    }
    this.store ??= await Store.open(storeName);
    const info = this.gpu.device.adapterInfo;
    return {
      vendor: info.vendor,
      architecture: info.architecture,
      description: info.description,
      subgroups: this.gpu.hasSubgroups,
      maxBufferMB: Math.round(this.gpu.limits.maxBufferSize / 2 ** 20),
    };
  }

  private need(): { gpu: Gpu; store: Store } {
    if (!this.gpu || !this.store) throw new Error('The trainer is not initialised: call init() first.');
    return { gpu: this.gpu, store: this.store };
  }

  private needModel(): Loaded {
    if (!this.loaded) throw new Error('No model is loaded: load one first.');
    return this.loaded;
  }

  // ---- model ---------------------------------------------------------------------------

  /**
   * `cache`: keep downloads in Cache Storage (default: only for the Hub; a local folder or the
   * embedded demo is read fresh, so edits to it are never hidden by a stale copy).
   */
  async loadModel(source: ModelSource, options: { cache?: boolean } = {}, onProgress?: (p: DownloadProgress) => void): Promise<ModelInfo> {
    const { gpu } = this.need();
    this.download?.abort();
    this.download = new AbortController();
    const cache = options.cache ?? source.kind === 'hub';
    const files = await fetchModelFiles(source, { onProgress, signal: this.download.signal, cache });
    const folder = sourceFolder(source);
    const tokenizer = TextTokenizer.fromJson(JSON.parse(files.tokenizerJson), JSON.parse(files.tokenizerConfig), folder);
    tokenizer.checkFits(parseModelConfig(files.config).vocabSize, `${folder}/config.json`);
    // Hashed while the weights upload (crypto.subtle works off the main thread).
    const hashing = modelFingerprint(files);
    hashing.catch(() => {}); // awaited below; a failed load must not leave it unhandled
    const model = await gpu.checked(`loading ${describeSource(source)}`, () => Model.load(gpu, files.config, files.safetensors));
    let fingerprint: string;
    try {
      fingerprint = await hashing;
    } catch (err) {
      model.destroy();
      throw err;
    }
    this.unloadModel();
    this.loaded = { model, tokenizer, id: files.id, fingerprint };
    return this.modelInfo();
  }

  cancelDownload(): void {
    this.download?.abort();
  }

  modelInfo(): ModelInfo {
    const { model, tokenizer, id } = this.needModel();
    const c: ModelConfig = model.config;
    return {
      id,
      architecture: c.architecture,
      parameters: model.parameterCount,
      layers: c.numLayers,
      hidden: c.hiddenSize,
      heads: c.numHeads,
      kvHeads: c.numKvHeads,
      vocabSize: c.vocabSize,
      tokenizerSize: tokenizer.size,
      hasChatTemplate: tokenizer.hasChatTemplate,
      weightBytes: model.parameterCount * 4,
    };
  }

  /** GPU memory a run would need, by part, for the loaded model (bytes, float32 everywhere). */
  estimateMemory(request: {
    method: Method;
    batchSize: number;
    maxLength: number;
    lora: { r: number; targetModules: string[] };
  }): MemoryEstimate {
    const { model } = this.needModel();
    return estimateMemory(model.config, model.parameterCount, request);
  }

  private unloadModel(): void {
    for (const a of this.adapters.values()) a.destroy();
    this.adapters.clear();
    this.datasets.clear();
    this.loaded?.model.destroy();
    this.loaded = undefined;
  }

  // ---- data ----------------------------------------------------------------------------

  /** `loss` (SFT): which tokens the loss covers (TrainConfig's completionOnlyLoss, assistantOnlyLoss; both default true). */
  async loadDataset(method: Method, text: string, file: string, maxLength: number, loss: LossOptions = {}): Promise<DatasetSummary> {
    const { tokenizer } = this.needModel();
    const report: DatasetReport<unknown> = method === 'sft' ? readSftDataset(text, file) : readDpoDataset(text, file);
    const lossKey = `${loss.completionOnlyLoss ?? true},${loss.assistantOnlyLoss ?? true}`;
    const hash = await hashKey([method, text, String(maxLength), ...(method === 'sft' ? [lossKey] : [])]);
    const id = hash.slice(0, 16);
    let prepared: Prepared;
    if (method === 'sft') {
      const r = report as ReturnType<typeof readSftDataset>;
      prepared = { method, data: prepareSft(tokenizer, r.rows, r.lines, maxLength, loss) };
    } else {
      const r = report as ReturnType<typeof readDpoDataset>;
      prepared = { method, data: prepareDpo(tokenizer, r.rows, r.lines, maxLength) };
    }
    // A run whose loss switches differ from the load's (the studio loads before the switches are set) tokenises again.
    const retokenise = (other: LossOptions): SftExample[] =>
      prepareSft(tokenizer, (report as ReturnType<typeof readSftDataset>).rows, report.lines, maxLength, other).examples;
    this.datasets.set(id, { ...prepared, hash, file, format: report.format, lossKey, retokenise });
    const data = prepared.data;
    const decode = (ids: number[]) => tokenizer.decode(ids);
    const preview = (prepared.method === 'sft' ? prepared.data.examples : prepared.data.examples).slice(0, 5).map((e) => {
      if ('seq' in e)
        return {
          line: e.line,
          prompt: decode(e.seq.ids.slice(0, e.seq.completionStart)),
          completion: decode(e.seq.ids.slice(e.seq.completionStart)),
          tokens: e.seq.ids.length,
        };
      const d = e as DpoExample;
      return {
        line: d.line,
        prompt: decode(d.chosen.ids.slice(0, d.chosen.completionStart)),
        completion: decode(d.chosen.ids.slice(d.chosen.completionStart)),
        rejected: decode(d.rejected.ids.slice(d.rejected.completionStart)),
        tokens: Math.max(d.chosen.ids.length, d.rejected.ids.length),
      };
    });
    return {
      id,
      method,
      file,
      format: report.format,
      kept: data.examples.length,
      rejected: report.rejected,
      rejectedByReason: report.rejectedByReason,
      truncated: data.truncated,
      dropped: data.dropped,
      droppedByReason: countByReason(data.dropped),
      lengths: data.lengths,
      fullLengths: data.fullLengths,
      promptLengths: data.promptLengths,
      preview,
    };
  }

  private dataset(id: string) {
    const d = this.datasets.get(id);
    if (!d) throw new Error(`Dataset ${id} is not loaded (load it again after loading a model).`);
    return d;
  }

  // ---- adapters ------------------------------------------------------------------------

  /** The GPU adapter for a stored record, uploaded on first use. */
  private async adapter(id: string): Promise<LoraAdapter> {
    const cached = this.adapters.get(id);
    if (cached) return cached;
    const { gpu, store } = this.need();
    const { model } = this.needModel();
    const rec = await store.getAdapter(id);
    if (!rec) throw new Error(`Adapter ${id} does not exist (it may have been deleted).`);
    const tensors: PeftTensors = new Map(rec.tensors.map((t) => [t.name, { shape: t.shape, data: t.data }]));
    const adapter = LoraAdapter.fromPeft(gpu, model.config, rec.lora, tensors, `adapter "${rec.name}"`);
    this.adapters.set(id, adapter);
    return adapter;
  }

  /** The adapter's record and its ancestors', base first (a DPO adapter trained on an SFT one has both). */
  private async chain(id: string): Promise<AdapterRecord[]> {
    const { store } = this.need();
    const chain: AdapterRecord[] = [];
    for (let cur: string | null = id; cur !== null; ) {
      if (chain.some((c) => c.id === cur)) throw new Error(`Adapter ${id} has a cycle in its parents.`);
      const rec = await store.getAdapter(cur);
      if (!rec) {
        const child = chain[0];
        throw new Error(
          child
            ? `Adapter "${child.name}" was trained on top of adapter ${cur}, which no longer exists.`
            : `Adapter ${id} does not exist (it may have been deleted).`,
        );
      }
      chain.unshift(rec);
      cur = rec.parentId;
    }
    return chain;
  }

  /** The GPU adapters of a chain, base first: what applying adapter `id` means. */
  private async stack(id: string): Promise<LoraAdapter[]> {
    return Promise.all((await this.chain(id)).map((r) => this.adapter(r.id)));
  }

  async listAdapters(): Promise<AdapterSummary[]> {
    const { store } = this.need();
    return (await store.listAdapters()).map((r) => ({
      id: r.id,
      name: r.name,
      createdAt: r.createdAt,
      baseModel: r.baseModel,
      method: r.method,
      parentId: r.parentId,
      lora: r.lora,
      lastMetrics: r.metrics.at(-1) ?? null,
    }));
  }

  async renameAdapter(id: string, name: string): Promise<void> {
    await this.need().store.renameAdapter(id, name);
  }

  async deleteAdapter(id: string, cascade = false): Promise<void> {
    await this.need().store.deleteAdapter(id, { cascade });
    this.adapters.get(id)?.destroy();
    this.adapters.delete(id);
  }

  /**
   * The PEFT folder's files: adapter_model.safetensors, adapter_config.json, training_config.json,
   * README.md. For an adapter trained on top of another: `stacked` (the default) exports one exact
   * adapter of rank r1+r2 for the base model; `stacked: false` exports this adapter alone, to be
   * applied on top of its stage-one adapter.
   */
  async exportAdapter(id: string, options: { stacked?: boolean } = {}): Promise<{ name: string; data: Uint8Array }[]> {
    const chain = await this.chain(id);
    const rec = chain[chain.length - 1];
    if (chain.length === 1) return adapterFiles(rec);
    if (options.stacked === false) {
      const parent = chain[chain.length - 2];
      return adapterFiles(rec, adapterModelCard(rec, { parent: { name: parent.name, id: parent.id } }));
    }
    const { record, parts } = stackedRecord(chain);
    return adapterFiles(record, adapterModelCard(record, { stackedFrom: parts }));
  }

  async importAdapter(files: { name: string; data: Uint8Array }[], name: string, parentId: string | null = null): Promise<AdapterSummary> {
    const { store } = this.need();
    const { model, id: baseModel } = this.needModel();
    const imported = importAdapterFiles(new Map(files.map((f) => [f.name.split('/').at(-1) as string, f.data])));
    const { gpu } = this.need();
    // Check the tensors against this model before storing anything.
    LoraAdapter.fromPeft(gpu, model.config, imported.lora, imported.tensors).destroy();
    const now = Date.now();
    const rec: AdapterRecord = {
      id: crypto.randomUUID(),
      name,
      createdAt: now,
      updatedAt: now,
      baseModel: imported.baseModel || baseModel,
      method: imported.trainingConfig?.trainer === 'DPOTrainer' ? 'dpo' : 'sft',
      parentId,
      lora: imported.lora,
      trainingConfig: imported.trainingConfig ?? {},
      metrics: [],
      tensors: [...imported.tensors].map(([n, t]) => ({ name: n, shape: t.shape, data: t.data })),
    };
    await store.putAdapter(rec);
    return (await this.listAdapters()).find((a) => a.id === rec.id) as AdapterSummary;
  }

  // ---- training ------------------------------------------------------------------------

  async train(request: TrainRequest, onEvent: (e: TrainEvent) => void): Promise<TrainResult> {
    const { gpu, store } = this.need();
    const { model, tokenizer, id: modelId, fingerprint } = this.needModel();
    if (this.control) throw new Error('A run is already going: pause, resume or cancel it first.');
    // A config saved before the loss switches existed (a run to resume) has TRL's and webtune's defaults.
    const config: TrainConfig = { ...defaultConfig(request.config.method), ...request.config };
    validateConfig(config);
    const ds = this.dataset(request.datasetId);
    if (ds.method !== config.method)
      throw new Error(`The dataset was loaded for ${ds.method.toUpperCase()}, but the run is ${config.method.toUpperCase()}.`);
    const sameLoss = ds.lossKey === `${config.completionOnlyLoss},${config.assistantOnlyLoss}`;
    const runId = request.resumeRunId ?? crypto.randomUUID();
    // Taken before the first await: a second train() call made meanwhile must find the run going.
    const control = new RunControl();
    this.control = control;
    try {
      const parentRecords = request.parentAdapterId ? await this.chain(request.parentAdapterId) : [];
      const parent = await Promise.all(parentRecords.map((r) => this.adapter(r.id)));
      let resume: RunState | undefined;
      if (request.resumeRunId) {
        const ckpt = await store.latestCheckpoint(request.resumeRunId);
        if (!ckpt) throw new Error(`Run ${request.resumeRunId} has no checkpoint to resume from.`);
        resume = {
          ...ckpt.progress,
          params: ckpt.state.params,
          m: ckpt.state.m,
          v: ckpt.state.v,
          metrics: ckpt.metrics as LogRecord[],
          pending: ckpt.pending ?? [],
          numTokens: ckpt.progress.numTokens ?? 0,
        };
      }
      let data: TrainData;
      let saveReference = async () => {};
      if (ds.method === 'sft') data = { method: 'sft', examples: sameLoss ? ds.data.examples : ds.retokenise(config) };
      else {
        // Keyed on what the reference computes, never on names: the checkpoint's files, the stage-one adapters' contents,
        // and the dataset's text and max_length (ds.hash; the tokenizer is in the model's fingerprint). v3: float32
        // sums on the GPU. An entry may be partial (NaN): a run computes the pairs it reaches.
        const key = await hashKey(['ref-v3', fingerprint, await adapterFingerprint(parentRecords), ds.hash]);
        const reference = new ReferenceCache(gpu, model, parent, ds.data.examples, tokenizer.padTokenId, await store.getRefLogps(key));
        const cached = ds.data.examples.length - reference.missing;
        onEvent({
          type: 'phase',
          phase: 'reference',
          message:
            cached === ds.data.examples.length
              ? 'reference log-probs: all cached'
              : `reference log-probs: ${cached} of ${ds.data.examples.length} pairs cached; the others are computed when their batch comes, once`,
        });
        saveReference = async () => {
          if (!reference.dirty) return;
          await store.putRefLogps(key, reference.values);
          reference.dirty = false;
        };
        data = { method: 'dpo', examples: ds.data.examples, reference };
      }
      const trl = toTrlConfig(config, {
        model: modelId,
        dataset: ds.file,
        datasetFormat: ds.format,
        parentAdapter: request.parentAdapterId ?? null,
      });
      const outcome = await runTraining(gpu, model, parent, data, config, tokenizer.padTokenId, {
        onEvent,
        control,
        resume,
        checkpoint: async (state) => {
          await saveReference();
          await store.putCheckpoint({
            runId,
            step: state.optimizerStep,
            createdAt: Date.now(),
            config: { ...trl, request: { ...request, config } },
            state: { params: state.params, m: state.m, v: state.v },
            progress: {
              epoch: state.epoch,
              cursor: state.cursor,
              optimizerStep: state.optimizerStep,
              seed: config.seed,
              numTokens: state.numTokens,
            },
            metrics: state.metrics,
            pending: state.pending,
          });
        },
      });
      await saveReference();
      let adapterId: string | null = null;
      if (outcome.steps > 0) {
        onEvent({ type: 'phase', phase: 'saving', message: 'saving the adapter' });
        const peft = await outcome.adapter.toPeft();
        const now = Date.now();
        adapterId = crypto.randomUUID();
        await store.putAdapter({
          id: adapterId,
          name: request.name ?? `${config.method.toUpperCase()} ${new Date(now).toISOString().slice(0, 16).replace('T', ' ')}`,
          createdAt: now,
          updatedAt: now,
          baseModel: modelId,
          method: config.method,
          parentId: request.parentAdapterId ?? null,
          lora: config.lora,
          trainingConfig: { ...trl, max_steps_run: outcome.steps, status: outcome.status },
          metrics: outcome.metrics,
          tensors: [...peft].map(([name, t]) => ({ name, shape: t.shape, data: t.data })),
        });
        this.adapters.set(adapterId, outcome.adapter);
      } else {
        outcome.adapter.destroy();
      }
      if (outcome.status === 'completed') await store.deleteRun(runId);
      onEvent({ type: 'phase', phase: 'done', message: outcome.message });
      return { status: outcome.status, message: outcome.message, adapterId, metrics: outcome.metrics, runId };
    } finally {
      this.control = undefined;
    }
  }

  pause(): void {
    this.control?.pause();
  }

  resume(): void {
    this.control?.resume();
  }

  cancel(): void {
    this.control?.cancel();
  }

  async listRuns() {
    return this.need().store.listRuns();
  }

  /** Forget an interrupted run: its checkpoints are deleted (its saved adapter, if any, is kept). */
  async deleteRun(runId: string): Promise<void> {
    await this.need().store.deleteRun(runId);
  }

  // ---- evaluation and generation ---------------------------------------------------------

  async evaluate(request: EvaluateRequest): Promise<Record<string, number>> {
    const { gpu } = this.need();
    const { model, tokenizer } = this.needModel();
    const ds = this.dataset(request.datasetId);
    const batch = request.batchSize ?? 8;
    if (ds.method === 'sft') {
      const adapters = request.adapterId ? await this.stack(request.adapterId) : [];
      return { ...(await evaluateSft(gpu, model, adapters, ds.data.examples, batch, tokenizer.padTokenId)) };
    }
    const reference = request.refAdapterId ? await this.stack(request.refAdapterId) : [];
    const policy = request.adapterId ? [await this.adapter(request.adapterId)] : [];
    return evaluateDpo(gpu, model, reference, policy, ds.data.examples, batch, tokenizer.padTokenId, {
      beta: request.beta ?? 0.1,
      lossType: request.lossType ?? 'sigmoid',
      labelSmoothing: request.labelSmoothing ?? 0,
    });
  }

  async generate(request: GenerateRequest, onText?: (text: string) => void): Promise<{ text: string; tokens: number }> {
    const { gpu } = this.need();
    const { model, tokenizer } = this.needModel();
    const adapters = request.adapterIds.length > 0 ? await this.stack(request.adapterIds.at(-1) as string) : [];
    const promptText =
      typeof request.prompt === 'string' ? request.prompt : tokenizer.applyChatTemplate(request.prompt, { addGenerationPrompt: true });
    const promptIds = tokenizer.encode(promptText);
    const ids: number[] = [];
    await generate(gpu, model, adapters, promptIds, {
      maxNewTokens: request.maxNewTokens ?? 64,
      temperature: request.temperature ?? 0,
      topP: request.topP ?? 1,
      seed: request.seed ?? 0,
      stopIds: [tokenizer.eosTokenId, ...model.config.eosTokenIds],
      vocabLimit: tokenizer.size,
      onToken: (id) => {
        ids.push(id);
        onText?.(tokenizer.decode(ids, { skipSpecialTokens: true }));
      },
    });
    return { text: tokenizer.decode(ids, { skipSpecialTokens: true }), tokens: ids.length };
  }
}
