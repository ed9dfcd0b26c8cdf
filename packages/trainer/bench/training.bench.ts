// Training-step throughput on a synthesized Llama of realistic shape: tokens/s of an SFT step
// and of a DPO step over the same sequences (reference log-probs cached, so DPO adds only its
// loss kernels), their step-time ratio, and the share of step time spent in matmuls (the step's
// matmul dispatches replayed alone).
import { type Command, dpoLoss, type Gpu, IGNORE_INDEX, seededRandom } from '@webtune/kernels';
import { expectedTensors, parseModelConfig } from '../src/model/config.ts';
import { LoraAdapter } from '../src/model/lora.ts';
import { Model } from '../src/model/model.ts';
import { writeSafetensors } from '../src/model/safetensors.ts';
import { loraStepFlops } from '../src/train/flops.ts';

export interface TrainingBenchRow {
  case: string;
  msPerStep: number;
  tokensPerSecond: number;
  tokensPerStep: number;
  /** For the DPO row: its step time over the SFT step's. */
  dpoOverSft?: number;
  /** Fraction of the SFT step's time in matmul dispatches. */
  matmulShare?: number;
  /** FLOPs the step's matmuls do (train/flops.ts: LoRA, so no gradients of the frozen weights), for GPU-peak fractions. */
  flopsPerStep: number;
}

export interface TrainingBenchRequest {
  quick: boolean;
  budgetMs: number;
}

declare global {
  interface Window {
    /** Defined by the training bench page; Node calls it and gets the rows. */
    __webtuneTrainingBench(request: TrainingBenchRequest): Promise<TrainingBenchRow[]>;
  }
}

/** HF config of the bench model: a small Llama with GQA (~6M parameters in quick mode). */
function benchConfig(quick: boolean) {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: quick ? 256 : 512,
    intermediate_size: quick ? 704 : 1408,
    num_hidden_layers: 4,
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

function syntheticModel(gpu: Gpu, json: Record<string, unknown>): Model {
  const config = parseModelConfig(json);
  const rand = seededRandom(7);
  const tensors = [...expectedTensors(config)].map(([name, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const norm = name.endsWith('norm.weight');
    return { name, shape, data: Float32Array.from({ length: n }, () => (norm ? 1 : (rand() - 0.5) * 0.08)) };
  });
  return Model.load(gpu, JSON.stringify(json), new Map([['model.safetensors', writeSafetensors(tensors)]]));
}

async function timeCommands(gpu: Gpu, commands: Command[], budgetMs: number): Promise<number> {
  gpu.run(...commands); // warm-up
  await gpu.sync();
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) gpu.run(...commands);
    await gpu.sync();
    const ms = performance.now() - t0;
    if (ms >= budgetMs || reps >= 64) return ms / reps;
    reps = Math.min(64, Math.max(reps * 2, Math.ceil((reps * budgetMs) / Math.max(ms, 1))));
  }
}

export async function benchTraining(gpu: Gpu, request: TrainingBenchRequest): Promise<TrainingBenchRow[]> {
  const json = benchConfig(request.quick);
  const model = syntheticModel(gpu, json);
  const c = model.config;
  const lora = LoraAdapter.create(
    gpu,
    c,
    { r: 16, alpha: 32, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], useRslora: false },
    1,
  );
  const grads = lora.like('grads');
  const P = 4;
  const B = 2 * P; // the same sequences: 8 SFT rows or 4 DPO pairs
  const T = request.quick ? 64 : 128;
  const N = B * T;
  const step = await model.step(B, T, { frozen: [], trainable: { adapter: lora, grads }, train: true });
  const rand = seededRandom(11);
  const ids = Uint32Array.from({ length: N }, () => Math.floor(rand() * c.vocabSize));
  const completionStart = T / 4;
  gpu.write(step.ids, ids);
  gpu.write(
    step.positions,
    Uint32Array.from({ length: N }, (_, i) => i % T),
  );
  const targets = Uint32Array.from({ length: N }, (_, i) => (i % T >= completionStart - 1 && i % T < T - 1 ? ids[i + 1] : IGNORE_INDEX));
  gpu.write(step.targets, targets);
  const counted = targets.filter((t) => t !== IGNORE_INDEX).length;
  gpu.write(
    step.lossWeights,
    Float32Array.from(targets, (t) => (t === IGNORE_INDEX ? 0 : 1 / counted)),
  );

  const sftCommands = [...step.forward, ...step.backward];
  const mask = gpu.upload(
    Float32Array.from(targets, (t) => (t === IGNORE_INDEX ? 0 : 1)),
    [B, T],
    'mask',
  );
  const out = (shape: number[], label: string) => gpu.tensor(shape, label);
  const loss = await dpoLoss(
    gpu,
    {
      logprobs: step.logprobs.view([B, T]),
      mask,
      refLogps: gpu.upload(new Float32Array(B).fill(-50), [B], 'ref'),
      seqLogps: out([B], 'seq'),
      counts: out([B], 'counts'),
      losses: out([P], 'losses'),
      chosenRewards: out([P], 'cr'),
      rejectedRewards: out([P], 'rr'),
      weights: step.lossWeights.view([B, T]),
    },
    { beta: 0.1, lossType: 'sigmoid', labelSmoothing: 0, pairsTotal: P },
  );
  const dpoCommands = [...step.forward, ...loss, ...step.backward];
  const matmuls = sftCommands.filter((cmd) => 'pipeline' in cmd && cmd.pipeline.label.startsWith('matmul'));

  const sftMs = await timeCommands(gpu, sftCommands, request.budgetMs);
  const dpoMs = await timeCommands(gpu, dpoCommands, request.budgetMs);
  const matmulMs = await timeCommands(gpu, matmuls, request.budgetMs);
  const flops = loraStepFlops(c, { sequences: B, length: T, lora: lora.config, backward: true });
  const name = `${(model.parameterCount / 1e6).toFixed(1)}M Llama, ${B} x ${T} tokens, LoRA r16 qkvo`;
  const rows: TrainingBenchRow[] = [
    {
      case: `SFT step: ${name}`,
      msPerStep: sftMs,
      tokensPerSecond: N / (sftMs / 1000),
      tokensPerStep: N,
      matmulShare: matmulMs / sftMs,
      flopsPerStep: flops,
    },
    {
      case: `DPO step: ${P} pairs, same tokens`,
      msPerStep: dpoMs,
      tokensPerSecond: N / (dpoMs / 1000),
      tokensPerStep: N,
      dpoOverSft: dpoMs / sftMs,
      flopsPerStep: flops,
    },
  ];
  model.destroy();
  return rows;
}
