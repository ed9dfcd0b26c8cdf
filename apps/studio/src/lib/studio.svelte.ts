// The studio's state and every action that talks to the trainer. One instance (`studio`), created at start-up;
// screens read its fields (Svelte 5 runes, so they re-render on change) and call its methods. The engine lives in
// a Web Worker behind Comlink: nothing here touches WebGPU, and everything sent to the worker is a plain snapshot.
import {
  type AdapterSummary,
  callback,
  createTrainer,
  type DatasetSummary,
  type DeviceInfo,
  type DownloadProgress,
  defaultConfig,
  type LogRecord,
  type MemoryEstimate,
  type Method,
  type ModelInfo,
  type ModelSource,
  type RunSummary,
  type TrainConfig,
  type TrainEvent,
  type TrainerClient,
  type TrainPhase,
  type TrainResult,
  unzip,
  validateConfig,
} from '@webtune/trainer';
import { type DemoModel, findDemoModel } from './demo.ts';
import { explain, isCancel, noWebGpu, type Problem } from './errors.ts';
import { frameBatcher } from './frame.ts';
import { getDataset, lastDataset, saveDataset } from './saved.ts';

export type { Problem };

export interface DownloadView {
  /** What is being loaded, in words. */
  label: string;
  /** Progress of each file, in the order they started. */
  files: DownloadProgress[];
}

/** How the loaded model was loaded: enough to load it again (the classroom puts the user's model back). */
export interface ModelRequest {
  source: ModelSource;
  label: string;
}

export interface DatasetSlot {
  file: string;
  text: string;
  /** max_length the summary was computed with. */
  maxLength: number;
  summary: DatasetSummary | null;
  loading: boolean;
  problem: Problem | null;
}

export type RunStatus = 'starting' | 'running' | 'paused' | 'completed' | 'cancelled' | 'diverged' | 'failed';

export interface RunView {
  method: Method;
  /** DPO's loss (the charts mark where it starts). */
  lossType: TrainConfig['lossType'];
  name: string;
  /** The SFT adapter a DPO run starts from. */
  parentName: string | null;
  status: RunStatus;
  phase: TrainPhase;
  message: string;
  step: number;
  totalSteps: number;
  tokensPerSecond: number;
  etaSeconds: number;
  elapsedSeconds: number;
  /** Progress of the reference log-prob pass that precedes a DPO run. */
  reference: { done: number; total: number } | null;
  metrics: LogRecord[];
  lastCheckpoint: number | null;
  resumedFrom: number | null;
  result: TrainResult | null;
  problem: Problem | null;
}

export interface CompareCell {
  text: string;
  tokens: number;
  running: boolean;
  error: string | null;
}

export interface CompareColumn {
  /** '' is the base model; otherwise the adapter whose stack (it and its parents) is applied. */
  id: string;
  label: string;
}

export const BASE = '';

const PREFS_KEY = 'webtune.prefs';

export interface Prefs {
  largeText: boolean;
  highContrast: boolean;
}

const CONFIGS_KEY = 'webtune.configs';

/** The settings of the last visit, when they are still valid; TRL's defaults otherwise. */
function loadConfigs(): Record<Method, TrainConfig> {
  const out = { sft: defaultConfig('sft'), dpo: defaultConfig('dpo') };
  try {
    const saved = JSON.parse(localStorage.getItem(CONFIGS_KEY) ?? '{}') as Partial<Record<Method, TrainConfig>>;
    for (const m of ['sft', 'dpo'] as const) {
      const c = saved[m];
      if (!c || c.method !== m) continue;
      const merged = { ...out[m], ...c, lora: { ...out[m].lora, ...c.lora } };
      validateConfig(merged);
      out[m] = merged;
    }
  } catch {
    // unreadable or out of range: start from the defaults
  }
  return out;
}

export function saveConfigs(configs: Record<Method, TrainConfig>): void {
  try {
    localStorage.setItem(CONFIGS_KEY, JSON.stringify(configs));
  } catch {
    // a nicety
  }
}

