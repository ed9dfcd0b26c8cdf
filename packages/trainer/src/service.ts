// The trainer engine behind the worker (api.ts is its contract): one object that owns the GPU, the store, the loaded
// model, prepared datasets, the adapter shelf and the running job, each concern in its module under service/.
// worker.ts exposes it with Comlink; tests and the CLI page can also use it directly. Every method either returns
// plain data or throws an Error whose message tells the user what to do (out of GPU memory: what to shrink).
import { Gpu } from '@webtune/kernels';
import type {
  AdapterFile,
  AdapterSummary,
  DatasetSummary,
  DeviceInfo,
  EvaluateRequest,
  EvaluateResult,
  ExportChunk,
  ExportedFile,
  ExportOptions,
  GenerateRequest,
  GenerateResult,
  LoadModelOptions,
  MemoryRequest,
  ModelExportRequest,
  ModelInfo,
  RunSummary,
  TrainerApi,
  TrainerHandlers,
  TrainRequest,
  TrainResult,
} from './api.ts';
import type { LossOptions } from './data/tokenize.ts';
import type { ModelSource } from './model/source.ts';
import { allTensors } from './model/weights.ts';
import { AdapterShelf } from './service/adapters.ts';
import { advised, withMemoryAdvice } from './service/advice.ts';
import { Datasets } from './service/datasets.ts';
import { evaluate, generate } from './service/evaluate.ts';
import { describeFiles, exportFiles, streamExport } from './service/export.ts';
import { type LoadedModel, loadModel, modelInfo } from './service/model.ts';
import { checkRequest, train } from './service/training.ts';
import { Store } from './store/db.ts';
import { runSummary } from './store/runs.ts';
import { evaluatesWhileTraining, type TrainMethod } from './train/config.ts';
import { RunControl } from './train/control.ts';
import type { TrainEvent } from './train/events.ts';
import { estimateMemory, type MemoryEstimate } from './train/memory.ts';
import { TrainingError } from './train/trainer.ts';

export class TrainerService implements TrainerApi {
  private gpu: Gpu | undefined;
  private store: Store | undefined;
  private shelf: AdapterShelf | undefined;
  private loaded: LoadedModel | undefined;
  private readonly datasets = new Datasets();
  private control: RunControl | undefined;
  private download: AbortController | undefined;
  private handlers: TrainerHandlers = {};

  async init(handlers: TrainerHandlers = {}, storeName = 'webtune'): Promise<DeviceInfo> {
    this.handlers = handlers;
    if (!this.gpu) {
      const gpu = await Gpu.create();
      gpu.onLost = (err) => this.tell('onDeviceLost', err.message);
      gpu.onError = (err) => {
        console.error(err);
        withMemoryAdvice(err);
        this.tell('onGpuError', err.name, err.message);
      };
      this.gpu = gpu;
    }
    this.store ??= await Store.open(storeName);
    this.shelf ??= new AdapterShelf(this.gpu, this.store);
    const info = this.gpu.device.adapterInfo;
    return {
      vendor: info.vendor,
      architecture: info.architecture,
      description: info.description,
      subgroups: this.gpu.hasSubgroups,
      maxBufferMB: Math.round(this.gpu.limits.maxBufferSize / 2 ** 20),
    };
  }

  /**
   * Calls a registered handler. Across Comlink it returns a promise that rejects when the client is gone (or
   * registered no such handler): nothing to do about that here, and it must not surface as unhandled.
   */
  private tell<K extends keyof TrainerHandlers>(name: K, ...args: Parameters<NonNullable<TrainerHandlers[K]>>): void {
    const handler = this.handlers[name] as ((...a: unknown[]) => unknown) | undefined;
    if (!handler) return;
    try {
      Promise.resolve(handler(...args)).catch(() => {});
    } catch {
      // a handler that throws in this thread (tests) has had its say
    }
  }

  private need(): { gpu: Gpu; store: Store; shelf: AdapterShelf } {
    if (!this.gpu || !this.store || !this.shelf) throw new Error('The trainer is not initialised: call init() first.');
    return { gpu: this.gpu, store: this.store, shelf: this.shelf };
  }

  private needModel(): LoadedModel {
    if (!this.loaded) throw new Error('No model is loaded: load one first.');
    return this.loaded;
  }

  // ---- model ---------------------------------------------------------------------------

