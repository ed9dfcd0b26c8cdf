// The Train screen's state: the settings of each method (kept across visits), the DPO run's starting adapter, and
// the run: started, followed (its events batched per frame), paused, resumed, stopped. The classroom's runs are
// ordinary runs started here with the recipe's settings.

import {
  callback,
  defaultConfig,
  type LogRecord,
  METHOD_NAMES,
  METHODS,
  type RunSummary,
  type TrainConfig,
  type TrainEvent,
  type TrainMethod,
  type TrainPhase,
  type TrainResult,
  validateConfig,
} from '@webtune/trainer';
import { explain, type Problem } from '../errors.ts';
import { frameBatcher } from '../frame.ts';
import { studio } from '../studio.svelte.ts';
import { adapterState } from './adapters.svelte.ts';
import { dataState, slotOf } from './data.svelte.ts';
import { evalFileState } from './eval-file.svelte.ts';
import type { FieldProblems } from './field-problems.ts';

export type RunStatus = 'starting' | 'running' | 'paused' | 'completed' | 'cancelled' | 'diverged' | 'failed';

export interface RunView {
  method: TrainMethod;
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

const CONFIGS_KEY = 'webtune.configs';
const BUDGET_KEY = 'webtune.memoryBudgetGib';

/** The GPU memory budget of the last visit (GiB; 0 = none). */
function loadBudget(): number {
  const saved = Number(localStorage.getItem(BUDGET_KEY) ?? 0);
  return Number.isFinite(saved) && saved > 0 ? saved : 0;
}

/** The settings of the last visit, each method's when they are still valid; TRL's defaults otherwise. */
function loadConfigs(): Record<TrainMethod, TrainConfig> {
  const out = Object.fromEntries(METHODS.map((m) => [m, defaultConfig(m)])) as Record<TrainMethod, TrainConfig>;
  let saved: Partial<Record<TrainMethod, TrainConfig>> = {};
  try {
    saved = JSON.parse(localStorage.getItem(CONFIGS_KEY) ?? '{}') ?? {};
  } catch {
    return out; // unreadable: every method from its defaults
  }
  for (const m of METHODS) {
    const c = saved[m];
    if (!c || c.method !== m) continue;
    try {
      const merged = { ...out[m], ...c, lora: { ...out[m].lora, ...c.lora } };
      validateConfig(merged);
      out[m] = merged;
    } catch {
      // out of range: this method from its defaults, the others as they were saved
    }
  }
  return out;
}

export function saveConfigs(configs: Record<TrainMethod, TrainConfig>): void {
  try {
    localStorage.setItem(CONFIGS_KEY, JSON.stringify(configs));
  } catch {
    // a nicety
  }
}

/** Methods that may start from a stage-one (SFT) adapter: those with a reference, and SimPO (ORPO is one stage by design). */
export const takesParent = (m: TrainMethod) => m === 'dpo' || m === 'kto' || m === 'simpo';

export class TrainState {
  method: TrainMethod = $state('sft');
  configs: Record<TrainMethod, TrainConfig> = $state(loadConfigs());
  /** DPO's stage-one adapter: undefined = the newest SFT adapter of this model, null = none (the plain base). */
  parentChoice: string | null | undefined = $state(undefined);
  runName: string = $state('');
  run: RunView | null = $state.raw(null);
  /** Settings fields holding a value they refused, by field id ("<method>-param-<flag>"): Start waits for a good one. */
  fieldProblems: FieldProblems = $state({});
  /** The most GPU memory a run may take, in GiB (0 = no budget): the estimate warns past it and the run is refused. */
  memoryBudgetGib: number = $state(loadBudget());

  constructor() {
    studio.onDeviceLost((problem) => {
      if (this.isTraining) this.patchRun({ status: 'failed', problem });
    });
  }

  get isTraining(): boolean {
    const s = this.run?.status;
    return s === 'starting' || s === 'running' || s === 'paused';
  }

  /** The adapter a DPO run starts from: the one chosen while it exists, else the newest SFT adapter of this model. */
  get parentId(): string | null {
    const choice = this.parentChoice;
    if (choice === null || (choice !== undefined && adapterState.list.some((a) => a.id === choice))) return choice;
    return adapterState.sft[0]?.id ?? null;
  }

