// @webtune/trainer: the engine (in a worker) and the types its clients use.

export {
  type AdapterFile,
  type AdapterSummary,
  type Advice,
  type DatasetSummary,
  DEFAULT_MAX_SHARD_BYTES,
  type DeviceInfo,
  ERROR_NAMES,
  type ErrorName,
  type EvaluateRequest,
  type EvaluateResult,
  EXPORT_FORMATS,
  type ExportChunk,
  type ExportDType,
  type ExportedFile,
  type ExportFormat,
  type ExportOptions,
  type GenerateRequest,
  type GenerateResult,
  isErrorName,
  type LoadModelOptions,
  type MemoryRequest,
  type ModelExportRequest,
  type ModelInfo,
  type RunGpuUse,
  type RunSummary,
  type TrainerApi,
  type TrainerHandlers,
  type TrainRequest,
  type TrainResult,
} from './api.ts';
export { callback, createTrainer, type TrainerClient } from './client.ts';
export { dpoStartAdvice, NEAR_IDENTICAL_DISTANCE, SUGGESTED_PAIRS } from './data/advice.ts';
export { countByReason, lineRanges, type Message, reasonSummary } from './data/formats.ts';
export { checkDatasetSize, DatasetEncodingError, decodeDataset, MAX_DATASET_BYTES } from './data/jsonl.ts';
export { convertPreferences, type PreferenceFormat } from './data/preference-formats.ts';
export { sha256Hex } from './hash.ts';
export {
  checksPassed,
  dpoDataWithJudged,
  JUDGE_SAMPLING,
  judgingPrompts,
  type KtoLessonRow,
  ktoConfig,
  ktoLessonRows,
  ktoRowsFromThumbs,
  nextThumbsItem,
  rateAnswer,
  readThumbsFile,
  sampleAnswers,
  scoresFromChecks,
  type Thumb,
  type ThumbsItem,
  type ThumbsSession,
  thumbsFromChecks,
  thumbsItems,
  undoRating,
  writeKtoRows,
} from './lesson/judging.ts';
export {
  answerPrompts,
  type Check,
  type Checks,
  type Lesson,
  type LessonEngine,
  LessonError,
  type LessonMethod,
  type LessonPreset,
  type LessonStage,
  parseChecks,
  parseLesson,
  parsePrompts,
  passRates,
  type ScoredAnswer,
  SMOKE_TEST_PASS_SHARE,
  type SmokeTestFailure,
  type SmokeTestVerdict,
  scoreAnswer,
  smokeTestVerdict,
} from './lesson/lesson.ts';
export {
  ADAPTER_FILES,
  type AdapterComparison,
  adapterTensors,
  compareAdapters,
  lessonInputs,
  parseShipped,
  presetRecipe,
  SHIPPED_MANIFEST,
  SHIPPED_VERSION,
  type Shipped,
  type ShippedReport,
  type ShippedStage,
  SNAPSHOT_RTOL,
  shippedMismatches,
  stageFolder,
} from './lesson/shipped.ts';
export { ConfigError, type ModelConfig, parseModelConfig, SUPPORTED_FAMILIES } from './model/config.ts';
export { checkGeneration, GENERATION_LIMITS } from './model/generation-limits.ts';
export { LORA_TARGETS, type LoraTarget } from './model/lora-config.ts';
export type { DownloadProgress, ModelSource } from './model/source.ts';
export { unusedWeightsWarning } from './model/unused-weights.ts';
export { type KtoBalance, ktoBalance } from './objectives/kto-balance.ts';
export {
  AB_VERDICTS,
  type AbModels,
  type AbRow,
  type AbSummary,
  type AbVerdict,
  blindRow,
  exportAb,
  firstLabel,
  pairsFromAb,
  readVerdicts,
  summariseAb,
  winnerOf,
} from './pairs/ab.ts';
export {
  type CandidateSet,
  candidateSeeds,
  checkCandidateCount,
  MAX_CANDIDATES,
  MIN_CANDIDATES,
  readCandidates,
  type Sampling,
  writeCandidates,
} from './pairs/candidates.ts';
export { PairsError } from './pairs/errors.ts';
export {
  type Comparison,
  comparisons,
  type Decision,
  JUDGEMENTS,
  type JudgedPairs,
  type Judgement,
  type JudgingSession,
  judge,
  judgedPairs,
  nextComparison,
  progress as judgingProgress,
  undo as undoJudgement,
} from './pairs/judging.ts';
export {
  type PairSource,
  type PairsFromScores,
  type PreferencePair,
  pairsFromScores,
  readScores,
  type ScoreRow,
  writePairs,
} from './pairs/pairs.ts';
export { type Prompt, type PromptRow, readPromptsFile } from './pairs/prompts.ts';
export {
  compileCheck,
  describeCheck,
  type SmokeAnswer,
  type SmokeCheck,
  type SmokeCheckVerdict,
  scoreAnswers,
  smokeCheckVerdict,
} from './pairs/smoke-test.ts';
export { degradedAnswer, degradedPairs, type SyntheticPairs, syntheticPairs } from './pairs/synthetic.ts';
export { type Interval, wilsonInterval } from './pairs/wilson.ts';
export { type TieRule, type WinRate, type WinRateSummary, winRates } from './pairs/winrate.ts';
export { unzip, ZipError, zip } from './store/zip.ts';
export {
  choicesFor,
  dataKindOf,
  defaultConfig,
  EVAL_METRICS,
  evalDataProblem,
  evaluatesWhileTraining,
  fromTrlConfig,
  HYPER_PARAMS,
  type HyperParam,
  LOSS_TYPES,
  METHOD_NAMES,
  METHODS,
  paramValue,
  parseDecimal,
  rangeText,
  setFromText,
  type TrainConfig,
  type TrainMethod,
  toTrlConfig,
  totalSteps,
  validateConfig,
} from './train/config.ts';
export type { LogRecord, TrainEvent, TrainPhase } from './train/events.ts';
export { loraStepFlops, type StepShape } from './train/flops.ts';
export type { MemoryEstimate } from './train/memory.ts';
