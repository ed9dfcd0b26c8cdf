// Random checkpoints with the shapes of released models, for `pnpm bench --model NAME`: the configs are the models'
// config.json values (scripts/real-shapes/configs.json, shared with make_checkpoint.py), the weights random bf16
// made a tensor at a time as the loader reads them, so the page never holds a second copy of the file (the loader's
// own per-tensor reads are what a real checkpoint costs too).
import { type Gpu, mixSeed, seededRandom } from '@webtune/kernels';
import configs from '../../../scripts/real-shapes/configs.json';
import { type ExportFile, fileBytes } from '../src/export/files.ts';
import { safetensorsFiles, type TensorSource } from '../src/export/safetensors-out.ts';
import { expectedTensors, parseModelConfig } from '../src/model/config.ts';
import { LORA_TARGETS } from '../src/model/lora-config.ts';
import { Model } from '../src/model/model.ts';
import { readSafetensorsHeader, type WeightFile } from '../src/model/weight-file.ts';
import { defaultConfig } from '../src/train/config.ts';
import { loraStepFlops } from '../src/train/flops.ts';
import { ReferenceCache } from '../src/train/reference.ts';
import { gpuFigures, type StepTimes, stepCase, type TrainingBenchRequest, type TrainingBenchRow, timeSteps } from './training.bench.ts';

/** The models `pnpm bench --model` knows, by the name it takes. */
export const REAL_SHAPES: Record<string, Record<string, unknown>> = configs;

/** bf16 bits of a random N(0, ~0.02)-sized matrix entry (uniform, as the synthesized bench model's), or 1 for a norm. */
function bf16Values(name: string, index: number, shape: number[], rows: [number, number]): Uint16Array {
  const row = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : shape[0];
  const out = new Uint16Array((rows[1] - rows[0]) * row);
  if (name.endsWith('norm.weight')) return out.fill(0x3f80); // 1.0
  const f = new Float32Array(1);
  const bits = new Uint32Array(f.buffer);
  for (let r = rows[0]; r < rows[1]; r++) {
    const rand = seededRandom(mixSeed(index, r)); // a function of (tensor, row): any block of rows reads the same values
    for (let j = 0; j < row; j++) {
      f[0] = (rand() - 0.5) * 0.08;
      out[(r - rows[0]) * row + j] = bits[0] >>> 16;
    }
  }
  return out;
}

/** The first chunk a file's writer emits: a safetensors file's header (the writer stops there). */
async function headerOf(file: ExportFile): Promise<Uint8Array> {
  let head: Uint8Array | undefined;
  const enough = new Error('header read');
  await file
    .write({
      write(chunk) {
        head = chunk.slice();
        throw enough;
      },
    })
    .catch((e: unknown) => {
      if (e !== enough) throw e;
    });
  if (!head) throw new Error(`${file.name}: no header written`);
  return head;
}

/**
 * The files of a random bf16 checkpoint of `json`'s shapes (safetensors shards as transformers splits them, and
 * their index), whose tensor bytes are generated when read.
 */
export async function randomCheckpoint(json: Record<string, unknown>): Promise<Map<string, WeightFile>> {
  const config = parseModelConfig(JSON.stringify(json));
  const shapes = [...expectedTensors(config)];
  const indexOf = new Map(shapes.map(([name], i) => [name, i]));
  const source: TensorSource = {
    tensors: shapes.map(([name, shape]) => ({ name, shape })),
    read: () => Promise.reject(new Error('random checkpoints are read through their WeightFile')),
  };
  const out = new Map<string, WeightFile>();
  for (const file of safetensorsFiles(source, 'BF16')) {
    if (!file.name.endsWith('.safetensors')) {
      const bytes = await fileBytes(file); // the index: a few KB of JSON
      out.set(file.name, { size: bytes.length, read: async (begin, end) => bytes.subarray(begin, end) });
      continue;
    }
    const head = await headerOf(file);
    const header = await readSafetensorsHeader(file.name, { size: file.size, read: async (b, e) => head.subarray(b, e) });
    const tensors = [...header.tensors.values()];
    out.set(file.name, {
      size: file.size,
      async read(begin, end) {
        if (end <= head.length) return head.subarray(begin, end);
        const bytes = new Uint8Array(end - begin);
        for (const t of tensors) {
          const [from, to] = [header.dataOffset + t.begin, header.dataOffset + t.end];
          if (to <= begin || from >= end) continue;
          const row = 2 * (t.shape.length > 1 ? t.shape.slice(1).reduce((a, b) => a * b, 1) : t.shape[0]);
          const first = Math.floor((Math.max(begin, from) - from) / row);
          const last = Math.ceil((Math.min(end, to) - from) / row);
          const values = bf16Values(t.name, indexOf.get(t.name) ?? 0, t.shape, [first, last]);
          const block = new Uint8Array(values.buffer);
          const blockStart = from + first * row;
          const lo = Math.max(begin, blockStart);
          const hi = Math.min(end, blockStart + block.length);
          bytes.set(block.subarray(lo - blockStart, hi - blockStart), lo - begin);
        }
        if (begin < head.length) bytes.set(head.subarray(begin), 0);
        return bytes;
      },
    });
  }
  return out;
}

