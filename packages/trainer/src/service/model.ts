// The loaded model: its weights on the GPU, its tokenizer, its id and the fingerprint of its files, and what the
// client is told about it.
import type { Gpu } from '@webtune/kernels';
import type { LoadModelOptions, ModelInfo } from '../api.ts';
import { TextTokenizer } from '../data/tokenizer.ts';
import { parseModelConfig } from '../model/config.ts';
import { modelFingerprint } from '../model/fingerprint.ts';
import { LORA_TARGETS } from '../model/lora-config.ts';
import { Model } from '../model/model.ts';
import {
  type DownloadProgress,
  describeSource,
  fetchModelFiles,
  type ModelFiles,
  type ModelSource,
  sourceFolder,
} from '../model/source.ts';

export interface LoadedModel {
  model: Model;
  tokenizer: TextTokenizer;
  id: string;
  /** A hash of the checkpoint's files (model/fingerprint.ts): what the DPO reference cache is keyed on, not the id. */
  fingerprint: string;
  /** Where it came from, and whether downloads are cached: an export reads the checkpoint's files again from there. */
  source: ModelSource;
  cache: boolean;
}

/**
 * Fetches, checks and uploads a model. `options.cache`: keep downloads in Cache Storage (default: only for the Hub;
 * a local folder or the embedded demo is read fresh, so edits to it are never hidden by a stale copy).
 */
export async function loadModel(
  gpu: Gpu,
  source: ModelSource,
  options: LoadModelOptions,
  signal: AbortSignal,
  onProgress?: (p: DownloadProgress) => void,
): Promise<LoadedModel> {
  const cache = options.cache ?? source.kind === 'hub';
  const files = await fetchModelFiles(source, { onProgress, signal, cache });
  const folder = sourceFolder(source);
  // The config first, named by its folder (the CLI shows the user's path): an absurd size is refused before anything else.
  const { vocabSize } = parseModelConfig(files.config, `${folder}/config.json`);
  const tokenizer = tokenizerOf(files, folder);
  tokenizer.checkFits(vocabSize, `${folder}/config.json`);
  // Hashed while the weights upload (crypto.subtle works off the main thread).
  const hashing = modelFingerprint(files);
  hashing.catch(() => {}); // awaited below; a failed load must not leave it unhandled
  const model = await gpu.checked(`loading ${describeSource(source)}`, () => Model.load(gpu, files.config, files.safetensors));
  try {
    return { model, tokenizer, id: files.id, fingerprint: await hashing, source, cache };
  } catch (err) {
    model.destroy();
    throw err;
  }
}

/** The checkpoint's tokenizer, its messages naming `folder`'s files (the chat template's own: tokenizer_config.json or chat_template.jinja). */
export function tokenizerOf(files: ModelFiles, folder: string): TextTokenizer {
  return TextTokenizer.fromJson(JSON.parse(files.tokenizerJson), JSON.parse(files.tokenizerConfig), folder, files.chatTemplateFile);
}

export function modelInfo({ model, tokenizer, id }: LoadedModel): ModelInfo {
  const c = model.config;
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
    chatTemplateProblem: tokenizer.chatTemplateProblem,
    unusedWeights: model.weights.unused,
    // Every architecture webtune trains has all seven projections (lora-config.ts); none adds or lacks one.
    loraTargets: [...LORA_TARGETS],
    weightBytes: model.weightBytes,
  };
}