  async loadModel(source: ModelSource, options: LoadModelOptions = {}): Promise<ModelInfo> {
    const { gpu } = this.need();
    this.download?.abort();
    this.download = new AbortController();
    const loaded = await advised(loadModel(gpu, source, options, this.download.signal, (p) => this.tell('onProgress', p)));
    this.unloadModel();
    this.loaded = loaded;
    return modelInfo(loaded);
  }

  cancelDownload(): void {
    this.download?.abort();
  }

  modelInfo(): ModelInfo {
    return modelInfo(this.needModel());
  }

  estimateMemory(request: MemoryRequest): MemoryEstimate {
    const { model } = this.needModel();
    const largest = allTensors(model.weights).reduce((a, b) => (b.byteLength > a.byteLength ? b : a));
    const fit = {
      largestWeight: { name: largest.label, bytes: largest.byteLength },
      limits: this.need().gpu.limits,
      budgetBytes: request.budgetBytes,
    };
    return estimateMemory(model.config, model.weightBytes, request, fit);
  }

  private unloadModel(): void {
    this.shelf?.clear();
    this.datasets.clear();
    this.loaded?.model.destroy();
    this.loaded = undefined;
  }

  // ---- data ----------------------------------------------------------------------------

  async loadDataset(method: TrainMethod, text: string, file: string, maxLength: number, loss: LossOptions = {}): Promise<DatasetSummary> {
    return this.datasets.load(this.needModel().tokenizer, method, text, file, maxLength, loss);
  }

  // ---- adapters ------------------------------------------------------------------------

  async listAdapters(): Promise<AdapterSummary[]> {
    return this.need().shelf.list();
  }

  async renameAdapter(id: string, name: string): Promise<void> {
    await this.need().shelf.rename(id, name);
  }

  async deleteAdapter(id: string, cascade = false): Promise<void> {
    await this.need().shelf.delete(id, cascade);
  }

  async exportAdapter(id: string, options: ExportOptions = {}): Promise<AdapterFile[]> {
    return this.need().shelf.export(id, options);
  }

  async importAdapter(files: AdapterFile[], name: string, parentId: string | null = null): Promise<AdapterSummary> {
    const { shelf } = this.need();
    const { model, id } = this.needModel();
    return advised(shelf.import(files, name, parentId, model.config, id));
  }

  // ---- export --------------------------------------------------------------------------

  async planExport(request: ModelExportRequest): Promise<ExportedFile[]> {
    return describeFiles(await exportFiles({ loaded: this.needModel(), shelf: this.need().shelf, datasets: this.datasets }, request));
  }

  async exportModel(request: ModelExportRequest, onChunk: (chunk: ExportChunk) => Promise<void> | void): Promise<ExportedFile[]> {
    const files = await exportFiles({ loaded: this.needModel(), shelf: this.need().shelf, datasets: this.datasets }, request);
    await streamExport(files, onChunk);
    return describeFiles(files);
  }

  // ---- training ------------------------------------------------------------------------

  async train(request: TrainRequest, onEvent: (e: TrainEvent) => void): Promise<TrainResult> {
    const { gpu, store, shelf } = this.need();
    const loaded = this.needModel();
    if (this.control) throw new Error('A run is already going: pause, resume or cancel it first.');
    const { dataset, evalDataset } = checkRequest(request, this.datasets);
    const { problems } = this.estimateMemory({
      ...request.config,
      evaluates: evaluatesWhileTraining(request.config, evalDataset !== undefined),
      budgetBytes: request.memoryBudgetBytes,
    });
    if (problems.length > 0) throw new TrainingError(`This run would not fit: ${problems.join(' ')}`);
    // Taken before the first await: a second train() call made meanwhile must find the run going.
    const control = new RunControl();
    this.control = control;
    try {
      return await advised(train(request, { gpu, store, loaded, shelf, dataset, evalDataset, control, onEvent }));
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

  async listRuns(): Promise<RunSummary[]> {
    return (await this.need().store.listRuns()).map(runSummary);
  }

  async deleteRun(runId: string): Promise<void> {
    await this.need().store.deleteRun(runId);
  }

  // ---- evaluation and generation ---------------------------------------------------------

  async evaluate(request: EvaluateRequest): Promise<EvaluateResult> {
    const { gpu, shelf } = this.need();
    const loaded = this.needModel();
    return advised(evaluate(gpu, loaded, shelf, this.datasets.get(request.datasetId), request));
  }

  async generate(request: GenerateRequest, onText?: (text: string) => void): Promise<GenerateResult> {
    const { gpu, shelf } = this.need();
    return advised(generate(gpu, this.needModel(), shelf, request, onText));
  }
}
