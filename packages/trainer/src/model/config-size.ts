// A config.json whose sizes no browser GPU can hold is refused from the config alone, before a byte of the checkpoint
// is read, a buffer made or a per-layer list built: a typo'd `num_hidden_layers` or a 70B config is named here, with
// the memory it would need, not met later as an allocation failure or a JavaScript RangeError.
import type { ConfigFields } from './arch/fields.ts';
import type { ModelConfig } from './config.ts';
import { formatBytes } from './source.ts';

/** Weights past this many bytes (in bfloat16, the smallest dtype webtune keeps them in) fit no GPU a browser reaches. */
export const MAX_WEIGHT_BYTES = 64 * 2 ** 30;

type Sizes = Pick<ModelConfig, 'hiddenSize' | 'intermediateSize' | 'numLayers' | 'numHeads' | 'numKvHeads' | 'headDim' | 'vocabSize'>;

/**
 * A lower bound on the parameters: the embedding (once, as if tied) and each layer's attention and MLP matrices.
 * Norms, biases and an untied lm_head only add to it; expectedTensors (config.ts) lists every tensor exactly.
 */
export function leastParameters(s: Sizes): number {
  const q = s.numHeads * s.headDim;
  const kv = s.numKvHeads * s.headDim;
  const layer = s.hiddenSize * (2 * q + 2 * kv) + 3 * s.hiddenSize * s.intermediateSize;
  return s.vocabSize * s.hiddenSize + s.numLayers * layer;
}

export function refuseAbsurdSizes(s: Sizes, f: ConfigFields): void {
  const parameters = leastParameters(s);
  const bytes = 2 * parameters;
  if (bytes <= MAX_WEIGHT_BYTES) return;
  throw f.fail(
    `"hidden_size" ${s.hiddenSize}, "intermediate_size" ${s.intermediateSize}, "num_hidden_layers" ${s.numLayers} and ` +
      `"vocab_size" ${s.vocabSize} make a model of at least ${parameters.toExponential(2)} parameters, whose weights alone ` +
      `need ${formatBytes(bytes)} in bfloat16; webtune fine-tunes models whose weights fit one GPU (at most ${formatBytes(MAX_WEIGHT_BYTES)}). ` +
      'Check these fields, or pick a smaller model.',
  );
}
