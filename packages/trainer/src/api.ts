// The trainer's worker contract in one file: what the studio and the CLI page may call (TrainerApi), the requests
// they send and the results they get back, the callbacks they register at init, and the name of every error a
// call can reject with. Everything here crosses the worker boundary by structured clone (Comlink): plain data,
// typed arrays, Errors with their `name`; functions only as Comlink proxies (client.ts `callback`).
import type { BytesByKind, GpuCounts } from '@webtune/kernels';
import type { Advice } from './data/advice.ts';
import type { Message } from './data/formats.ts';
import type { LossOptions } from './data/tokenize.ts';
import type { LoraConfig } from './model/lora-config.ts';
import type { DownloadProgress, ModelSource } from './model/source.ts';
import type { TrainConfig, TrainMethod } from './train/config.ts';
import type { LogRecord, TrainEvent } from './train/events.ts';
import type { MemoryEstimate, MemoryRun } from './train/memory.ts';

export type { Advice, DownloadProgress, LogRecord, MemoryEstimate, Message, ModelSource, TrainConfig, TrainEvent, TrainMethod };

// ---- init ----------------------------------------------------------------------------------------------------------

/** What the worker tells its client outside any one call's result. Every handler is optional. */
export interface TrainerHandlers {
  /** The GPU device is lost: nothing works until a reload. */
  onDeviceLost?(message: string): void;
  /** A GPU error that no call was waiting for (work outside Gpu.checked): its name and message. */
  onGpuError?(name: string, message: string): void;
  /** Each file of a model being loaded (loadModel): bytes so far, total, whether it came from the cache. */
  onProgress?(progress: DownloadProgress): void;
}

export interface DeviceInfo {
  vendor: string;
  architecture: string;
  description: string;
  subgroups: boolean;
  maxBufferMB: number;
}

// ---- model ---------------------------------------------------------------------------------------------------------

export interface LoadModelOptions {
  /** Keep downloads in Cache Storage (default: only for the Hub; a local folder or the demo is read fresh). */
  cache?: boolean;
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
  /** Why the chat template cannot be used (its Jinja does not parse), or null: said once, at load. */
  chatTemplateProblem: string | null;
  /** Checkpoint tensors the model does not use (transformers' "weights not used"): said once, at load (unusedWeightsWarning). */
  unusedWeights: string[];
  /** The projections LoRA can adapt in this model, by their PEFT target names. */
  loraTargets: string[];
  /** Bytes of GPU memory the weights take (bf16/f16 matrices stay packed, everything else float32). */
  weightBytes: number;
}

/** The run to estimate (train/memory.ts MemoryRun: the TrainConfig fields it reads), and the user's budget. */
export interface MemoryRequest extends MemoryRun {
  /** The most GPU bytes the user wants a run to take (0 or absent: no budget); past it the estimate has a problem. */
  budgetBytes?: number;
}

// ---- data ----------------------------------------------------------------------------------------------------------

export interface RowProblem {
  line: number;
  reason: string;
}

export interface DatasetSummary {
  id: string;
  method: TrainMethod;
  file: string;
  format: string;
  kept: number;
  rejected: RowProblem[];
  rejectedByReason: Record<string, number>;
  truncated: number;
  /** Rows valid as JSON but unusable after tokenisation (e.g. the prompt fills max_length), with their reasons. */
  dropped: RowProblem[];
  droppedByReason: Record<string, number>;
  /** Each sequence's token length after truncation to max_length, and before it (same order). */
  lengths: number[];
  fullLengths: number[];
  promptLengths: number[];
  /** A few rows as the model sees them: prompt and completion text after templating (KTO: with the row's label). */
  preview: { line: number; prompt: string; completion: string; rejected?: string; label?: boolean; tokens: number }[];
  /** KTO: how many kept rows are desirable (label true) and undesirable; objectives/kto-balance.ts says if they need weights. */
  balance?: { desirable: number; undesirable: number };
  /** What the rows kept look like against the DPO guidance (near-identical pairs, duplicates, size). */
  advice: Advice[];
}

