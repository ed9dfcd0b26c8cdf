// What the trained adapters do: TRL's evaluation metrics on a dataset, and text generated with an adapter applied.
import type { Gpu } from '@webtune/kernels';
import type { EvaluateRequest, EvaluateResult, GenerateRequest, GenerateResult } from '../api.ts';
import { generate as generateIds } from '../model/generate.ts';
import { evaluateDpo, evaluateSft } from '../train/reference.ts';
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
  const batch = request.batchSize ?? EVAL_BATCH;
  if (ds.method === 'sft') {
    const adapters = await shelf.stack(request.adapterId || null, model.config);
    return { ...(await evaluateSft(gpu, model, adapters, ds.data.examples, batch, tokenizer.padTokenId)) };
  }
  const reference = await shelf.stack(request.refAdapterId || null, model.config);
  // The policy is this one adapter on top of the reference (whose chain already holds its parents).
  const policy = request.adapterId ? [await shelf.adapter(request.adapterId, model.config)] : [];
  return evaluateDpo(gpu, model, reference, policy, ds.data.examples, batch, tokenizer.padTokenId, {
    beta: request.beta ?? 0.1,
    lossType: request.lossType ?? 'sigmoid',
    labelSmoothing: request.labelSmoothing ?? 0,
  });
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
