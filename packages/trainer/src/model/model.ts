// A loaded checkpoint: config, weights on the GPU, and the recorded steps built for it so far.
import type { Gpu } from '@webtune/kernels';
import { type ModelConfig, parseModelConfig } from './config.ts';
import { buildStep, type Step, type StepOptions } from './decoder.ts';
import type { LoraAdapter } from './lora.ts';
import { ActivationPool } from './pool.ts';
import { type CheckpointFiles, destroyWeights, type ModelWeights, uploadWeights } from './weights.ts';

const ids = new WeakMap<LoraAdapter, number>();
let nextId = 1;
function adapterId(a: LoraAdapter): number {
  let id = ids.get(a);
  if (id === undefined) {
    id = nextId++;
    ids.set(a, id);
  }
  return id;
}

export class Model {
  readonly pool: ActivationPool;
  private readonly steps = new Map<string, Step>();

  constructor(
    readonly gpu: Gpu,
    readonly config: ModelConfig,
    readonly weights: ModelWeights,
  ) {
    this.pool = new ActivationPool(gpu);
  }

  /** From config.json's text and the checkpoint's safetensors files. */
  static load(gpu: Gpu, configJson: string, files: CheckpointFiles): Model {
    const config = parseModelConfig(configJson);
    return new Model(gpu, config, uploadWeights(gpu, config, files));
  }

  /** The recorded step for B sequences of T tokens with these adapters, built on first use. */
  async step(B: number, T: number, opts: StepOptions): Promise<Step> {
    const key = [
      B,
      T,
      opts.train ? 'train' : 'infer',
      ...opts.frozen.map(adapterId),
      opts.trainable ? `t${adapterId(opts.trainable.adapter)}` : '',
    ].join('|');
    const cached = this.steps.get(key);
    if (cached && cached.poolVersion === this.pool.version) return cached;
    const step = await buildStep(this.gpu, this.config, this.weights, this.pool, B, T, opts);
    if (this.steps.size > 0 && [...this.steps.values()].some((s) => s.poolVersion !== this.pool.version)) {
      // Buffers grew: steps of other shapes are stale; drop them and free what they held.
      for (const [k, s] of this.steps) if (s.poolVersion !== this.pool.version) this.steps.delete(k);
      this.pool.collect();
    }
    this.steps.set(key, step);
    return step;
  }

  /** Forget steps that use an adapter about to be destroyed. */
  forgetSteps(): void {
    this.steps.clear();
  }

  /** Parameters of the base model (what the studio shows and the memory estimate uses). */
  get parameterCount(): number {
    const c = this.config;
    const q = c.numHeads * c.headDim;
    const kv = c.numKvHeads * c.headDim;
    const perLayer = 2 * c.hiddenSize + c.hiddenSize * (q + 2 * kv) + q * c.hiddenSize + 3 * c.hiddenSize * c.intermediateSize;
    const bias = c.attentionBias.qkv ? q + 2 * kv : 0;
    const head = c.tieWordEmbeddings ? 0 : c.vocabSize * c.hiddenSize;
    return c.vocabSize * c.hiddenSize + c.numLayers * (perLayer + bias) + c.hiddenSize + head;
  }

  destroy(): void {
    this.steps.clear();
    this.pool.destroy();
    destroyWeights(this.weights);
  }
}