// ---- adapters ------------------------------------------------------------------------------------------------------

export interface AdapterSummary {
  id: string;
  name: string;
  createdAt: number;
  baseModel: string;
  method: TrainMethod;
  parentId: string | null;
  lora: LoraConfig;
  /** The last training record (evaluations, eval_*, are records of their own and not this one). */
  lastMetrics: Record<string, number> | null;
  /** The rows its run held out of its training file for evaluation (val_size): the file's name and their lines. */
  heldOut: { file: string; lines: number[] } | null;
}

/** One file of a PEFT folder, as exportAdapter returns and importAdapter takes them. */
export interface AdapterFile {
  name: string;
  data: Uint8Array;
}

export interface ExportOptions {
  /**
   * For an adapter trained on top of another: true (the default) exports one exact adapter of rank r1+r2 for the
   * base model; false exports this adapter alone, to be applied on top of its stage-one adapter.
   */
  stacked?: boolean;
}

// ---- export --------------------------------------------------------------------------------------------------------

/**
 * What exportModel writes: the PEFT folder; the merged model as a Hugging Face folder; the merged model as one GGUF
 * file; the adapter as a GGUF LoRA; an Ollama bundle (GGUF + Modelfile + README); a TRL run folder to go on with on
 * a GPU cluster (dataset as used, config.yaml, accelerate config, starting adapter, README).
 */
export type ExportFormat = 'peft' | 'merged' | 'gguf' | 'gguf-lora' | 'ollama' | 'trl-run';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['peft', 'merged', 'gguf', 'gguf-lora', 'ollama', 'trl-run'];

/** merged's shard size unless the request gives one: 2GB as transformers' max_shard_size reads it (decimal). */
export const DEFAULT_MAX_SHARD_BYTES = 2e9;

/** Stored number types: the float ones for every weight format, Q8_0 (8-bit blocks) for GGUF models only. */
export type ExportDType = 'F32' | 'F16' | 'BF16' | 'Q8_0';

export interface ModelExportRequest {
  format: ExportFormat;
  /** The adapter, applied with the adapters it was trained on top of; null: the base model alone (merged, gguf, ollama). */
  adapterId: string | null;
  /**
   * merged: the base's dtype by default; gguf and ollama: F16 by default, Q8_0 allowed; gguf-lora: F32 by default.
   * peft and trl-run keep the adapter's float32 and refuse a dtype.
   */
  dtype?: ExportDType;
  /** merged: shard model.safetensors past this many bytes (DEFAULT_MAX_SHARD_BYTES by default). */
  maxShardBytes?: number;
  /** peft: for an adapter trained on top of another, one exact adapter for the base (true, default) or it alone. */
  stacked?: boolean;
  /** trl-run: the dataset (a loadDataset id) the adapter was trained on, written as the run read it. */
  datasetId?: string;
  /** trl-run: the eval file (a loadDataset id) of a run that evaluated on a file of its own, written as its test split. */
  evalDatasetId?: string;
  /**
   * Every file of the export in one stored ZIP, `<zip>.zip`, its files under a folder named `zip` (an Ollama bundle,
   * a folder as one download). Streamed like the files themselves; archives of 4 GiB or more are refused (no ZIP64).
   */
  zip?: string;
}

/** One file of an export: its path inside the export, and its exact size, known before a byte is written. */
export interface ExportedFile {
  name: string;
  size: number;
}

/** A piece of an export's bytes, in order: each file's chunks follow one another, files in the order planned. */
export interface ExportChunk {
  file: string;
  data: Uint8Array;
}

// ---- training ------------------------------------------------------------------------------------------------------