  configProblem(method: TrainMethod): string | null {
    const refused = Object.entries(this.fieldProblems).find(([id]) => id.startsWith(`${method}-param-`))?.[1];
    if (refused) return `${refused.label}: ${refused.text}`;
    try {
      validateConfig($state.snapshot(this.configs[method]) as TrainConfig);
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  }

  /** The budget in bytes, as the trainer takes it (undefined: none). */
  get memoryBudgetBytes(): number | undefined {
    return this.memoryBudgetGib > 0 ? Math.round(this.memoryBudgetGib * 2 ** 30) : undefined;
  }

  setMemoryBudget(gib: number): void {
    this.memoryBudgetGib = Number.isFinite(gib) && gib > 0 ? gib : 0;
    try {
      localStorage.setItem(BUDGET_KEY, String(this.memoryBudgetGib));
    } catch {
      // a nicety
    }
  }

  patchRun(p: Partial<RunView>): void {
    if (this.run) this.run = { ...this.run, ...p };
  }

  /**
   * A run with the Train screen's settings, or with `config` (and `parentAdapterId`, `name`) given by the caller
   * (the classroom), or the continuation of an interrupted run (`resume`: its model must be loaded).
   */
  async start(
    options: { resume?: RunSummary; config?: TrainConfig; parentAdapterId?: string | null; name?: string } = {},
  ): Promise<TrainResult | null> {
    // Plain copies: the state's proxies cannot be posted to the worker.
    const resume = options.resume ? ($state.snapshot(options.resume) as RunSummary) : undefined;
    const request = resume?.request ?? null;
    const given = options.config ? ($state.snapshot(options.config) as TrainConfig) : null;
    const method = request?.config.method ?? given?.method ?? this.method;
    const config = request?.config ?? given ?? ($state.snapshot(this.configs[method]) as TrainConfig);
    const parentAdapterId = request
      ? (request.parentAdapterId ?? null)
      : options.parentAdapterId !== undefined
        ? options.parentAdapterId
        : takesParent(method)
          ? this.parentId
          : null;
    const name = request?.name ?? options.name ?? (this.runName.trim() || undefined);
    const parentName = parentAdapterId ? (adapterState.list.find((a) => a.id === parentAdapterId)?.name ?? 'an SFT adapter') : null;
    this.run = {
      method,
      lossType: config.lossType,
      name: name ?? `${METHOD_NAMES[method].short} run`,
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
      const datasetId = request
        ? await this.datasetForResume(request.datasetId, method, config.maxLength)
        : await this.datasetFor(method, config.maxLength);
      // The eval file is the Train screen's own: a classroom run (config given) evaluates as its recipe says.
      const evalDatasetId = request?.evalDatasetId
        ? await evalFileState.datasetForResume(request.evalDatasetId, method, config.maxLength)
        : given || request
          ? null
          : await evalFileState.datasetFor(method, config.maxLength);
      const result = await studio.api.train(
        {
          config,
          datasetId,
          evalDatasetId,
          parentAdapterId,
          name,
          resumeRunId: resume?.runId,
          memoryBudgetBytes: this.memoryBudgetBytes,
        },
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
      await adapterState.refresh();
    }
  }

  pause(): void {
    void studio.api.pause();
    this.patchRun({ status: 'paused', message: 'paused: the current micro-batch finishes, then the run waits' });
  }

  resume(): void {
    void studio.api.resume();
    this.patchRun({ status: 'running', message: 'training' });
  }

  stop(): void {
    void studio.api.cancel();
    this.patchRun({ message: 'stopping after the current micro-batch; the adapter so far will be saved' });
  }

  /** The Data screen's dataset for `method`, read again first when it was read with another max length. */
  private async datasetFor(method: TrainMethod, maxLength: number): Promise<string> {
    const key = slotOf(method);
    const slot = dataState.datasets[key];
    const name = METHOD_NAMES[method].short;
    if (!slot) throw new Error(`Load a ${name} dataset on the Data screen first.`);
    if (slot.maxLength !== maxLength || !slot.summary) await dataState.load(key, slot.text, slot.file, maxLength, slot.origin);
    const ready = dataState.datasets[key];
    if (!ready?.summary) throw new Error(ready?.problem?.message ?? `The ${name} dataset could not be prepared.`);
    return ready.summary.id;
  }

  /** The dataset of a checkpointed run, loaded again from the studio's copy of its text, with its max length. */
  private async datasetForResume(datasetId: string, method: TrainMethod, maxLength: number): Promise<string> {
    if (dataState.datasets[slotOf(method)]?.summary?.id === datasetId) return datasetId;
    const id = await dataState.reload(datasetId, slotOf(method), maxLength);
    this.configs[method].maxLength = maxLength; // the settings the run goes on with
    return id;
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
}

export const trainState = new TrainState();
