// A loaded checkpoint: config, weights on the GPU, and the recorded steps built for it so far.
import type { Gpu } from '@webtune/kernels';
import { type ModelConfig, parseModelConfig } from './config.ts';
import { buildStep, compileStep, type Step, type StepOptions } from './decoder.ts';
import type { LoraAdapter } from './lora.ts';
import { ActivationPool, type PoolRequest } from './pool.ts';
import { allTensors, type CheckpointFiles, destroyWeights, type ModelWeights, ropeTensors, uploadRope, uploadWeights } from './weights.ts';

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
  /** The steps whose pipelines are compiled (compile), with the pool buffers each asks for. */
  private readonly compiled = new Map<string, PoolRequest>();

  constructor(
    readonly gpu: Gpu,
    readonly config: ModelConfig,
    readonly weights: ModelWeights,
  ) {
    this.pool = new ActivationPool(gpu);
  }

  /** From config.json's text and the checkpoint's safetensors files, read and uploaded one tensor at a time. */
  static async load(gpu: Gpu, configJson: string, files: CheckpointFiles): Promise<Model> {
    const config = parseModelConfig(configJson);
    return new Model(gpu, config, await uploadWeights(gpu, config, files));
  }

  /**
   * The recorded step for B sequences of T tokens with these adapters, built on first use: its pipelines compiled first
   * (compile), then the pool buffers it asks for made at once (ActivationPool.reserve), then recorded and bound.
   */
  async step(B: number, T: number, opts: StepOptions): Promise<Step> {
    this.coverPositions(opts.kv ? opts.kv.capacity : T);
    const key = this.stepKey(B, T, opts);
    const cached = this.steps.get(key);
    if (cached && cached.poolVersion === this.pool.version) return cached;
    this.pool.reserve(await this.compile(B, T, opts));
    const step = await buildStep(this.gpu, this.config, this.weights, this.pool, B, T, opts);
    if (this.steps.size > 0 && [...this.steps.values()].some((s) => s.poolVersion !== this.pool.version)) {
      // Buffers grew: steps of other shapes are stale; drop them and free what they held.
      for (const [k, s] of this.steps) if (s.poolVersion !== this.pool.version) this.steps.delete(k);
      this.pool.collect();
    }
    this.steps.set(key, step);
    return step;
  }

  /**
   * Compile the pipelines of step(B, T, opts) and allocate nothing for it; returns the pool buffers it asks for. A
   * compiler's working memory (SwiftShader's: up to ~350 MB for one matmul at SmolLM2-135M's shapes) then comes before
   * the step's buffers exist, not beside them; DPO compiles its training step before its reference pass for the same
   * reason. Pipelines are cached on the device, so the build after it compiles nothing, and a step compiled once is not
   * recorded for compiling again.
   */
  async compile(B: number, T: number, opts: StepOptions): Promise<PoolRequest> {
    this.coverPositions(opts.kv ? opts.kv.capacity : T);
    const key = `${this.stepKey(B, T, opts)}|${opts.kv?.capacity ?? ''}`; // the cache's length shapes attention's kernels
    let request = this.compiled.get(key);
    if (!request) {
      request = await compileStep(this.gpu, this.config, this.weights, B, T, opts);
      this.compiled.set(key, request);
    }
    return request;
  }

  private stepKey(B: number, T: number, opts: StepOptions): string {
    return [
      B,
      T,
      opts.train ? (opts.recompute ? 'train-recompute' : 'train') : opts.drawDropout ? 'infer-dropout' : 'infer',
      ...opts.frozen.map(adapterId),
      opts.trainable ? `t${adapterId(opts.trainable.adapter)}` : '',
      opts.logitsChunkRows ?? '',
    ].join('|');
  }

  /**
   * Make the RoPE tables cover positions 0..n-1. Transformers computes cos/sin for whatever positions it is given
   * (default, linear and llama3 RoPE have no length limit; only the model's training does), so a sequence longer than
   * max_position_embeddings is rotated as there, never left unrotated. New tables are new buffers: the recorded steps
   * bound to the old ones are dropped. Grows in steps of 1024 positions so that lengths creeping up rebuild rarely.
   */
  coverPositions(n: number): void {
    if (n <= this.weights.ropePositions) return;
    const grown = uploadRope(this.gpu, this.config, Math.ceil(n / 1024) * 1024);
    for (const t of ropeTensors(this.weights)) t.buffer.destroy();
    Object.assign(this.weights, grown);
    this.steps.clear();
  }

  /**
   * Drop every recorded step and free the activation pool. A training run does this as it ends, whichever way
   * (trainer.ts): its steps are bound to the gradients it frees, and its activations are the largest buffers it made,
   * so they do not stay beside the adapter being saved or whatever runs next. What runs next builds its steps again,
   * compiling nothing (pipelines are cached on the device). The compile records go too: their keys name adapters
   * (by id) that a finished run frees, so in a long studio session they would only pile up.
   */
  releaseSteps(): void {
    this.steps.clear();
    this.compiled.clear();
    this.pool.destroy();
  }

  /** Parameters of the base model (what the studio shows and the memory estimate uses). */
  get parameterCount(): number {
    const c = this.config;
    const q = c.numHeads * c.headDim;
    const kv = c.numKvHeads * c.headDim;
    const perLayer = 2 * c.hiddenSize + c.hiddenSize * (q + 2 * kv) + q * c.hiddenSize + 3 * c.hiddenSize * c.intermediateSize;
    const qkNorm = c.qkNorm ? 2 * c.headDim : 0;
    const sandwich = c.sandwichNorms ? 2 * c.hiddenSize : 0; // pre/post feedforward norms
    const bias = (c.attentionBias.qkv ? q + 2 * kv : 0) + (c.attentionBias.o ? c.hiddenSize : 0) + qkNorm + sandwich;
    const head = c.tieWordEmbeddings ? 0 : c.vocabSize * c.hiddenSize;
    return c.vocabSize * c.hiddenSize + c.numLayers * (perLayer + bias) + c.hiddenSize + head;
  }

  /** GPU bytes of the checkpoint's tensors as held: bf16/f16 matrices packed two to a word, the rest float32. */
  get weightBytes(): number {
    const rope = new Set(ropeTensors(this.weights));
    return allTensors(this.weights).reduce((n, t) => (rope.has(t) ? n : n + t.byteLength), 0);
  }

  destroy(): void {
    this.releaseSteps();
    destroyWeights(this.weights);
  }
}