function loadPrefs(): Prefs {
  try {
    const p = JSON.parse(localStorage.getItem(PREFS_KEY) ?? '{}') as Partial<Prefs>;
    return { largeText: p.largeText === true, highContrast: p.highContrast === true };
  } catch {
    return { largeText: false, highContrast: false };
  }
}

/** The request a checkpointed run was started with (service.train stores it beside the TRL config). */
export function runRequest(run: RunSummary): {
  config: TrainConfig;
  datasetId: string;
  parentAdapterId?: string | null;
  name?: string;
} | null {
  const r = (run.config as { request?: unknown }).request as { config?: TrainConfig; datasetId?: string } | undefined;
  if (!r?.config || typeof r.datasetId !== 'string') return null;
  return r as ReturnType<typeof runRequest>;
}

export class Studio {
  // ---- engine ----
  engine: 'starting' | 'ready' | 'failed' = $state('starting');
  device: DeviceInfo | null = $state(null);
  /** The page cannot go on (no WebGPU, the GPU was lost): shown over everything. */
  fatal: Problem | null = $state(null);
  /** Failures that belong to no screen. */
  notices: { id: number; problem: Problem }[] = $state([]);
  prefs: Prefs = $state(loadPrefs());

  // ---- model ----
  demo: DemoModel | null | undefined = $state(undefined);
  model: ModelInfo | null = $state(null);
  modelSource: string = $state('');
  modelRequest: ModelRequest | null = $state.raw(null);
  loading: DownloadView | null = $state(null);
  modelProblem: Problem | null = $state(null);

  // ---- data and training ----
  method: Method = $state('sft');
  /** Raw state (replaced, never mutated): a summary holds a length per row. */
  datasets: Record<Method, DatasetSlot | null> = $state.raw({ sft: null, dpo: null });
  configs: Record<Method, TrainConfig> = $state(loadConfigs());
  /** DPO's stage-one adapter: undefined = the newest SFT adapter of this model, null = none (the plain base). */
  parentChoice: string | null | undefined = $state(undefined);
  runName: string = $state('');
  run: RunView | null = $state.raw(null);
  estimate: MemoryEstimate | null = $state(null);

  // ---- adapters and runs ----
  adapters: AdapterSummary[] = $state([]);
  runs: RunSummary[] = $state([]);
  adaptersProblem: Problem | null = $state(null);

  // ---- compare ----
  /** Each prompt exactly as the model gets it (white space matters: "Answer:\n"). */
  comparePrompts: string[] = $state([]);
  compareColumns: string[] | null = $state(null);
  compareSettings = $state({ maxNewTokens: 48, temperature: 0, topP: 1, seed: 0, chat: true });
  compareOutputs: Record<string, CompareCell> = $state({});
  /** What the outputs answer: the prompts and columns of the last Generate. */
  compareAsked: { prompts: string[]; columns: CompareColumn[] } | null = $state(null);
  compareRunning: boolean = $state(false);
  compareStop = false;
  /** Prompts were taken from the datasets once; after that the box is the user's. */
  comparePrefilled = false;
  compareProblem: Problem | null = $state(null);

  // ---- classroom ----
  /** The classroom is generating or evaluating on the GPU (its training runs are ordinary runs: `run`). */
  lessonBusy: boolean = $state(false);

  private client: TrainerClient | undefined;
  private noticeId = 0;

  get api(): TrainerClient['api'] {
    if (!this.client) throw new Error('The trainer has not started.');
    return this.client.api;
  }

  // ---------------------------------------------------------------------------------------------------------------

