// Checkpoint tensors the model does not use: transformers' from_pretrained loads such a checkpoint and warns "Some
// weights of the model checkpoint at ... were not used when initializing ...", naming them; webtune does the same
// rather than ignore them silently (a checkpoint of another architecture, or a bigger model's file, shows here).
import { expectedTensors, type ModelConfig } from './config.ts';

/**
 * The names no weight of the model takes, sorted, as transformers finds them (modeling_utils.py
 * _find_missing_and_unexpected_keys / _adjust_missing_and_unexpected_keys, huggingface/transformers@040ba146): every
 * name the model's state dict lacks, except the per-layer `rotary_emb.inv_freq` buffers of old checkpoints (dropped by
 * name) and a tied model's `lm_head.weight` (in the state dict, tied to the embedding).
 */
export function unusedTensors(config: ModelConfig, names: Iterable<string>): string[] {
  const used = expectedTensors(config);
  const unused: string[] = [];
  for (const name of names) {
    if (used.has(name) || /rotary_emb\.inv_freq$/.test(name) || (config.tieWordEmbeddings && name === 'lm_head.weight')) continue;
    unused.push(name);
  }
  return unused.sort();
}

/** The load's warning for `unused` (unusedTensors), or null when every tensor is used. Names the first 8. */
export function unusedWeightsWarning(architecture: string, unused: readonly string[]): string | null {
  if (unused.length === 0) return null;
  const shown = unused.slice(0, 8).join(', ') + (unused.length > 8 ? `, and ${unused.length - 8} more` : '');
  return (
    `${unused.length} weight(s) of the checkpoint were not used when initializing ${architecture}: ${shown}. They are ` +
    'left out, as transformers leaves them out; if you expected them to be used, the checkpoint is not the model its config.json describes.'
  );
}
