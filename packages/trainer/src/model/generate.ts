// Text generation with a KV cache: one forward over the prompt (prefill), then one token per
// step, sampling greedily or with temperature and nucleus (top-p) from the last row's logits.
import { type Gpu, IGNORE_INDEX, seededRandom, type Tensor } from '@webtune/kernels';
import { buildStep } from './decoder.ts';
import type { LoraAdapter } from './lora.ts';
import type { Model } from './model.ts';

export interface GenerateOptions {
  maxNewTokens: number;
  /** 0 = greedy (argmax); otherwise logits are divided by it before sampling. */
  temperature: number;
  /** Nucleus sampling: keep the smallest set of tokens whose probability reaches top_p. */
  topP: number;
  seed: number;
  /** Token ids that end the answer (the tokenizer's EOS, the config's eos_token_id list). */
  stopIds: number[];
  /** Only ids below this can be produced (the tokenizer's size; checkpoints often have spare rows). */
  vocabLimit: number;
  signal?: AbortSignal;
  onToken?: (id: number) => void;
  /** The logits [V] each new token is drawn from, in order (tests compare them with a full forward pass). */
  onLogits?: (logits: Float32Array) => void;
}

/** Pick the next id from one row of logits. */
export function sampleNext(
  logits: Float32Array,
  o: Pick<GenerateOptions, 'temperature' | 'topP' | 'vocabLimit'>,
  rand: () => number,
): number {
  const n = Math.min(o.vocabLimit, logits.length);
  if (o.temperature <= 0) {
    let best = 0;
    for (let i = 1; i < n; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[i]);
  const probs = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    probs[i] = Math.exp((logits[i] - max) / o.temperature);
    sum += probs[i];
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => probs[b] - probs[a]);
  let kept = 0;
  let mass = 0;
  while (kept < n && (kept === 0 || mass < o.topP * sum)) mass += probs[order[kept++]];
  let r = rand() * mass;
  for (let j = 0; j < kept; j++) {
    r -= probs[order[j]];
    if (r <= 0) return order[j];
  }
  return order[kept - 1];
}

/**
 * Refuses logits that are not all finite numbers: any token drawn from them would be arbitrary (argmax over NaN is
 * token 0, which decodes to a NUL character on byte-level vocabularies).
 */
function checkFinite(logits: Float32Array, vocabLimit: number, produced: number): void {
  const n = Math.min(vocabLimit, logits.length);
  let bad = 0;
  for (let i = 0; i < n; i++) if (!Number.isFinite(logits[i])) bad++;
  if (bad === 0) return;
  throw new Error(
    `Generation stopped at new token ${produced + 1}: ${bad} of the ${n} logits are NaN or infinite, so the model with ` +
      "these adapters computes numbers past float32's range. An adapter whose weights are far larger than training " +
      'gives (a damaged or diverged one) does this; generate without it to check the model.',
  );
}

/** One forward pass over `input`, the tokens at positions pos.. (the prompt, then one new token at a time). */
export type NextLogits = (input: number[], pos: number) => Promise<Float32Array>;

/**
 * The decoding loop, apart from the model: feed the prompt, then each new token, until max_new_tokens, a stop id
 * (not emitted) or the signal. `next` returns the logits [V] that follow its input. Returns the new ids.
 */
export async function decode(promptIds: number[], o: GenerateOptions, next: NextLogits): Promise<number[]> {
  const rand = seededRandom(o.seed);
  const out: number[] = [];
  let input = promptIds;
  let pos = 0;
  for (let produced = 0; produced < o.maxNewTokens; produced++) {
    if (o.signal?.aborted) break;
    const logits = await next(input, pos);
    o.onLogits?.(logits);
    checkFinite(logits, o.vocabLimit, produced);
    const id = sampleNext(logits, o, rand);
    pos += input.length;
    if (o.stopIds.includes(id)) break;
    out.push(id);
    o.onToken?.(id);
    input = [id];
  }
  return out;
}

/** Generate after `promptIds` with `adapters` applied; returns the new ids (without the stop id). */
export async function generate(
  gpu: Gpu,
  model: Model,
  adapters: LoraAdapter[],
  promptIds: number[],
  o: GenerateOptions,
): Promise<number[]> {
  const c = model.config;
  if (promptIds.length === 0) throw new Error('generate: the prompt is empty');
  // Every position fed: the prompt and each new token but the last (rounded up, so few cache shapes occur).
  const capacity = Math.ceil((promptIds.length + o.maxNewTokens) / 64) * 64;
  model.coverPositions(capacity);
  const pool = model.pool;
  const cacheShape = [1, capacity, c.numKvHeads, c.headDim];
  const kv = { k: [] as Tensor[], v: [] as Tensor[], pos: 0, capacity };
  const clear = gpu.record();
  for (let l = 0; l < c.numLayers; l++) {
    kv.k.push(pool.get(`kcache.${l}`, cacheShape));
    kv.v.push(pool.get(`vcache.${l}`, cacheShape));
    clear.clear(kv.k[l]).clear(kv.v[l]);
  }
  clear.submit();
  return decode(promptIds, o, async (input, pos) => {
    const T = input.length;
    const step = await buildStep(gpu, c, model.weights, pool, 1, T, { frozen: adapters, train: false, kv: { ...kv, pos } });
    gpu.write(step.ids, Uint32Array.from(input));
    gpu.write(
      step.positions,
      Uint32Array.from(input, (_, i) => pos + i),
    );
    gpu.write(step.targets, new Uint32Array(T).fill(IGNORE_INDEX));
    // The step computes the last position's logits only ([1, V]).
    gpu.run(...step.forward);
    return gpu.read(step.logits);
  });
}