export interface TrainRequest {
  config: TrainConfig;
  datasetId: string;
  /**
   * The rows to evaluate on (eval_strategy), loaded for the run's method like the training data; instead of holding
   * out val_size of the training file, not with it.
   */
  evalDatasetId?: string | null;
  /** DPO on top of this stage-one adapter (it becomes part of the reference and the starting policy). */
  parentAdapterId?: string | null;
  name?: string;
  /** Continue an interrupted run from its last checkpoint (the request must be the run's own: RunSummary.request). */
  resumeRunId?: string;
  /** Where the CLI writes the run (--out), kept with its checkpoints: running again with it finds them. */
  outputDir?: string;
  /**
   * Stop once this optimizer step is done, as a cancel would, with the adapter of the steps so far and a checkpoint
   * that resumeRunId continues: the first steps of the config's own schedule (the learning rate still decays over
   * all its steps), not a shorter run. Decided inside the worker, so a caller across a wire stops at the very step.
   */
  stopAfterStep?: number;
  /** Refuse to start when the memory estimate is over this many bytes (MemoryRequest.budgetBytes). */
  memoryBudgetBytes?: number;
}

export interface TrainResult {
  status: 'completed' | 'cancelled' | 'diverged';
  message: string;
  adapterId: string | null;
  metrics: LogRecord[];
  runId: string;
  /** What the run asked of the GPU; absent for a result that no run made (the classroom's shipped adapters). */
  gpu?: RunGpuUse;
}

/** A run's GPU use, by the runtime's own count (kernels/src/runtime/ledger.ts). */
export interface RunGpuUse {
  /** Most live GPU bytes while the run trained (the model's weights included), each kind's own maximum. */
  peakBytes: BytesByKind;
  /** Most live GPU bytes of all kinds together. */
  peakTotalBytes: number;
  /** Dispatches, submits and host reads of one optimizer step (each count's median over the steps); null when no step ended. */
  perStep: GpuCounts | null;
}

/** A run that can be resumed: its newest checkpoint, and what it was started with. */
export interface RunSummary {
  runId: string;
  /** Step of the newest checkpoint. */
  step: number;
  /** When the newest checkpoint was written. */
  createdAt: number;
  /** How many checkpoints are kept for the run. */
  checkpoints: number;
  /** The base model's id, as the run loaded it. */
  model: string;
  /** The run's settings in TRL's key names (as training_config.json). */
  trainingConfig: Record<string, unknown>;
  /** The request the run was started with: train({ ...request, resumeRunId: runId }) continues it. null: unreadable. */
  request: Omit<TrainRequest, 'resumeRunId'> | null;
}

// ---- evaluation and generation -------------------------------------------------------------------------------------

/**
 * An evaluation of the dataset's method (the one it was loaded for). Settings left out take the method's defaults
 * (train/config.ts defaultConfig), in TrainConfig's names.
 */
export interface EvaluateRequest {
  datasetId: string;
  /**
   * SFT, ORPO, SimPO: the adapter (with its parents) to evaluate. DPO, KTO: the policy's adapter, applied on top of
   * the reference.
   */
  adapterId?: string | null;
  /** DPO, KTO: the reference is the base model with this adapter (and its parents); none = the base alone. */
  refAdapterId?: string | null;
  beta?: number;
  lossType?: 'sigmoid' | 'ipo' | 'hinge' | 'kto' | 'apo_zero_unpaired';
  labelSmoothing?: number;
  desirableWeight?: number;
  undesirableWeight?: number;
  simpoGamma?: number;
  cpoAlpha?: number;
  /** Rows (pairs) per forward pass; for KTO also the batch whose rows pair up for the KL term, as in training. */
  batchSize?: number;
}

/** TRL's metric names (eval_loss, eval_rewards/margins, ...) and their values. */
export type EvaluateResult = Record<string, number>;

export interface GenerateRequest {
  /** Plain text, or chat messages rendered with the tokenizer's chat template. */
  prompt: string | Message[];
  /** The adapter to apply, with the adapters it was trained on top of (its parents); null = the base model. */
  adapterId: string | null;
  maxNewTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
}