  async start(): Promise<void> {
    this.engine = 'starting';
    this.fatal = null;
    findDemoModel().then((d) => {
      this.demo = d;
    });
    if (!(navigator as Navigator & { gpu?: unknown }).gpu) {
      this.engine = 'failed';
      this.fatal = noWebGpu('This browser has no WebGPU.');
      return;
    }
    try {
      this.client ??= createTrainer();
      this.device = await this.api.init();
      // A lost device ends the session; say so at once (the engine calls this from the worker).
      (this.api as unknown as { onDeviceLost: unknown }).onDeviceLost = callback((message: string) => {
        this.fatal = { title: 'The GPU stopped working', message, reload: true };
        if (this.run && (this.run.status === 'running' || this.run.status === 'paused' || this.run.status === 'starting'))
          this.patchRun({ status: 'failed', problem: { title: 'The GPU stopped working', message, reload: true } });
      });
      // A GPU error no call was waiting for (e.g. out of memory in work outside a checked step): say it, keep going.
      (this.api as unknown as { onGpuError: unknown }).onGpuError = callback((name: string, message: string) =>
        this.notify(explain(Object.assign(new Error(message), { name }), 'working on the GPU')),
      );
      this.engine = 'ready';
    } catch (e) {
      this.engine = 'failed';
      const p = explain(e, 'starting the trainer');
      this.fatal = /WebGPU|GPU adapter/i.test(p.message) ? noWebGpu(p.message) : p;
      return;
    }
    await this.refreshAdapters();
  }

  notify(problem: Problem): void {
    this.notices = [...this.notices.slice(-3), { id: ++this.noticeId, problem }];
  }

  dismiss(id: number): void {
    this.notices = this.notices.filter((n) => n.id !== id);
  }

  setPrefs(p: Partial<Prefs>): void {
    this.prefs = { ...this.prefs, ...p };
    try {
      localStorage.setItem(PREFS_KEY, JSON.stringify(this.prefs));
    } catch {
      // preferences are a nicety
    }
  }

  get busy(): boolean {
    return this.loading !== null || this.isTraining || this.compareRunning || this.lessonBusy;
  }

  get isTraining(): boolean {
    const s = this.run?.status;
    return s === 'starting' || s === 'running' || s === 'paused';
  }

  // ---- model -----------------------------------------------------------------------------------------------------

  async loadModel(source: ModelSource, label: string): Promise<boolean> {
    if (this.isTraining) {
      this.modelProblem = { title: 'A run is going', message: 'Stop the run on the Train screen before loading another model.' };
      return false;
    }
    this.modelProblem = null;
    this.loading = { label, files: [] };
    // Whether every file came from this browser's cache: said on the loaded card, since a cached load can finish
    // before the loading panel ever paints.
    let reported = false;
    let downloaded = false;
    const progress = frameBatcher<DownloadProgress>((items) => {
      if (!this.loading) return;
      const files = [...this.loading.files];
      for (const p of items) {
        const i = files.findIndex((f) => f.file === p.file);
        if (i >= 0) files[i] = p;
        else files.push(p);
      }
      this.loading = { ...this.loading, files };
    });
    try {
      const info = await this.api.loadModel(
        source,
        {},
        callback((p: DownloadProgress) => {
          reported = true;
          downloaded ||= !p.cached;
          progress.push(p);
        }),
      );
      progress.flushNow();
      this.model = info;
      this.modelRequest = { source, label };
      this.modelSource = reported && !downloaded ? `${label}, read from this browser's cache` : label;
      this.estimate = null;
      this.loading = null;
      // The engine forgets datasets with the old tokenizer: load them again with the new one.
      await Promise.all((['sft', 'dpo'] as const).map((m) => this.restoreDataset(m)));
      return true;
    } catch (e) {
      progress.flushNow();
      // A failed load leaves the model that was loaded before in place: say so.
      const kept = this.model ? ` ${this.model.id} is still loaded.` : '';
      if (isCancel(e)) this.modelProblem = { title: 'Download cancelled', message: kept.trim() || 'Nothing was loaded.' };
      else {
        const p = explain(e, `loading ${label}`);
        const title =
          p.title.startsWith('Something went wrong') || p.title === 'These files cannot be used'
            ? 'This model cannot be used here'
            : p.title;
        this.modelProblem = { ...p, title, message: `${p.message}${kept}` };
      }
      return false;
    } finally {
      this.loading = null;
    }
  }

  async loadDemo(): Promise<boolean> {
    const demo = this.demo ?? (await findDemoModel());
    this.demo = demo;
    if (!demo) {
      this.modelProblem = {
        title: 'No demo model in this build',
        message: 'This copy of the studio was built without demo/model/. Load a model from the Hugging Face Hub or a local folder instead.',
      };
      return false;
    }
    return this.loadModel({ kind: 'url', baseUrl: demo.url, id: demo.id }, `the demo model (${demo.id})`);
  }