/**
 * SFT and DPO optimizer steps on a random checkpoint of a released model's shape: 2 pairs of 256 tokens (64 with
 * --quick; `batchSize` pairs of `maxLength` when given), LoRA r16 on all seven projections, AdamW (the target
 * case); at least one timed step after a warm-up.
 */
export async function benchRealShape(gpu: Gpu, request: TrainingBenchRequest): Promise<TrainingBenchRow[]> {
  const name = request.model ?? '';
  const json = REAL_SHAPES[name];
  if (!json) throw new Error(`no model shape "${name}"; choose one of ${Object.keys(REAL_SHAPES).join(', ')}`);
  const model = await Model.load(gpu, JSON.stringify(json), await randomCheckpoint(json));
  const c = model.config;
  const P = request.batchSize ?? 2;
  const T = request.maxLength ?? (request.quick ? 64 : 256);
  const lora = { ...defaultConfig('sft').lora, r: 16, alpha: 32, targetModules: [...LORA_TARGETS] };
  const configOf = (method: 'sft' | 'dpo') => ({ ...defaultConfig(method), batchSize: P, maxLength: T, lora });
  const recompute = configOf('sft').gradientCheckpointing; // TRL's default, as a user's run has it
  const { pairs, sft, adapter, grads, matmulsOf } = await stepCase(gpu, model, P, T, lora, recompute);
  const sftMatmuls = () => matmulsOf(P);
  const sftTimes = await timeSteps(gpu, model, { method: 'sft', examples: sft }, configOf('sft'), sftMatmuls, request.budgetMs, 1);
  const reference = new ReferenceCache(gpu, model, [], pairs, 0);
  await reference.of(pairs);
  const dpoTimes = await timeSteps(
    gpu,
    model,
    { method: 'dpo', examples: pairs, reference },
    configOf('dpo'),
    () => matmulsOf(2 * P),
    request.budgetMs,
    1,
  );
  const what = `${name} shape (${(model.parameterCount / 1e6).toFixed(1)}M, random bf16), LoRA r16 on all seven projections, AdamW, activations ${recompute ? 'recomputed' : 'kept'}`;
  const row = (label: string, times: StepTimes, sequences: number): TrainingBenchRow => ({
    case: `${label}: ${what}`,
    msPerStep: times.stepMs,
    tokensPerSecond: (sequences * T) / (times.stepMs / 1000),
    tokensPerStep: sequences * T,
    matmulShare: times.matmulMs / times.stepMs,
    ...gpuFigures(times),
    flopsPerStep: loraStepFlops(c, { sequences, length: T, lora, backward: true, recompute }),
  });
  const out = [
    row(`SFT step, ${P} x ${T} tokens`, sftTimes, P),
    { ...row(`DPO step, ${P} pairs x ${T} tokens, reference cached`, dpoTimes, 2 * P), overSft: dpoTimes.stepMs / sftTimes.stepMs },
  ];
  adapter.destroy(); // the replayed matmuls bind its buffers until here
  grads.buffer.destroy();
  model.destroy();
  return out;
}
