// The wire codec round-trips every request and result of the trainer's contract (api.ts) exactly: typed arrays with
// their type, undefined kept apart from null and from a missing key, NaN, the infinities and -0, Errors with their
// names, nesting. What JSON (puppeteer's carrier) would do to it is applied in between.
import {
  type AdapterSummary,
  defaultConfig,
  type ExportChunk,
  type TrainEvent,
  type TrainerApi,
  type TrainerHandlers,
} from '@webtune/trainer';
import { describe, expect, it } from 'vitest';
import { fromWire, toWire, WireError } from './wire.ts';

/** Through the codec and JSON, as a value crosses puppeteer. */
const cross = (value: unknown) => fromWire(JSON.parse(JSON.stringify(toWire(value))));

/** Arguments as they cross: callbacks stay in the page (undefined here). */
type WireArgs<P extends unknown[]> = { [I in keyof P]: P[I] extends (...a: never[]) => unknown ? undefined : P[I] };

/** A method's arguments as they cross, and its result. */
type Sample<K extends keyof TrainerApi> = {
  args: WireArgs<Parameters<TrainerApi[K]>>;
  result: Awaited<ReturnType<TrainerApi[K]>>;
};

const lora: AdapterSummary['lora'] = { r: 4, alpha: 8, dropout: 0.05, targetModules: ['q_proj', 'v_proj'], useRslora: false };
const sft = defaultConfig('sft');
const dpo = defaultConfig('dpo');

