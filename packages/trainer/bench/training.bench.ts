// Training-step throughput as training runs it: runTraining's own loop (train/trainer.ts), so a
// step is the recorded forward + loss + backward (KTO's KL rows' forward first), the staged read of its
// sums a step late, the grad-norm reduction and AdamW; each step timed
// from its start to the GPU's end (median, after a warm-up step). On a synthesized Llama of realistic
// shape: tokens/s of every method on the same pairs (SFT learns each pair's chosen answer; DPO, ORPO
// and SimPO the pairs: twice the sequences; KTO the pairs unpaired, as TRL unpairs a DPO file: the
// same 2P sequences as rows, plus a forward of their KL rows), each method's step time over SFT's,
// DPO's against its target, the references computed once beforehand by the run's own caches (one-off
// costs, DPO's its own row), and the share of step time in matmuls (the step's matmul dispatches
// replayed alone between the steps).
import { type BytesByKind, type Command, countsBetween, type Gpu, type GpuCounts, seededRandom } from '@webtune/kernels';
import type { Target } from '../../kernels/bench/rows.ts';
import { median } from '../../kernels/bench/timing.ts';
import { paddedLength } from '../src/data/batch.ts';
import type { DpoExample, Sequence, SftExample } from '../src/data/tokenize.ts';
import { fileBytes } from '../src/export/files.ts';
import { memoryTensors, safetensorsFiles } from '../src/export/safetensors-out.ts';
import { expectedTensors, parseModelConfig } from '../src/model/config.ts';
import { LoraAdapter } from '../src/model/lora.ts';
import type { LoraConfig } from '../src/model/lora-config.ts';
import { Model } from '../src/model/model.ts';
import { bytesWeightFiles } from '../src/model/weight-file.ts';
import { klSequences, unpairDpo } from '../src/objectives/kto.ts';
import { defaultConfig, type TrainConfig } from '../src/train/config.ts';
import { RunControl } from '../src/train/control.ts';
import { loraStepFlops } from '../src/train/flops.ts';
import { KtoReferenceCache } from '../src/train/kto-reference.ts';
import { ReferenceCache } from '../src/train/reference.ts';
import { runTraining, type TrainData } from '../src/train/trainer.ts';

export interface TrainingBenchRow {
  case: string;
  msPerStep: number;
  tokensPerSecond: number;
  tokensPerStep: number;
  /** For the rows of the other methods: their step time over the SFT step's on the same pairs. */
  overSft?: number;
  /** Fraction of the step's time in its matmul dispatches. */
  matmulShare?: number;
  /** Most GPU bytes live at once during a step (the runtime's ledger; the last timed step), and each kind's own peak. */
  peakGpuBytes?: number;
  peakByKind?: BytesByKind;
  /** Dispatches, submits and host reads of one optimizer step (the last timed step). */
  perStep?: GpuCounts;
  /** FLOPs the step's matmuls do (train/flops.ts: LoRA, so no gradients of the frozen weights), for GPU-peak fractions. */
  flopsPerStep: number;
  target?: Target;
}

export interface TrainingBenchRequest {
  quick: boolean;
  budgetMs: number;
  /** A released model's shape (real-shapes.ts REAL_SHAPES) instead of the synthesized Llama: SFT and DPO rows only. */
  model?: string;
  /** With `model`: sequences in the SFT step, pairs in the DPO step (default 2). */
  batchSize?: number;
  /** With `model`: tokens per sequence (default 256, 64 when quick). */
  maxLength?: number;
  /**
   * The dtype the synthesized checkpoint is written in (default BF16, as Hub checkpoints are): BF16 matrices stay
   * packed on the GPU, F32 ones take twice the bytes (what every checkpoint cost before packing).
   */
  weights?: 'BF16' | 'F32';
}

declare global {
  interface Window {
    /** Defined by the training bench page; Node calls it and gets the rows. */
    __webtuneTrainingBench(request: TrainingBenchRequest): Promise<TrainingBenchRow[]>;
  }
}

/** The DPO step on P pairs may take at most this many times the SFT step on their P chosen answers. */
export const DPO_OVER_SFT_TARGET = 2.2;