export interface GenerateResult {
  text: string;
  tokens: number;
}

// ---- the worker's methods ------------------------------------------------------------------------------------------

/** What the worker exposes (service.ts implements it). Callbacks must be wrapped with client.ts `callback`. */
export interface TrainerApi {
  /** Opens the GPU and the store; registers `handlers` (replacing earlier ones). */
  init(handlers?: TrainerHandlers, storeName?: string): Promise<DeviceInfo>;
  loadModel(source: ModelSource, options?: LoadModelOptions): Promise<ModelInfo>;
  cancelDownload(): void;
  modelInfo(): ModelInfo;
  /** GPU memory a run would need, by part, for the loaded model (bytes, float32 everywhere). */
  estimateMemory(request: MemoryRequest): MemoryEstimate;
  /** `loss` (SFT): which tokens the loss covers (TrainConfig's completionOnlyLoss, assistantOnlyLoss; both default true). */
  loadDataset(method: TrainMethod, text: string, file: string, maxLength: number, loss?: LossOptions): Promise<DatasetSummary>;
  listAdapters(): Promise<AdapterSummary[]>;
  renameAdapter(id: string, name: string): Promise<void>;
  deleteAdapter(id: string, cascade?: boolean): Promise<void>;
  exportAdapter(id: string, options?: ExportOptions): Promise<AdapterFile[]>;
  importAdapter(files: AdapterFile[], name: string, parentId?: string | null): Promise<AdapterSummary>;
  /** The files an export would write, with their exact sizes (the estimate shown before writing). */
  planExport(request: ModelExportRequest): Promise<ExportedFile[]>;
  /**
   * Writes an export as a stream of chunks, one tensor's worth at a time, each awaited before the next: a write that
   * fails (disk full, the user cancels) rejects its promise, and the export stops there with that error. The client
   * presents the files as complete only once this resolves.
   */
  exportModel(request: ModelExportRequest, onChunk: (chunk: ExportChunk) => Promise<void> | void): Promise<ExportedFile[]>;
  train(request: TrainRequest, onEvent: (e: TrainEvent) => void): Promise<TrainResult>;
  pause(): void;
  resume(): void;
  cancel(): void;
  listRuns(): Promise<RunSummary[]>;
  /** Forget an interrupted run: its checkpoints are deleted (its saved adapter, if any, is kept). */
  deleteRun(runId: string): Promise<void>;
  evaluate(request: EvaluateRequest): Promise<EvaluateResult>;
  generate(request: GenerateRequest, onText?: (text: string) => void): Promise<GenerateResult>;
}

// ---- errors --------------------------------------------------------------------------------------------------------

/**
 * The `name` of every error a call can reject with, besides a plain Error (a bug, or a state the message explains).
 * api.test.ts checks each class against this list; the studio's errors.ts must handle every one (the compiler checks).
 */
export const ERROR_NAMES = [
  // kernels (packages/kernels/src/runtime/errors.ts)
  'ShapeError',
  'KernelCompileError',
  'GpuOutOfMemoryError',
  'GpuValidationError',
  'GpuInternalError',
  'DeviceLostError',
  // trainer
  'ModelSourceError',
  'ConfigError',
  'TokenizerError',
  'SafetensorsError',
  'LoraError',
  'DatasetError',
  'ConfigValueError',
  'TrainingError',
  'StorageError',
  'AdapterFilesError',
  'ZipError',
  'LessonError',
  'ExportError',
  // the browser's own, passed through
  'AbortError', // a download cancelled (cancelDownload)
  'QuotaExceededError', // storage full outside the store's own writes
  'DataCloneError', // a value that cannot cross the worker boundary
] as const;

export type ErrorName = (typeof ERROR_NAMES)[number];

export function isErrorName(name: string): name is ErrorName {
  return (ERROR_NAMES as readonly string[]).includes(name);
}