  cancelDownload(): void {
    void this.api.cancelDownload();
  }

  async refreshEstimate(): Promise<void> {
    if (!this.model || this.engine !== 'ready') return;
    const c = this.configs[this.method];
    try {
      this.estimate = await this.api.estimateMemory({
        method: this.method,
        batchSize: c.batchSize,
        maxLength: c.maxLength,
        lora: { r: c.lora.r, targetModules: [...c.lora.targetModules] },
      });
    } catch {
      this.estimate = null; // out-of-range settings: the form says why
    }
  }

  // ---- data ------------------------------------------------------------------------------------------------------

  /** `maxLength`: the run's max length when it is not the Train screen's (the classroom's recipe). */
  async loadDataset(method: Method, text: string, file: string, maxLength = this.configs[method].maxLength): Promise<void> {
    const previous = this.datasets[method];
    this.setSlot(method, { file, text, maxLength, summary: previous?.summary ?? null, loading: true, problem: null });
    if (!this.model) {
      this.setSlot(method, { file, text, maxLength, summary: null, loading: false, problem: null });
      return;
    }
    try {
      const summary = await this.api.loadDataset(method, text, file, maxLength);
      // A newer load of this slot (another file, another max length) wins.
      if (this.datasets[method]?.text !== text || this.datasets[method]?.maxLength !== maxLength) return;
      this.setSlot(method, { file, text, maxLength, summary, loading: false, problem: null });
      saveDataset({ id: summary.id, method, file, text, maxLength, savedAt: Date.now() }).catch(() => {});
    } catch (e) {
      if (this.datasets[method]?.text !== text) return;
      this.setSlot(method, { file, text, maxLength, summary: null, loading: false, problem: explain(e, `reading ${file}`) });
    }
  }

  private setSlot(method: Method, slot: DatasetSlot | null): void {
    this.datasets = { ...this.datasets, [method]: slot };
  }

  /**
   * Load a model and datasets again, as they were before something else took their place (the classroom's lesson).
   * The datasets' text goes back into the slots first: loading the model tokenises them with its tokenizer.
   */
  async reinstate(model: ModelRequest | null, datasets: Partial<Record<Method, { file: string; text: string }>>): Promise<boolean> {
    const methods = (['sft', 'dpo'] as const).filter((m) => datasets[m]);
    const again = () => Promise.all(methods.map((m) => this.loadDataset(m, datasets[m]?.text ?? '', datasets[m]?.file ?? '')));
    if (!model || model === this.modelRequest) {
      await again();
      return true;
    }
    for (const m of methods) {
      const d = datasets[m] as { file: string; text: string };
      this.setSlot(m, { ...d, maxLength: this.configs[m].maxLength, summary: null, loading: false, problem: null });
    }
    if (await this.loadModel(model.source, model.label)) return true;
    await again(); // the model stays as it was: read the data with it
    return false;
  }

  /** Reload the slot's text with the current max length (after it changed). */
  async refreshDataset(method: Method): Promise<void> {
    const slot = this.datasets[method];
    if (!slot || slot.loading || slot.maxLength === this.configs[method].maxLength) return;
    await this.loadDataset(method, slot.text, slot.file);
  }

  /** After a model loads: the slot's text again, or the last dataset of this method from a previous visit. */
  private async restoreDataset(method: Method): Promise<void> {
    const slot = this.datasets[method];
    if (slot) return this.loadDataset(method, slot.text, slot.file);
    const saved = await lastDataset(method).catch(() => undefined);
    if (saved && !this.datasets[method]) return this.loadDataset(method, saved.text, saved.file);
  }

  // ---- training --------------------------------------------------------------------------------------------------

  /** SFT adapters a DPO run can start from: trained on the loaded model. */
  get sftAdapters(): AdapterSummary[] {
    return this.adapters.filter((a) => a.method === 'sft' && a.baseModel === this.model?.id);
  }