/** HF config of the bench model: a small Llama with GQA (the case names its parameter count). */
function benchConfig(quick: boolean) {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: quick ? 256 : 512,
    intermediate_size: quick ? 704 : 1408,
    num_hidden_layers: quick ? 2 : 4,
    num_attention_heads: quick ? 4 : 8,
    num_key_value_heads: 2,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    max_position_embeddings: 1024,
    vocab_size: quick ? 2048 : 8192,
    tie_word_embeddings: true,
    hidden_act: 'silu',
  };
}

async function syntheticModel(gpu: Gpu, json: Record<string, unknown>, dtype: 'BF16' | 'F32'): Promise<Model> {
  const config = parseModelConfig(json);
  const rand = seededRandom(7);
  const tensors = [...expectedTensors(config)].map(([name, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const norm = name.endsWith('norm.weight');
    return { name, shape, data: Float32Array.from({ length: n }, () => (norm ? 1 : (rand() - 0.5) * 0.08)) };
  });
  const [file] = safetensorsFiles(memoryTensors(tensors), dtype);
  return Model.load(gpu, JSON.stringify(json), bytesWeightFiles(new Map([['model.safetensors', await fileBytes(file)]])));
}

const PAD = 0;
/**
 * Steps before timing starts. The first builds the recorded step and compiles its pipelines. The second is not timed
 * either: the loop reads a step's results a step late, so the pause that ends it comes only once the third step's
 * micro-batches are queued (the first step is read at once), and its sample would hold two forward and backward passes.
 */
const WARM_STEPS = 2;
/** Timed steps: at least MIN, then until the budget is spent, at most MAX. */
const MIN_STEPS = 3;
const MAX_STEPS = 20;

export interface StepTimes {
  /** Median milliseconds of a real step, from its start to the GPU finishing its AdamW update. */
  stepMs: number;
  /** Median milliseconds of the step's matmul dispatches replayed alone, between the steps. */
  matmulMs: number;
  /** The last timed step's peak GPU bytes, by kind, and its round trips. */
  peakGpuBytes: number;
  peakByKind: BytesByKind;
  perStep: GpuCounts;
}

/**
 * Real optimizer steps of `data` (runTraining, no adapter stack), paused after each: the GPU drains,
 * the step's matmuls are replayed alone and timed, then the next step runs. Interleaving keeps the
 * two timings under the same conditions (SwiftShader shares its CPU cores with everything else).
 * `matmulsOf` records the replayed matmuls after the run's first step, while the run's activation pool is alive:
 * the buffers they bind are the pool's, which a run frees as it ends (Model.releaseSteps), so commands recorded
 * before one run would bind destroyed buffers in the next.
 */
export async function timeSteps(
  gpu: Gpu,
  model: Model,
  data: TrainData,
  config: TrainConfig,
  matmulsOf: () => Promise<Command[]>,
  budgetMs: number,
  minSteps = MIN_STEPS,
): Promise<StepTimes> {
  const control = new RunControl();
  let stepped = () => {};
  const run = runTraining(gpu, model, [], data, { ...config, maxSteps: WARM_STEPS + MAX_STEPS + 1 }, PAD, {
    control,
    onEvent: (e) => {
      if (e.type !== 'step') return;
      control.pause(); // the loop stops at its next micro-batch
      stepped();
    },
  });
  const steps: number[] = [];
  const replays: number[] = [];
  const spent = () => steps.reduce((a, b) => a + b, 0);
  let measured: Pick<StepTimes, 'peakGpuBytes' | 'peakByKind' | 'perStep'> | undefined;
  let matmuls: Command[] | undefined;
  for (let i = 0; i < WARM_STEPS + MAX_STEPS && (steps.length < minSteps || spent() < budgetMs); i++) {
    const done = new Promise<void>((resolve) => {
      stepped = resolve;
    });
    gpu.ledger.resetPeak();
    const counts = gpu.ledger.countsSoFar;
    const t0 = performance.now();
    control.resume();
    await Promise.race([done, run]);
    await gpu.sync();
    const t1 = performance.now();
    const { peakTotal, peak } = gpu.ledger.memory;
    measured = { peakGpuBytes: peakTotal, peakByKind: peak, perStep: countsBetween(counts, gpu.ledger.countsSoFar) };
    matmuls ??= await matmulsOf();
    gpu.run(...matmuls);
    await gpu.sync();
    if (i < WARM_STEPS) continue;
    steps.push(t1 - t0);
    replays.push(performance.now() - t1);
  }
  control.cancel();
  const outcome = await run;
  if (outcome.status !== 'cancelled') throw new Error(`the bench run ended early (${outcome.status}): ${outcome.message}`);
  outcome.adapter.destroy();
  if (!measured) throw new Error('the bench timed no step');
  return { stepMs: median(steps), matmulMs: median(replays), ...measured };
}

export const gpuFigures = ({ peakGpuBytes, peakByKind, perStep }: StepTimes) => ({ peakGpuBytes, peakByKind, perStep });

/** count sequences of T tokens, the last three quarters completion: the chosen answers (0..P-1), then the rejected ones. */
export function sequences(count: number, T: number, vocab: number): Sequence[] {
  const rand = seededRandom(11);
  return Array.from({ length: count }, () => ({
    ids: Array.from({ length: T }, () => 1 + Math.floor(rand() * (vocab - 1))),
    completionStart: Math.floor(T / 4),
  }));
}

/**
 * The bench's data and its steps' matmuls: P pairs of T random tokens (SFT trains on their chosen sides), and
 * `matmulsOf(sequences)`, the matmuls of a step of that many sequences with the timed runs' shape, LoRA config and
 * gradient checkpointing, for timeSteps to record while its run is alive. The replayed matmuls bind the adapter's
 * buffers: destroy `adapter` and `grads` only once the timing is done.
 */
export async function stepCase(gpu: Gpu, model: Model, P: number, T: number, lora: LoraConfig, recompute: boolean) {
  const seqs = sequences(2 * P, T, model.config.vocabSize);
  const pairs: DpoExample[] = seqs.slice(0, P).map((chosen, p) => ({ line: p, chosen, rejected: seqs[P + p] }));
  const sft: SftExample[] = pairs.map(({ line, chosen }) => ({ line, seq: chosen }));
  const adapter = LoraAdapter.create(gpu, model.config, lora, 1);
  const grads = adapter.like('grads');
  const matmulsOf = async (sequences: number) => {
    // The run's batches pad to a multiple of 8 tokens (data/batch.ts): the replay has the shape the run computes.
    const step = await model.step(sequences, paddedLength(T), { frozen: [], trainable: { adapter, grads }, train: true, recompute });
    return [...step.forward, ...step.backward].filter((cmd) => 'pipeline' in cmd && cmd.pipeline.label.startsWith('matmul'));
  };
  return { pairs, sft, adapter, grads, matmulsOf };
}

export async function benchTraining(gpu: Gpu, request: TrainingBenchRequest): Promise<TrainingBenchRow[]> {
  const json = benchConfig(request.quick);
  const weights = request.weights ?? 'BF16';
  const model = await syntheticModel(gpu, json, weights);
  const c = model.config;
  const P = request.quick ? 2 : 4;
  const T = request.quick ? 32 : 128;
  const sftConfig = { ...defaultConfig('sft'), batchSize: P };
  const dpoConfig = { ...defaultConfig('dpo'), batchSize: P };
  const lora = sftConfig.lora;
  const { pairs, sft, adapter, grads, matmulsOf } = await stepCase(gpu, model, P, T, lora, sftConfig.gradientCheckpointing);
  const sftMatmuls = () => matmulsOf(P);
  const pairMatmuls = () => matmulsOf(2 * P);

  const sftTimes = await timeSteps(gpu, model, { method: 'sft', examples: sft }, sftConfig, sftMatmuls, request.budgetMs);
  // The reference log-probs, as a DPO run computes them at its first step: once per dataset, then cached.
  const reference = new ReferenceCache(gpu, model, [], pairs, PAD);
  const t0 = performance.now();
  await reference.of(pairs);
  const referenceMs = performance.now() - t0;
  const dpoTimes = await timeSteps(gpu, model, { method: 'dpo', examples: pairs, reference }, dpoConfig, pairMatmuls, request.budgetMs);
  const orpoTimes = await timeSteps(
    gpu,
    model,
    { method: 'orpo', examples: pairs },
    { ...defaultConfig('orpo'), batchSize: P },
    pairMatmuls,
    request.budgetMs,
  );
  const simpoTimes = await timeSteps(
    gpu,
    model,
    { method: 'simpo', examples: pairs },
    { ...defaultConfig('simpo'), batchSize: P },
    pairMatmuls,
    request.budgetMs,
  );
  // KTO on the 2P answers as rows in one micro-batch, its reference (answers and KL rows) computed beforehand.
  const rows = unpairDpo(pairs);
  const ktoConfig = { ...defaultConfig('kto'), batchSize: 2 * P, maxLength: T };
  const ktoReference = new KtoReferenceCache(gpu, model, [], rows.length, PAD);
  const seqsOfRows = rows.map((r) => r.seq);
  await ktoReference.of(
    rows.map((_, i) => i),
    seqsOfRows,
    klSequences(seqsOfRows, T),
  );
  const ktoTimes = await timeSteps(
    gpu,
    model,
    { method: 'kto', examples: rows, reference: ktoReference },
    ktoConfig,
    pairMatmuls,
    request.budgetMs,
  );

  const flopsOf = (sequences: number) =>
    loraStepFlops(c, { sequences, length: T, lora, backward: true, recompute: sftConfig.gradientCheckpointing });
  const loraName = `LoRA r${lora.r} ${lora.targetModules.map((m) => m[0]).join('')} dropout ${lora.dropout}`;
  const name = `${(model.parameterCount / 1e6).toFixed(1)}M Llama (${weights} weights), ${loraName}, AdamW`;
  const perStep = (ms: number, sequences: number) => ({
    msPerStep: ms,
    tokensPerSecond: (sequences * T) / (ms / 1000),
    tokensPerStep: sequences * T,
  });
  const ratio = dpoTimes.stepMs / sftTimes.stepMs;
  /** A method's row on the pairs: 2P sequences per step (KTO's KL forward counts no tokens: TRL's num_tokens neither). */
  const pairRow = (what: string, times: StepTimes): TrainingBenchRow => ({
    case: what,
    ...perStep(times.stepMs, 2 * P),
    overSft: times.stepMs / sftTimes.stepMs,
    matmulShare: times.matmulMs / times.stepMs,
    ...gpuFigures(times),
    flopsPerStep: flopsOf(2 * P),
  });
  const out: TrainingBenchRow[] = [
    {
      case: `SFT step: ${name}; the ${P} chosen answers x ${T} tokens`,
      ...perStep(sftTimes.stepMs, P),
      matmulShare: sftTimes.matmulMs / sftTimes.stepMs,
      ...gpuFigures(sftTimes),
      flopsPerStep: flopsOf(P),
    },
    {
      ...pairRow(`DPO step: the ${P} pairs (${2 * P} x ${T} tokens), reference cached`, dpoTimes),
      target: { what: 'DPO step time over SFT step time', value: ratio, max: DPO_OVER_SFT_TARGET },
    },
    pairRow(`KTO step: the ${P} pairs unpaired (${2 * P} rows x ${T} tokens, + their KL rows' forward), reference cached`, ktoTimes),
    pairRow(`ORPO step: the ${P} pairs (${2 * P} x ${T} tokens), no reference`, orpoTimes),
    pairRow(`SimPO step: the ${P} pairs (${2 * P} x ${T} tokens), no reference`, simpoTimes),
    {
      case: `DPO reference log-probs, once per dataset: ${P} pairs`,
      ...perStep(referenceMs, 2 * P),
      flopsPerStep: loraStepFlops(c, { sequences: 2 * P, length: T, lora: { r: 0, targetModules: [] }, backward: false }),
    },
  ];
  adapter.destroy();
  grads.buffer.destroy();
  model.destroy();
  return out;
}