/** One sample per method of the contract: the compiler insists on every one. */
const SAMPLES: { [K in keyof TrainerApi]: Sample<K> } = {
  init: {
    args: [undefined, 'webtune'],
    result: { vendor: 'google', architecture: '', description: 'SwiftShader', subgroups: false, maxBufferMB: 256 },
  },
  loadModel: {
    args: [{ kind: 'hub', repo: 'HuggingFaceTB/SmolLM2-135M', revision: undefined, token: 'hf_x' }, { cache: undefined }],
    result: {
      id: 'demo',
      architecture: 'LlamaForCausalLM',
      parameters: 1_234_567,
      layers: 2,
      hidden: 64,
      heads: 4,
      kvHeads: 2,
      vocabSize: 512,
      tokenizerSize: 500,
      hasChatTemplate: true,
      chatTemplateProblem: null,
      unusedWeights: ['model.vision_tower.patch_embed.weight'],
      loraTargets: ['q_proj', 'v_proj'],
      weightBytes: 4_938_268,
    },
  },
  cancelDownload: { args: [], result: undefined },
  modelInfo: {
    args: [],
    result: {
      id: '',
      architecture: 'Qwen2ForCausalLM',
      parameters: 0,
      layers: 0,
      hidden: 0,
      heads: 0,
      kvHeads: 0,
      vocabSize: 0,
      tokenizerSize: 0,
      hasChatTemplate: false,
      chatTemplateProblem: 'm/tokenizer_config.json: the chat template cannot be read (Unexpected token)',
      unusedWeights: [],
      loraTargets: [],
      weightBytes: 0,
    },
  },
  estimateMemory: {
    args: [
      { method: 'dpo', batchSize: 2, maxLength: 128, lora: { r: 8, targetModules: [] }, gradientCheckpointing: true, budgetBytes: 1e9 },
    ],
    result: {
      weights: 1e9,
      activations: 2.5e8,
      adapter: 0,
      other: 0,
      total: 1.25e9,
      problems: ['The run needs about 1.16 GiB, more than the budget'],
    },
  },
  loadDataset: {
    args: ['dpo', '{"prompt":"ünï ✓","chosen":"a","rejected":"b"}\n', 'pairs.jsonl', 64],
    result: {
      id: 'abc',
      method: 'dpo',
      file: 'pairs.jsonl',
      format: 'preference, explicit prompt',
      kept: 1,
      rejected: [{ line: 2, reason: 'row is not a JSON object: got number' }],
      rejectedByReason: { 'row is not a JSON object': 1 },
      truncated: 0,
      dropped: [],
      droppedByReason: {},
      lengths: [7, 9],
      fullLengths: [7, 12],
      promptLengths: [3],
      preview: [{ line: 1, prompt: 'ünï ✓', completion: 'a', rejected: 'b', tokens: 9 }],
      advice: [{ level: 'note', code: 'few-pairs', message: '1 pair.', lines: [] }],
    },
  },
  listAdapters: {
    args: [],
    result: [
      { id: 'a', name: 'SFT', createdAt: 1, baseModel: 'demo', method: 'sft', parentId: null, lora, lastMetrics: null, heldOut: null },
      {
        id: 'b',
        name: 'DPO',
        createdAt: 2,
        baseModel: 'demo',
        method: 'dpo',
        parentId: 'a',
        lora,
        lastMetrics: { loss: Number.NaN, step: 3 },
        heldOut: { file: 'sft.jsonl', lines: [2, 9] },
      },
    ],
  },
  renameAdapter: { args: ['a', 'new name'], result: undefined },
  deleteAdapter: { args: ['a', undefined], result: undefined },
  exportAdapter: {
    args: ['b', { stacked: false }],
    result: [
      { name: 'adapter_model.safetensors', data: new Uint8Array([0, 1, 2, 253, 254, 255]) },
      { name: 'README.md', data: new Uint8Array(0) },
    ],
  },
  importAdapter: {
    args: [[{ name: 'folder/adapter_config.json', data: new TextEncoder().encode('{"r": 4}') }], 'imported', null],
    result: {
      id: 'c',
      name: 'imported',
      createdAt: 3,
      baseModel: 'demo',
      method: 'sft',
      parentId: null,
      lora,
      lastMetrics: null,
      heldOut: null,
    },
  },
  planExport: {
    args: [{ format: 'merged', adapterId: 'b', dtype: 'BF16', maxShardBytes: 2 ** 31, stacked: undefined }],
    result: [
      { name: 'model-00001-of-00002.safetensors', size: 2 ** 31 + 1 },
      { name: 'config.json', size: 0 },
    ],
  },
  exportModel: {
    args: [{ format: 'gguf', adapterId: null, dtype: 'Q8_0' }, undefined],
    result: [{ name: 'model.gguf', size: 123456789 }],
  },
  train: {
    args: [{ config: { ...dpo, maxSteps: -1 }, datasetId: 'abc', parentAdapterId: null, name: undefined, resumeRunId: 'run-1' }, undefined],
    result: {
      status: 'diverged',
      message: 'the loss is NaN at step 2',
      adapterId: null,
      metrics: [
        { step: 1, loss: 0.5, grad_norm: Number.POSITIVE_INFINITY, learning_rate: -0 },
        { step: 2, loss: Number.NaN },
      ],
      runId: 'run-1',
    },
  },
  pause: { args: [], result: undefined },
  resume: { args: [], result: undefined },
  cancel: { args: [], result: undefined },
  listRuns: {
    args: [],
    result: [
      {
        runId: 'run-1',
        step: 30,
        createdAt: 4,
        checkpoints: 2,
        model: 'demo',
        trainingConfig: { learning_rate: 2e-4, model_name_or_path: 'demo', max_steps: -1, warmup_ratio: 0 },
        request: { config: sft, datasetId: 'abc', parentAdapterId: undefined, name: 'run' },
      },
      { runId: 'run-2', step: 1, createdAt: 5, checkpoints: 1, model: '', trainingConfig: {}, request: null },
    ],
  },
  deleteRun: { args: ['run-1'], result: undefined },
  evaluate: {
    args: [{ datasetId: 'abc', adapterId: null, refAdapterId: undefined, beta: 0.1, lossType: 'ipo' }],
    result: { eval_loss: 0.69, 'eval_rewards/margins': -0, 'eval_logps/chosen': Number.NEGATIVE_INFINITY },
  },
  generate: {
    args: [{ prompt: [{ role: 'user', content: 'hi' }], adapterId: null, maxNewTokens: 4, temperature: undefined }, undefined],
    result: { text: '', tokens: 0 },
  },
};

