// What the trained adapters do: TRL's evaluation metrics on a dataset (each method's), and text generated with an
// adapter applied.

import type { Gpu } from '@webtune/kernels';
import type { EvaluateRequest, EvaluateResult, GenerateRequest, GenerateResult } from '../api.ts';
import { generate as generateIds } from '../model/generate.ts';
import { checkGeneration, GENERATION_LIMITS } from '../model/generation-limits.ts';
import { defaultConfig, type TrainConfig, validateConfig } from '../train/config.ts';
import { type EvalRows, evaluateRows } from '../train/evaluate.ts';
import { TrainingError } from '../train/trainer.ts';
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
    const rows = { method: 'sft', examples: ds.data.examples } as const;
    return finite(await evaluateRows({ gpu, model, padId, reference: [], policy: adapters }, rows, config), adapters.length > 0);
  }
  // The policy is this one adapter on top of the reference (whose chain already holds its parents).
  const reference = await shelf.stack(request.refAdapterId || null, model.config);
  const policy = request.adapterId ? [await shelf.adapter(request.adapterId, model.config)] : [];
  const rows = { method: ds.method, examples: ds.data.examples } as EvalRows;
  return finite(await evaluateRows({ gpu, model, padId, reference, policy }, rows, config), reference.length + policy.length > 0);
}

/**
 * The metrics, refused when one is not a finite number: handed back, a NaN would read as null in JSON (an evaluation
 * that "passed" with no result). The weights are finite (checked at load), so the forward overflowed float32.
 */
function finite(metrics: EvaluateResult, withAdapters: boolean): EvaluateResult {
  const bad = Object.entries(metrics).filter(([, x]) => !Number.isFinite(x));
  if (bad.length === 0) return metrics;
  const what = withAdapters ? 'the model with these adapters' : 'the model';
  throw new TrainingError(
    `The evaluation gave ${bad.map(([k, x]) => `${k} ${x}`).join(', ')}: ${what} computes numbers past float32's range on these rows. ` +
      `${withAdapters ? 'An adapter whose weights are far larger than training gives (a damaged or diverged one) does this; evaluate without it to check the model. ' : ''}Nothing is reported.`,
  );
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
  checkGeneration(request);
  const adapters = await shelf.stack(request.adapterId, model.config);
  const promptText =
    typeof request.prompt === 'string' ? request.prompt : tokenizer.applyChatTemplate(request.prompt, { addGenerationPrompt: true });
  const ids: number[] = [];
  await generateIds(gpu, model, adapters, tokenizer.encode(promptText), {
    maxNewTokens: request.maxNewTokens ?? GENERATION_LIMITS.maxNewTokens.default,
    temperature: request.temperature ?? GENERATION_LIMITS.temperature.default,
    topP: request.topP ?? GENERATION_LIMITS.topP.default,
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
