// Page-side helpers for the GPU tests of the training loop and the engine (src/train/*.gpu.test.ts, src/service.gpu.test.ts):
// a TrainerService used directly in the page (no worker) on the llama-gqa-bf16 fixture, tiny datasets built as
// JSONL text, and bit-level comparisons. The fixture's tokenizer is byte-level BPE with few merges, so a string of
// n characters is about n tokens: prompts and answers of a few characters keep every sequence under max_length 16.
import type { Gpu } from '@webtune/kernels';
import type { TrainRequest, TrainResult } from '../src/api.ts';
import type { TextTokenizer } from '../src/data/tokenizer.ts';
import type { LoraAdapter, LoraConfig } from '../src/model/lora.ts';
import type { Model } from '../src/model/model.ts';
import type { AdapterShelf } from '../src/service/adapters.ts';
import { TrainerService as Service, type TrainerService } from '../src/service.ts';
import { Store } from '../src/store/db.ts';
import { importAdapterFiles } from '../src/store/export.ts';
import { defaultConfig, type TrainConfig, type TrainMethod } from '../src/train/config.ts';
import type { LogRecord, TrainEvent } from '../src/train/events.ts';

export const FIXTURE = 'llama-gqa-bf16';
export const FIXTURE_URL = `/packages/trainer/test/fixtures/${FIXTURE}/`;
export const MAX_LENGTH = 16;

/** What the tests read of the service's private state (its GPU, model and store). */
export interface Internals {
  gpu: Gpu;
  loaded: { model: Model; tokenizer: TextTokenizer; id: string };
  store: Store;
  stack(id: string): Promise<LoraAdapter[]>;
}
export function internals(svc: TrainerService): Internals {
  const s = svc as unknown as Omit<Internals, 'stack'> & { shelf: AdapterShelf };
  return { gpu: s.gpu, loaded: s.loaded, store: s.store, stack: (id) => s.shelf.stack(id, s.loaded.model.config) };
}

/**
 * A service with the fixture model loaded and its own fresh IndexedDB database. `close` deletes the database and
 * destroys the service's GPU device (a TrainerService has no teardown of its own).
 */
export async function openService(): Promise<{ svc: TrainerService; close(): Promise<void> }> {
  const svc = new Service();
  const name = `webtune-test-${crypto.randomUUID()}`;
  await svc.init({}, name);
  await svc.loadModel({ kind: 'url', baseUrl: FIXTURE_URL, id: FIXTURE });
  return {
    svc,
    async close() {
      const { store, gpu } = internals(svc);
      store.close();
      await Store.deleteDatabase(name);
      gpu.destroy();
    },
  };
}

let shared: Promise<{ svc: TrainerService }> | undefined;

/**
 * One service for the whole page run (every test file imports this same module): pipelines compile once per
 * device, which is most of a short run's time on SwiftShader. Tests that change its model must put it back.
 */
export async function service(): Promise<TrainerService> {
  shared ??= openService();
  return (await shared).svc;
}

/** A short, deterministic run: no warmup, constant LR, no dropout, no clipping surprises; override what a test needs. */
export function config(
  method: TrainMethod,
  overrides: Partial<Omit<TrainConfig, 'lora'>> & { lora?: Partial<LoraConfig> } = {},
): TrainConfig {
  const base = defaultConfig(method);
  const { lora, ...rest } = overrides;
  return {
    ...base,
    learningRate: 1e-3,
    maxSteps: 2,
    batchSize: 2,
    gradientAccumulationSteps: 1,
    maxLength: MAX_LENGTH,
    lrSchedulerType: 'constant',
    loggingSteps: 1,
    saveSteps: 0,
    saveMinutes: 0,
    seed: 7,
    ...rest,
    lora: {
      ...base.lora,
      r: 4,
      alpha: 8,
      dropout: 0,
      targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
      ...lora,
    },
  };
}

const WORDS = ['hi', 'sun', 'tea', 'a cat', 'blue', 'sea', 'rain', 'a map', 'fox', 'bread', 'ok', 'moon'];
const ANSWERS = ['yes', 'no', 'maybe', 'sure', 'never', 'why', 'ok', 'later'];

/** `n` SFT rows {"prompt","completion"} of varied lengths (4 to 13 tokens with the EOS). `salt` shifts the words. */
export function sftJsonl(n: number, salt = 0): string {
  const rows: string[] = [];
  for (let i = 0; i < n; i++) {
    const w = WORDS[(i + salt) % WORDS.length];
    const a = ANSWERS[(3 * i + salt) % ANSWERS.length];
    rows.push(JSON.stringify({ prompt: `${w}?`, completion: ` ${a}` }));
  }
  return `${rows.join('\n')}\n`;
}

/** `n` DPO rows {"prompt","chosen","rejected"}; chosen and rejected differ in length. */
export function dpoJsonl(n: number, salt = 0): string {
  const rows: string[] = [];
  for (let i = 0; i < n; i++) {
    const w = WORDS[(i + salt) % WORDS.length];
    rows.push(
      JSON.stringify({
        prompt: `${w}?`,
        chosen: ` ${ANSWERS[(i + salt) % ANSWERS.length]}`,
        rejected: ` ${ANSWERS[(i + salt + 3) % ANSWERS.length]}!`,
      }),
    );
  }
  return `${rows.join('\n')}\n`;
}

