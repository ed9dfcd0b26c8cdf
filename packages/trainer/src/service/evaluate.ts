// What the trained adapters do: TRL's evaluation metrics on a dataset (each method's), and text generated with an
// adapter applied.
import type { Gpu } from '@webtune/kernels';
import type { EvaluateRequest, EvaluateResult, GenerateRequest, GenerateResult } from '../api.ts';
import { generate as generateIds } from '../model/generate.ts';
import { defaultConfig, type TrainConfig, validateConfig } from '../train/config.ts';
import { type EvalRows, evaluateRows } from '../train/evaluate.ts';
import type { AdapterShelf } from './adapters.ts';
import type { PreparedDataset } from './datasets.ts';
import type { LoadedModel } from './model.ts';

/** Micro-batch size of an evaluation when the request names none. */
const EVAL_BATCH = 8;

export async function evaluate(
  gpu: Gpu,
  { model, tokenizer }: LoadedModel,
  shelf: AdapterShelf,
  ds: PreparedDataset,
  request: EvaluateRequest,
): Promise<EvaluateResult> {
  const padId = tokenizer.padTokenId;
  const config = evaluationConfig(ds, request);
  if (ds.method === 'sft') {
    const adapters = await shelf.stack(request.adapterId || null, model.config);
    return evaluateRows({ gpu, model, padId, reference: [], policy: adapters }, { method: 'sft', examples: ds.data.examples }, config);
  }
  // The policy is this one adapter on top of the reference (whose chain already holds its parents).
  const reference = await shelf.stack(request.refAdapterId || null, model.config);
  const policy = request.adapterId ? [await shelf.adapter(request.adapterId, model.config)] : [];
  const rows = { method: ds.method, examples: ds.data.examples } as EvalRows;
  return evaluateRows({ gpu, model, padId, reference, policy }, rows, config);
}

/** The method's defaults, the request's settings over them, and the dataset's max_length; checked as a run's are. */
function evaluationConfig(ds: PreparedDataset, r: EvaluateRequest): TrainConfig {
  const given = {
    beta: r.beta,
    lossType: r.lossType,
    labelSmoothing: r.labelSmoothing,
    desirableWeight: r.desirableWeight,
    undesirableWeight: r.undesirableWeight,
    simpoGamma: r.simpoGamma,
    cpoAlpha: r.cpoAlpha,
    batchSize: r.batchSize ?? EVAL_BATCH,
  };
  const config: TrainConfig = { ...defaultConfig(ds.method), maxLength: ds.maxLength };
  for (const [k, v] of Object.entries(given)) if (v !== undefined) (config as unknown as Record<string, unknown>)[k] = v;
  validateConfig(config);
  return config;
}

export async function generate(
  gpu: Gpu,
  { model, tokenizer }: LoadedModel,
  shelf: AdapterShelf,
  request: GenerateRequest,
  onText?: (text: string) => void,
): Promise<GenerateResult> {
  const adapters = await shelf.stack(request.adapterId, model.config);
  const promptText =
    typeof request.prompt === 'string' ? request.prompt : tokenizer.applyChatTemplate(request.prompt, { addGenerationPrompt: true });
  const ids: number[] = [];
  await generateIds(gpu, model, adapters, tokenizer.encode(promptText), {
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