  get parentId(): string | null {
    if (this.parentChoice !== undefined) return this.parentChoice;
    return this.sftAdapters[0]?.id ?? null;
  }

  patchRun(p: Partial<RunView>): void {
    if (this.run) this.run = { ...this.run, ...p };
  }

  configProblem(method: Method): string | null {
    try {
      validateConfig($state.snapshot(this.configs[method]) as TrainConfig);
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  }

  /**
   * A run with the Train screen's settings, or with `config` (and `parentAdapterId`, `name`) given by the caller
   * (the classroom), or the continuation of an interrupted run (`resume`).
   */
  async train(
    options: { resume?: RunSummary; config?: TrainConfig; parentAdapterId?: string | null; name?: string } = {},
  ): Promise<TrainResult | null> {
    // Plain copies: the state's proxies cannot be posted to the worker.
    const resume = options.resume ? ($state.snapshot(options.resume) as RunSummary) : undefined;
    const request = resume ? runRequest(resume) : null;
    const given = options.config ? ($state.snapshot(options.config) as TrainConfig) : null;
    const method: Method = request?.config.method ?? given?.method ?? this.method;
    const config = request?.config ?? given ?? ($state.snapshot(this.configs[method]) as TrainConfig);
    const parentAdapterId = request
      ? (request.parentAdapterId ?? null)
      : options.parentAdapterId !== undefined
        ? options.parentAdapterId
        : method === 'dpo'
          ? this.parentId
          : null;
    const name = request?.name ?? options.name ?? (this.runName.trim() || undefined);
    const parentName = parentAdapterId ? (this.adapters.find((a) => a.id === parentAdapterId)?.name ?? 'an SFT adapter') : null;
    this.run = {
      method,
      lossType: config.lossType,
      name: name ?? `${method.toUpperCase()} run`,
      parentName,
      status: 'starting',
      phase: 'preparing',
      message: resume ? `resuming from step ${resume.step}` : 'preparing',
      step: resume?.step ?? 0,
      totalSteps: 0,
      tokensPerSecond: 0,
      etaSeconds: Number.NaN,
      elapsedSeconds: 0,
      reference: null,
      metrics: [],
      lastCheckpoint: resume?.step ?? null,
      resumedFrom: resume?.step ?? null,
      result: null,
      problem: null,
    };
    const events = frameBatcher<TrainEvent>((items) => this.applyEvents(items));
    try {
      let datasetId: string;
      if (request) datasetId = await this.datasetForResume(request.datasetId, method, config.maxLength);
      else {
        const slot = this.datasets[method];
        if (!slot) throw new Error(`Load a ${method.toUpperCase()} dataset on the Data screen first.`);
        if (slot.maxLength !== config.maxLength || !slot.summary) await this.loadDataset(method, slot.text, slot.file, config.maxLength);
        const ready = this.datasets[method];
        if (!ready?.summary) throw new Error(ready?.problem?.message ?? `The ${method.toUpperCase()} dataset could not be prepared.`);
        datasetId = ready.summary.id;
      }
      const result = await this.api.train(
        { config, datasetId, parentAdapterId, name, resumeRunId: resume?.runId },
        callback((e: TrainEvent) => events.push(e)),
      );
      events.flushNow();
      this.patchRun({
        status: result.status,
        message: result.message,
        result,
        metrics: result.metrics,
        problem:
          result.status === 'diverged' ? { title: 'Training stopped: the loss is no longer a number', message: result.message } : null,
      });
      if (result.adapterId && method === 'sft') this.parentChoice = undefined; // DPO now starts from this one
      return result;
    } catch (e) {
      events.flushNow();
      const problem = explain(e, 'training');
      const kept = this.run?.lastCheckpoint;
      if (kept) problem.message += ` The checkpoint of step ${kept} is kept: resume it from the Train or Adapters screen.`;
      this.patchRun({ status: 'failed', problem });
      return null;
    } finally {
      await this.refreshAdapters();
    }
  }

  private applyEvents(items: TrainEvent[]): void {
    const run = this.run;
    if (!run) return;
    const next: Partial<RunView> = {};
    let metrics: LogRecord[] | null = null;
    for (const e of items) {
      if (e.type === 'phase') {
        next.phase = e.phase;
        next.message = e.message;
        if (e.phase === 'training' && (next.status ?? run.status) === 'starting') next.status = 'running';
      } else if (e.type === 'progress') next.reference = { done: e.done, total: e.total };
      else if (e.type === 'step') {
        next.step = e.step;
        next.totalSteps = e.totalSteps;
        next.tokensPerSecond = e.tokensPerSecond;
        next.etaSeconds = e.etaSeconds;
        next.elapsedSeconds = e.elapsedSeconds;
        if ((next.status ?? run.status) === 'starting') next.status = 'running';
      } else if (e.type === 'log') {
        metrics ??= [...run.metrics];
        metrics.push(e.record);
      } else if (e.type === 'checkpoint') next.lastCheckpoint = e.step;
    }
    if (metrics) next.metrics = metrics;
    this.run = { ...run, ...next };
  }

  /** The dataset of a checkpointed run, loaded again from the studio's copy of its text. */
  private async datasetForResume(datasetId: string, method: Method, maxLength: number): Promise<string> {
    const slot = this.datasets[method];
    if (slot?.summary?.id === datasetId) return datasetId;
    const saved = await getDataset(datasetId).catch(() => undefined);
    if (!saved) {
      throw new Error(
        'The dataset of this run is no longer in this browser. Load the same file on the Data screen with the same max length, then resume again.',
      );
    }
    this.configs[method].maxLength = maxLength;
    await this.loadDataset(method, saved.text, saved.file);
    const id = this.datasets[method]?.summary?.id;
    if (id !== datasetId) throw new Error(this.datasets[method]?.problem?.message ?? 'The dataset of this run could not be loaded again.');
    return id;
  }

  pause(): void {
    void this.api.pause();
    this.patchRun({ status: 'paused', message: 'paused: the current micro-batch finishes, then the run waits' });
  }

  resume(): void {
    void this.api.resume();
    this.patchRun({ status: 'running', message: 'training' });
  }

  stop(): void {
    void this.api.cancel();
    this.patchRun({ message: 'stopping after the current micro-batch; the adapter so far will be saved' });
  }

  /** Resume an interrupted run: its model must be loaded (the demo model is loaded for you). */
  async resumeRun(run: RunSummary): Promise<void> {
    const model = (run.config as { model_name_or_path?: string }).model_name_or_path;
    if (model && this.model?.id !== model) {
      this.demo ??= await findDemoModel();
      if (this.demo && model === this.demo.id) {
        if (!(await this.loadDemo())) return;
      } else {
        this.adaptersProblem = {
          title: `Load ${model} first`,
          message: `This run fine-tunes ${model}. Load that model on the Model screen, then resume the run again.`,
        };
        return;
      }
    }
    await this.train({ resume: run });
  }

  async discardRun(runId: string): Promise<void> {
    try {
      await this.api.deleteRun(runId);
    } catch (e) {
      this.adaptersProblem = explain(e, 'discarding the run');
    }
    await this.refreshAdapters();
  }

  // ---- compare ---------------------------------------------------------------------------------------------------

  /** The same prompts through each column's model (the base, or an adapter with the adapters it was trained on). */
  async compare(prompts: string[], columns: CompareColumn[]): Promise<void> {
    if (this.compareRunning || this.isTraining || this.lessonBusy) return;
    this.compareRunning = true;
    this.compareStop = false;
    this.compareProblem = null;
    const settings = $state.snapshot(this.compareSettings);
    const outputs: Record<string, CompareCell> = {};
    for (const [i] of prompts.entries())
      for (const c of columns) outputs[`${i}:${c.id}`] = { text: '', tokens: 0, running: false, error: null };
    this.compareOutputs = outputs;
    this.compareAsked = { prompts: [...prompts], columns: columns.map((c) => ({ ...c })) };
    try {
      outer: for (const [i, prompt] of prompts.entries()) {
        for (const c of columns) {
          if (this.compareStop) break outer;
          const key = `${i}:${c.id}`;
          this.compareOutputs[key].running = true;
          const stream = frameBatcher<string>((texts) => {
            this.compareOutputs[key].text = texts.at(-1) ?? '';
          });
          try {
            const r = await this.api.generate(
              {
                prompt: settings.chat ? [{ role: 'user', content: prompt }] : prompt,
                adapterIds: c.id ? [c.id] : [],
                maxNewTokens: settings.maxNewTokens,
                temperature: settings.temperature,
                topP: settings.topP,
                seed: settings.seed,
              },
              callback((text: string) => stream.push(text)),
            );
            stream.flushNow();
            this.compareOutputs[key] = { text: r.text, tokens: r.tokens, running: false, error: null };
          } catch (e) {
            stream.flushNow();
            const p = explain(e, 'generating');
            this.compareOutputs[key] = { text: this.compareOutputs[key].text, tokens: 0, running: false, error: p.message };
            if (p.reload) {
              this.compareProblem = p;
              break outer;
            }
          }
        }
      }
    } finally {
      this.compareRunning = false;
    }
  }

  // ---- adapters --------------------------------------------------------------------------------------------------

  async refreshAdapters(): Promise<void> {
    if (this.engine !== 'ready') return;
    try {
      const [adapters, runs] = await Promise.all([this.api.listAdapters(), this.api.listRuns()]);
      this.adapters = adapters;
      this.runs = runs;
    } catch (e) {
      this.adaptersProblem = explain(e, 'listing adapters');
    }
  }

  async renameAdapter(id: string, name: string): Promise<void> {
    this.adaptersProblem = null;
    try {
      await this.api.renameAdapter(id, name);
    } catch (e) {
      this.adaptersProblem = explain(e, 'renaming the adapter');
    }
    await this.refreshAdapters();
  }

  async deleteAdapter(id: string, cascade: boolean): Promise<void> {
    this.adaptersProblem = null;
    try {
      await this.api.deleteAdapter(id, cascade);
      if (this.parentChoice === id) this.parentChoice = undefined;
    } catch (e) {
      this.adaptersProblem = explain(e, 'deleting the adapter');
    }
    await this.refreshAdapters();
  }

  /** The PEFT folder's files of an adapter (a DPO adapter comes stacked with the SFT adapter under it). */
  async exportFiles(id: string): Promise<{ name: string; data: Uint8Array }[] | null> {
    this.adaptersProblem = null;
    try {
      return await this.api.exportAdapter(id);
    } catch (e) {
      this.adaptersProblem = explain(e, 'exporting the adapter');
      return null;
    }
  }

  /** Import a PEFT adapter: its folder's files, or a .zip of them. */
  async importAdapter(files: Map<string, File>, name: string, parentId: string | null): Promise<AdapterSummary | null> {
    this.adaptersProblem = null;
    if (!this.model) {
      this.adaptersProblem = {
        title: 'Load a model first',
        message: 'An adapter is checked against the model it will run on: load its base model, then import.',
      };
      return null;
    }
    try {
      const list: { name: string; data: Uint8Array }[] = [];
      for (const [path, file] of files) {
        const data = new Uint8Array(await file.arrayBuffer());
        if (!/\.zip$/i.test(path)) list.push({ name: path, data });
        else for (const [inner, bytes] of await unzipNamed(data, path)) list.push({ name: inner, data: bytes });
      }
      const imported = await this.api.importAdapter(list, name, parentId);
      await this.refreshAdapters();
      return imported;
    } catch (e) {
      this.adaptersProblem = explain(e, 'importing the adapter');
      return null;
    }
  }

  adapterName(id: string | null): string {
    if (!id) return '';
    return this.adapters.find((a) => a.id === id)?.name ?? 'a deleted adapter';
  }
}

/** A .zip's files (stored or deflated); what is wrong with it says which archive. */
async function unzipNamed(data: Uint8Array, path: string): Promise<Map<string, Uint8Array>> {
  try {
    return await unzip(data, { inflate: true });
  } catch (e) {
    if (e instanceof Error && e.name === 'ZipError') e.message = `${path}: ${e.message}`;
    throw e;
  }
}

export const studio = new Studio();