/** `n` KTO rows {"prompt","completion","label"}: sftJsonl's rows, every other one undesirable. */
export function ktoJsonl(n: number, salt = 0): string {
  const rows = sftJsonl(n, salt).trim().split('\n');
  return `${rows.map((r, i) => JSON.stringify({ ...JSON.parse(r), label: i % 2 === 0 })).join('\n')}\n`;
}

/** Load a dataset; every row must be kept whole (no rejects, no truncation). */
export async function dataset(svc: TrainerService, method: TrainMethod, text: string, file = `${method}.jsonl`): Promise<string> {
  const summary = await svc.loadDataset(method, text, file, MAX_LENGTH);
  const rows = text.trim().split('\n').length;
  if (summary.kept !== rows || summary.truncated !== 0 || summary.dropped.length > 0 || summary.rejected.length > 0)
    throw new Error(`dataset ${file}: kept ${summary.kept} of ${rows}, truncated ${summary.truncated}: ${JSON.stringify(summary)}`);
  return summary.id;
}

export interface Run {
  result: TrainResult;
  events: TrainEvent[];
  logs: LogRecord[];
}

export async function train(svc: TrainerService, request: TrainRequest, onEvent?: (e: TrainEvent) => void): Promise<Run> {
  const events: TrainEvent[] = [];
  const result = await svc.train(request, (e) => {
    events.push(e);
    onEvent?.(e);
  });
  return { result, events, logs: events.flatMap((e) => (e.type === 'log' ? [e.record] : [])) };
}

/** Train and insist the run completed with an adapter. */
export async function trained(svc: TrainerService, request: TrainRequest): Promise<Run & { id: string }> {
  const run = await train(svc, request);
  if (run.result.status !== 'completed' || !run.result.adapterId)
    throw new Error(`run ${run.result.status}: ${run.result.message} (adapter ${run.result.adapterId})`);
  return { ...run, id: run.result.adapterId };
}

export type Tensors = Map<string, { shape: number[]; data: Float32Array }>;

/** An adapter's PEFT tensors as stored. */
export async function storedTensors(svc: TrainerService, id: string): Promise<Tensors> {
  const rec = await internals(svc).store.getAdapter(id);
  if (!rec) throw new Error(`adapter ${id} is not stored`);
  return new Map(rec.tensors.map((t) => [t.name, { shape: t.shape, data: t.data }]));
}

/** The tensors of an exported PEFT folder (files as exportAdapter returns them). */
export function exportedTensors(files: { name: string; data: Uint8Array }[]) {
  return importAdapterFiles(new Map(files.map((f) => [f.name, f.data])));
}

export function check(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(message);
}

/** Bit-identical float arrays (NaN patterns included), with the first difference named. */
export function sameBits(a: Float32Array, b: Float32Array, label: string): void {
  check(a.length === b.length, `${label}: ${a.length} values vs ${b.length}`);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++)
    if (ua[i] !== ub[i]) throw new Error(`${label}: element ${i} is ${a[i]}, expected ${b[i]} (bit for bit)`);
}

/** Every tensor of `a` bit-identical to `b`'s, and the same names. */
export function sameTensors(a: Tensors, b: Tensors, label: string): void {
  check([...a.keys()].sort().join() === [...b.keys()].sort().join(), `${label}: tensor names differ`);
  for (const [name, t] of a) {
    const u = b.get(name)!;
    check(t.shape.join() === u.shape.join(), `${label} ${name}: shape [${t.shape}] vs [${u.shape}]`);
    sameBits(t.data, u.data, `${label} ${name}`);
  }
}

/** Largest |a - b| and largest |b|. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; scale: number } {
  check(a.length === b.length, `lengths ${a.length} vs ${b.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { diff, scale };
}

/**
 * Logits of each of `seqs` (token ids) under an adapter stack, with the service's model: one batch, right padded
 * (padding changes no real row: reference.gpu.test.ts), so every call is the same few shapes. Row t of a sequence is
 * the V logits predicting its token t+1.
 */
export async function logitsOf(svc: TrainerService, adapters: LoraAdapter[], seqs: number[][]): Promise<Float32Array[]> {
  const { gpu, loaded } = internals(svc);
  const B = seqs.length;
  const T = Math.max(8, Math.ceil(Math.max(...seqs.map((s) => s.length)) / 8) * 8);
  const V = loaded.model.config.vocabSize;
  const ids = new Uint32Array(B * T).fill(loaded.tokenizer.padTokenId);
  const positions = new Uint32Array(B * T);
  for (const [b, s] of seqs.entries()) {
    ids.set(s, b * T);
    for (let t = 0; t < T; t++) positions[b * T + t] = t;
  }
  const step = await loaded.model.step(B, T, { frozen: adapters, train: false });
  gpu.write(step.ids, ids);
  gpu.write(step.positions, positions);
  gpu.write(step.targets, new Uint32Array(B * T).fill(0xffffffff));
  gpu.run(...step.forward);
  // The step keeps one chunk of logit rows (head.ts); these tests use vocabularies small enough for one chunk.
  check(step.logits.shape[0] === B * T, `logitsOf: the step kept ${step.logits.shape[0]} of ${B * T} logit rows`);
  const all = await gpu.read(step.logits);
  return seqs.map((s, b) => all.slice(b * T * V, (b * T + s.length) * V));
}