const EVENTS: TrainEvent[] = [
  { type: 'phase', phase: 'reference', message: 'reference log-probs: all cached' },
  { type: 'progress', phase: 'reference', done: 3, total: 8 },
  { type: 'step', step: 1, totalSteps: 10, tokensPerSecond: Number.POSITIVE_INFINITY, etaSeconds: Number.NaN, elapsedSeconds: 0 },
  { type: 'log', record: { step: 1, loss: 2.5, 'rewards/accuracies': 0.5 } },
  { type: 'checkpoint', step: 1 },
];

/** What init's handlers are called with. */
const HANDLER_ARGS: { [K in keyof TrainerHandlers]-?: Parameters<NonNullable<TrainerHandlers[K]>> } = {
  onDeviceLost: ['The GPU device was lost (reset).'],
  onGpuError: ['GpuOutOfMemoryError', 'Out of GPU memory during step 3'],
  onProgress: [{ file: 'model.safetensors', loaded: 10, total: null, cached: false }],
};

describe('the wire codec', () => {
  for (const [method, { args, result }] of Object.entries(SAMPLES)) {
    it(`round-trips ${method}'s arguments and result exactly`, () => {
      expect(cross(args)).toStrictEqual(args);
      expect(cross(result)).toStrictEqual(result);
    });
  }

  it('round-trips every kind of training event, export chunk and init handler argument', () => {
    expect(cross(EVENTS)).toStrictEqual(EVENTS);
    const chunk: ExportChunk = { file: 'model.gguf', data: new Uint8Array([71, 71, 85, 70, 0, 255]).subarray(1) };
    expect(cross(chunk)).toStrictEqual(chunk);
    expect(cross(HANDLER_ARGS)).toStrictEqual(HANDLER_ARGS);
  });

  it('keeps undefined apart from null and from a missing key, at any depth', () => {
    const value = { a: undefined, b: null, list: [undefined, null, 1], deep: { x: [{ y: undefined }] } };
    const back = cross(value) as typeof value;
    expect(back).toStrictEqual(value);
    expect('a' in back && back.a === undefined).toBe(true);
    expect(back.list).toHaveLength(3);
    expect(cross(undefined)).toBeUndefined();
  });

  it('keeps NaN, the infinities and -0', () => {
    const back = cross([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0, 1.5e-300]) as number[];
    expect(back[0]).toBeNaN();
    expect(back.slice(1, 3)).toEqual([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    expect(Object.is(back[3], -0) && Object.is(back[4], 0)).toBe(true);
    expect(back[5]).toBe(1.5e-300);
  });

  it('keeps typed arrays by type and value, views of a larger buffer included', () => {
    const f32 = new Float32Array([1.5, Number.NaN, -0, 3e38]);
    const view = new Uint8Array([9, 9, 1, 2, 3, 9]).subarray(2, 5);
    const all = [
      f32,
      new Float64Array([Math.PI]),
      new Int32Array([-2, 7]),
      new Uint32Array([2 ** 32 - 1]),
      new Uint16Array([65535]),
      new Int8Array([-128]),
      new Int16Array([-1]),
      view,
    ];
    const back = cross(all) as ArrayBufferView[];
    for (const [i, a] of all.entries()) {
      expect(back[i].constructor).toBe(a.constructor);
      expect(back[i]).toStrictEqual(a);
    }
    expect(new Uint32Array((back[0] as Float32Array).buffer)).toStrictEqual(new Uint32Array(f32.buffer)); // NaN's bits
  });

  it('keeps an Error with its name, message and stack, also inside a result', () => {
    const err = Object.assign(new Error('Adapter "x" has 3 tensors: expected 4'), { name: 'AdapterFilesError' });
    const back = cross({ error: err }) as { error: Error };
    expect(back.error).toBeInstanceOf(Error);
    expect([back.error.name, back.error.message, back.error.stack]).toEqual([err.name, err.message, err.stack]);
  });

  it('refuses what cannot cross, naming where it is', () => {
    expect(() => toWire({ files: new Map([['a', 1]]) })).toThrow(WireError);
    expect(() => toWire({ files: new Map() })).toThrow(/value\.files: a Map cannot cross/);
    expect(() => toWire([() => 1])).toThrow(/value\[0\]: a function cannot cross/);
    expect(() => fromWire({ __wire: 'Date', value: '' })).toThrow(/unknown boxed kind "Date"/);
  });
});
