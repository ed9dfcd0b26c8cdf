// Invariants of the training loop (DESIGN.md, "How we test"), each run through the engine (TrainerService in the
// page, no worker) on the llama-gqa-bf16 fixture with tiny datasets: DPO starts at ln 2; batch 4 x accumulation 1
// equals batch 1 x accumulation 4; LoRA never writes the base weights; every trainable parameter moves; a run is a
// function of its seed; a non-finite loss stops the run and keeps the last good adapter.
import { gpuTest } from '@webtune/harness/page';
import {
  check,
  config,
  dataset,
  dpoJsonl,
  internals,
  maxDiff,
  type Run,
  sameBits,
  sameTensors,
  service,
  sftJsonl,
  storedTensors,
  type Tensors,
  train,
  trained,
} from '../../test/engine.ts';
import { readSftDataset } from '../data/formats.ts';
import { prepareSft } from '../data/tokenize.ts';
import type { Step } from '../model/decoder.ts';
import { LoraAdapter } from '../model/lora.ts';
import { allTensors } from '../model/weights.ts';
import type { TrainerService } from '../service.ts';
import { RunControl } from './control.ts';
import { type RunState, runTraining } from './trainer.ts';

const LN2 = Math.log(2);

/** Throws, naming the entry, unless `ok` holds for every entry of `data`. */
function each(data: Float32Array, ok: (x: number, j: number) => boolean, what: (x: number, j: number) => string): void {
  for (let j = 0; j < data.length; j++) if (!ok(data[j], j)) throw new Error(what(data[j], j));
}

/** The adapter a run starts from (same seed, same config): Kaiming-uniform A, zero B. */
async function initialTensors(svc: TrainerService, cfg: ReturnType<typeof config>): Promise<Tensors> {
  const { gpu, loaded } = internals(svc);
  const a = LoraAdapter.create(gpu, loaded.model.config, cfg.lora, cfg.seed);
  const peft = await a.toPeft();
  a.destroy();
  return peft;
}

gpuTest('DPO: the first logged loss is ln 2 and every reward 0 (policy == reference), also on top of an SFT adapter', async () => {
  const svc = await service();
  const dpo = await dataset(svc, 'dpo', dpoJsonl(4, 1));
  const sft = await trained(svc, { config: config('sft', { learningRate: 1e-2 }), datasetId: await dataset(svc, 'sft', sftJsonl(4, 1)) });
  for (const parentAdapterId of [null, sft.id]) {
    for (const [lossType, labelSmoothing, want] of [
      ['sigmoid', 0, LN2],
      ['ipo', 0, (1 / (2 * 0.1)) ** 2],
      ['hinge', 0, 1],
    ] as const) {
      const cfg = config('dpo', { maxSteps: 1, batchSize: 2, gradientAccumulationSteps: 2, beta: 0.1, lossType, labelSmoothing });
      const { logs } = await train(svc, { config: cfg, datasetId: dpo, parentAdapterId });
      const first = logs[0];
      const what = `${lossType} ls=${labelSmoothing}${parentAdapterId ? ' on SFT' : ''}`;
      // float32 math: ln 2 rounds to 0.69314718246 (1.9e-9 off); the kernel's log-sigmoid is within a few ulps.
      check(Math.abs(first.loss - want) <= 1e-6 * want, `${what}: first loss ${first.loss}, expected ${want}`);
      for (const k of ['rewards/chosen', 'rewards/rejected', 'rewards/margins'])
        check(first[k] === 0, `${what}: ${k} ${first[k]} at step 1, expected exactly 0 (policy == reference)`);
      check(first['rewards/accuracies'] === 0, `${what}: accuracies ${first['rewards/accuracies']} (ties are not wins)`);
    }
  }
});

/**
 * Gradient accumulation must give the update of the big batch. AdamW's first step is nearly sign(g)·lr, blind to a
 * wrongly scaled gradient, so epsilon is 1 (the update is then ~lr·g for small g) and clipping is off; the logged
 * loss and grad_norm are compared as well. Two optimizer steps: the second also moves A (B is zero before step 1).
 */
gpuTest('batch 4 x accumulation 1 equals batch 1 x accumulation 4: SFT, DPO, ORPO, SimPO', async () => {
  const svc = await service();
  const report: string[] = [];
  // ORPO's NLL and SimPO's are normalised by the window's chosen tokens, the pair terms by its pairs. (Not KTO: its KL
  // rows pair each row with its micro-batch neighbour, so the batch size changes what it computes, as in TRL.)
  for (const method of ['sft', 'dpo', 'orpo', 'simpo'] as const) {
    const data = await dataset(svc, method, method === 'sft' ? sftJsonl(8, 2) : dpoJsonl(8, 2));
    // SimPO with CPO's NLL term on, so that its normalisation counts too.
    const common = { maxSteps: 2, learningRate: 0.1, adamEpsilon: 1, maxGradNorm: 0, ...(method === 'simpo' ? { cpoAlpha: 0.5 } : {}) };
    const big = await trained(svc, { config: config(method, { ...common, batchSize: 4, gradientAccumulationSteps: 1 }), datasetId: data });
    const small = await trained(svc, {
      config: config(method, { ...common, batchSize: 1, gradientAccumulationSteps: 4 }),
      datasetId: data,
    });
    check(big.logs.length === 2 && small.logs.length === 2, `${method}: ${big.logs.length} and ${small.logs.length} log records`);
    for (const [i, b] of big.logs.entries()) {
      const s = small.logs[i];
      for (const k of Object.keys(b)) {
        const tol = k === 'num_tokens' || k === 'step' || k === 'epoch' || k === 'learning_rate' ? 0 : 2e-5 * Math.max(1, Math.abs(b[k]));
        check(Math.abs(b[k] - s[k]) <= tol, `${method} step ${b.step} ${k}: batch 4 gives ${b[k]}, batch 1 x 4 gives ${s[k]}`);
      }
    }
    const a = await storedTensors(svc, big.id);
    const b = await storedTensors(svc, small.id);
    const init = await initialTensors(svc, config(method, common));
    let worst = 0;
    let moved = 0;
    for (const [name, t] of a) {
      const { diff } = maxDiff(t.data, b.get(name)!.data);
      worst = Math.max(worst, diff);
      moved = Math.max(moved, maxDiff(t.data, init.get(name)!.data).diff);
      // Float32 sums of the same terms in another order: ~1e-7 relative differences in the gradient.
      check(diff <= 1e-6, `${method} ${name}: batch 4 and batch 1 x 4 differ by ${diff} after 2 steps`);
    }
    // The adapters moved by ~lr·g; a wrongly weighted micro-batch would move them by a different amount.
    check(moved > 1e-3 && worst <= 1e-4 * moved, `${method}: adapters differ by ${worst} after moving ${moved}`);
    report.push(`${method}: max |diff| ${worst.toExponential(2)} after moving ${moved.toExponential(2)}`);
  }
  console.log(`batch 4 x 1 vs 1 x 4: ${report.join(', ')}`);
});

gpuTest('LoRA leaves every base weight bit-identical (SFT, DPO on top of it, evaluation and generation)', async () => {
  const svc = await service();
  const { gpu, loaded } = internals(svc);
  const tensors = allTensors(loaded.model.weights);
  // Raw words: bf16/f16 matrices stay packed on the GPU (two to a word) and read back only as such.
  const bits = async (t: (typeof tensors)[number]) => {
    const words = await gpu.read(t, 'u32');
    return new Float32Array(words.buffer, words.byteOffset, words.length);
  };
  const before = await Promise.all(tensors.map(bits));
  const sft = await trained(svc, { config: config('sft', { learningRate: 1e-2 }), datasetId: await dataset(svc, 'sft', sftJsonl(4, 3)) });
  const dpoData = await dataset(svc, 'dpo', dpoJsonl(4, 3));
  const dpo = await trained(svc, { config: config('dpo', { learningRate: 1e-2 }), datasetId: dpoData, parentAdapterId: sft.id });
  await svc.evaluate({ datasetId: dpoData, adapterId: dpo.id, refAdapterId: sft.id });
  await svc.generate({ prompt: 'sun?', adapterId: dpo.id, maxNewTokens: 4 });
  const after = await Promise.all(tensors.map(bits));
  for (const [i, t] of tensors.entries()) sameBits(after[i], before[i], `base weight ${t.label} (words)`);
  check(tensors.length === 2 * 9 + 5, `read ${tensors.length} base tensors`); // 2 layers x 9, embed, norm, lm_head, rope cos/sin
});

/**
 * Every A and B entry must move. PEFT starts B at zero, so the first step's gradient of A, (dy·B)ᵀ·x, is exactly
 * zero: with no weight decay AdamW leaves A bit-identical after step 1 and only B moves (every entry of it). From
 * step 2 on B is nonzero and A moves too.
 */
gpuTest('every trainable parameter moves: B at step 1 (A has zero gradient while B = 0), every A and B entry by step 2', async () => {
  const svc = await service();
  const sftData = await dataset(svc, 'sft', sftJsonl(8, 4));
  const cfg = (steps: number) => config('sft', { maxSteps: steps, batchSize: 4, lora: { dropout: 0.05 } });
  const init = await initialTensors(svc, cfg(1));
  const one = await storedTensors(svc, (await trained(svc, { config: cfg(1), datasetId: sftData })).id);
  for (const [name, t] of one) {
    const i = init.get(name)!.data;
    if (name.includes('lora_A')) sameBits(t.data, i, `${name} after step 1 (B was zero, so A's gradient is zero)`);
    else
      each(
        t.data,
        (x) => x !== 0,
        (_, j) => `${name}[${j}] is still 0 after step 1`,
      );
  }
  const sft = await trained(svc, { config: cfg(2), datasetId: sftData });
  const two = await storedTensors(svc, sft.id);
  check(two.size === 2 * 7 * 2, `${two.size} tensors for 7 targets x 2 layers`);
  for (const [name, t] of two) {
    const i = init.get(name)!.data;
    each(
      t.data,
      (x, j) => x !== i[j],
      (x, j) => `${name}[${j}] = ${x} did not move in 2 steps`,
    );
  }
  // DPO on top of the SFT adapter: every entry of the new adapter moves, the frozen SFT adapter none.
  const dcfg = config('dpo', {
    maxSteps: 2,
    batchSize: 2,
    seed: 11,
    lora: { r: 2, alpha: 4, targetModules: ['q_proj', 'v_proj', 'down_proj'] },
  });
  const dinit = await initialTensors(svc, dcfg);
  const dpo = await trained(svc, { config: dcfg, datasetId: await dataset(svc, 'dpo', dpoJsonl(4, 4)), parentAdapterId: sft.id });
  for (const [name, t] of await storedTensors(svc, dpo.id)) {
    const i = dinit.get(name)!.data;
    each(
      t.data,
      (x, j) => x !== i[j],
      (x, j) => `DPO ${name}[${j}] = ${x} did not move in 2 steps`,
    );
  }
  sameTensors(await storedTensors(svc, sft.id), two, 'the frozen SFT adapter after DPO on top of it');
});

gpuTest('seeded and repeatable: the same seed gives bit-identical adapters and logs, another seed does not', async () => {
  const svc = await service();
  const data = await dataset(svc, 'sft', sftJsonl(8, 5));
  // Dropout on, accumulation on, an epoch boundary crossed (8 rows, 2 x 2 per step: 2 steps per epoch).
  const cfg = (seed: number) => config('sft', { seed, maxSteps: 3, batchSize: 2, gradientAccumulationSteps: 2, lora: { dropout: 0.1 } });
  const a = await trained(svc, { config: cfg(3), datasetId: data });
  const b = await trained(svc, { config: cfg(3), datasetId: data });
  sameTensors(await storedTensors(svc, a.id), await storedTensors(svc, b.id), 'two runs with seed 3');
  const strip = (r: Run) => JSON.stringify(r.logs);
  check(strip(a) === strip(b), `logs differ:\n${strip(a)}\n${strip(b)}`);
  const c = await trained(svc, { config: cfg(4), datasetId: data });
  const ta = await storedTensors(svc, a.id);
  const tc = await storedTensors(svc, c.id);
  const name = [...ta.keys()][0];
  check(maxDiff(ta.get(name)!.data, tc.get(name)!.data).diff > 0, 'seed 4 gave the same adapter as seed 3');
});

/**
 * Dropout draws a mask per micro-batch: each replay of a step is reseeded from (seed, optimizer step, micro-batch).
 * Seeds must differ between the micro-batches of one accumulation window, or every micro-batch of the window shares
 * one mask (the masks of equal-length micro-batches would be identical).
 */
gpuTest('dropout: every micro-batch of an accumulation window gets its own seed', async () => {
  const svc = await service();
  const { model } = internals(svc).loaded;
  const seeds: number[] = [];
  const original = model.step.bind(model);
  model.step = async (...args: Parameters<typeof model.step>): Promise<Step> => {
    const step = await original(...args);
    if (!args[2].train) return step;
    const reseed = (s: number) => {
      seeds.push(s);
      step.reseed(s);
    };
    return { ...step, reseed };
  };
  try {
    const data = await dataset(svc, 'sft', sftJsonl(8, 6));
    await trained(svc, {
      config: config('sft', { maxSteps: 2, batchSize: 1, gradientAccumulationSteps: 4, lora: { dropout: 0.1 } }),
      datasetId: data,
    });
  } finally {
    model.step = original;
  }
  check(seeds.length === 8, `${seeds.length} reseeds for 2 steps x 4 micro-batches`);
  check(new Set(seeds).size === 8, `micro-batches share dropout seeds: ${seeds.join(', ')}`);
});

/**
 * An exploding update: learning rate 1e30 (past the config's bounds, so runTraining is called directly). Step 1 is
 * finite (B becomes ~±1e30); step 2's attention scores overflow and its loss is not finite. The run must stop with
 * 'diverged', say why, and leave the adapter exactly as step 1 left it (the update of step 2 is never applied).
 */
gpuTest('a non-finite loss stops the run as diverged and keeps the adapter of the last good step (lr 1e30)', async () => {
  const svc = await service();
  const { gpu, loaded } = internals(svc);
  const text = sftJsonl(8, 7);
  const report = readSftDataset(text, 'sft.jsonl');
  const data = prepareSft(loaded.tokenizer, report.rows, report.lines, 16);
  const cfg = (steps: number) => config('sft', { maxSteps: steps, learningRate: 1e30, maxGradNorm: 0 });
  const run = (steps: number) =>
    runTraining(gpu, loaded.model, [], { method: 'sft', examples: data.examples }, cfg(steps), loaded.tokenizer.padTokenId, {
      onEvent: () => {},
      control: new RunControl(),
    });
  const good = await run(1);
  check(good.status === 'completed', `1 step: ${good.status} ${good.message}`);
  const bad = await run(3);
  check(bad.status === 'diverged', `status ${bad.status}: ${bad.message}`);
  check(
    /^Training stopped at step 2: the (loss is (NaN|-?Infinity)|gradient norm is (NaN|Infinity))\. The adapter keeps its weights from step 1\. Lower the learning rate/.test(
      bad.message,
    ),
    `message: ${bad.message}`,
  );
  check(bad.steps === 1 && bad.metrics.length === 1, `steps ${bad.steps}, ${bad.metrics.length} log records`);
  const [p1, p2] = await Promise.all([gpu.read(good.adapter.params), gpu.read(bad.adapter.params)]);
  check(p1.every(Number.isFinite), 'the step-1 adapter is not finite');
  check(
    p1.some((x) => Math.abs(x) > 1e29),
    'lr 1e30 did not blow B up: the test proves nothing',
  );
  sameBits(p2, p1, 'the diverged run’s adapter vs the adapter after step 1');
  good.adapter.destroy();
  bad.adapter.destroy();
});

/**
 * An update past float32's range: learning rate 1e39 is Infinity in the optimizer's uniform, so the first update
 * writes ±Infinity (or NaN) into the adapter although step 1's loss and gradient were finite. Without a checkpoint the
 * run keeps nothing; resumed from a checkpoint, it hands back the checkpoint's weights bit for bit, never NaN ones.
 */
gpuTest('an update that leaves non-finite weights falls back to the last checkpoint, or keeps nothing', async () => {
  const svc = await service();
  const { gpu, loaded } = internals(svc);
  const report = readSftDataset(sftJsonl(8, 7), 'sft.jsonl');
  const data = { method: 'sft' as const, examples: prepareSft(loaded.tokenizer, report.rows, report.lines, 16).examples };
  const cfg = (steps: number, learningRate: number) => config('sft', { maxSteps: steps, learningRate, maxGradNorm: 0, saveSteps: 1 });
  const checkpoints: RunState[] = [];
  const run = (steps: number, lr: number, resume?: RunState) =>
    runTraining(gpu, loaded.model, [], data, cfg(steps, lr), loaded.tokenizer.padTokenId, {
      onEvent: () => {},
      control: new RunControl(),
      checkpoint: async (state) => void checkpoints.push(state),
      resume,
    });
  const nothing = await run(3, 1e39);
  check(nothing.status === 'diverged' && nothing.steps === 0, `status ${nothing.status}, steps ${nothing.steps}: ${nothing.message}`);
  check(
    /^Training stopped after step \d: the adapter's weights are no longer finite numbers \(base_model\.model\.model\.layers\.\d+\.[\w.]+\.lora_[AB]\.weight holds NaN or Infinity\), so no weights are kept\. Lower the learning rate/.test(
      nothing.message,
    ),
    nothing.message,
  );
  const saved = () => checkpoints.length; // read afresh: `check` narrows what it asserted
  check(saved() === 0, `${saved()} checkpoints of non-finite weights were saved`);
  check(nothing.metrics.length === 0, `metrics of steps not kept: ${JSON.stringify(nothing.metrics)}`);
  nothing.adapter.destroy();

  const good = await run(2, 1e-3);
  check(good.status === 'completed' && saved() === 1 && checkpoints[0].optimizerStep === 1, `${saved()} checkpoints`);
  const resumed = await run(4, 1e39, checkpoints[0]);
  check(resumed.status === 'diverged' && resumed.steps === 1, `status ${resumed.status}, steps ${resumed.steps}: ${resumed.message}`);
  check(/so the adapter keeps its weights from step 1, its last checkpoint\./.test(resumed.message), resumed.message);
  check(saved() === 1, 'a checkpoint of non-finite weights replaced the good one');
  sameBits(await gpu.read(resumed.adapter.params), checkpoints[0].params, 'the kept adapter vs the step-1 checkpoint');
  good.adapter.destroy();
  resumed.adapter.destroy();
});

/**
 * The engine's side of divergence: the base model's final norm is poisoned with NaN after step 1 (and restored
 * afterwards), so step 2's loss is NaN. The service reports 'diverged' with the message, and saves the adapter of
 * step 1, marked diverged, bit-identical to a run that stopped after 1 step.
 */
gpuTest('the engine reports a diverged run and saves the adapter of the last good step (poisoned weights)', async () => {
  const svc = await service();
  const { gpu, loaded } = internals(svc);
  const data = await dataset(svc, 'sft', sftJsonl(4, 8));
  const one = await trained(svc, { config: config('sft', { maxSteps: 1 }), datasetId: data });
  const norm = loaded.model.weights.norm;
  const saved = await gpu.read(norm);
  let poisoned = false;
  let run: Run;
  try {
    run = await train(svc, { config: config('sft', { maxSteps: 3 }), datasetId: data }, (e) => {
      if (e.type === 'step' && e.step === 1) {
        gpu.write(norm, new Float32Array(saved.length).fill(Number.NaN));
        poisoned = true;
      }
    });
  } finally {
    gpu.write(norm, saved);
  }
  check(poisoned, 'never poisoned');
  const { result } = run;
  check(result.status === 'diverged', `status ${result.status}: ${result.message}`);
  check(/^Training stopped at step 2: the loss is NaN\. The adapter keeps its weights from step 1\./.test(result.message), result.message);
  check(result.adapterId !== null, 'no adapter saved for a run that made 1 good step');
  check(result.metrics.length === 1 && result.metrics[0].step === 1, `metrics ${JSON.stringify(result.metrics)}`);
  sameTensors(await storedTensors(svc, result.adapterId), await storedTensors(svc, one.id), 'diverged adapter vs 1-step adapter');
  const rec = await internals(svc).store.getAdapter(result.adapterId);
  check(
    rec?.trainingConfig.status === 'diverged' && rec.trainingConfig.max_steps_run === 1,
    `saved config ${JSON.stringify(rec?.trainingConfig)}`,
  );
  // The model is whole again.
  sameBits(await gpu.read(norm), saved, 'restored norm');
});

/**
 * A real out-of-memory cannot be provoked on demand, so the device's out-of-memory scope reports one (the scopes are
 * still pushed and popped for real). The run's buffers are made in one scope and its first step runs in the next: an
 * error in either must end the run as GpuOutOfMemoryError naming the run's shape, leave no run going, report no step
 * (no 'step 1, loss ...' before the error) and save nothing: no adapter, no checkpoint.
 */
gpuTest('out of GPU memory while making the run’s buffers or running its first step is a GpuOutOfMemoryError naming the run', async () => {
  const svc = await service();
  const { gpu, store } = internals(svc);
  const data = await dataset(svc, 'sft', sftJsonl(4, 9));
  const device = gpu.device;
  const push = device.pushErrorScope.bind(device);
  const pop = device.popErrorScope.bind(device);
  const adaptersBefore = (await store.listAdapters()).length;
  const runsBefore = (await store.listRuns()).length;
  for (const failAt of [1, 2]) {
    const open: GPUErrorFilter[] = [];
    let oomScopes = 0;
    device.pushErrorScope = (filter) => {
      open.push(filter);
      push(filter);
    };
    device.popErrorScope = async () => {
      const filter = open.pop();
      const real = await pop();
      if (filter === 'out-of-memory' && ++oomScopes === failAt) return { message: 'simulated: not enough memory' } as GPUError;
      return real;
    };
    let err: Error | undefined;
    const reported: string[] = [];
    try {
      // save_minutes on: the first step would checkpoint, had its scope closed clean.
      await svc.train({ config: config('sft', { batchSize: 2, saveMinutes: 2 }), datasetId: data }, (e) => void reported.push(e.type));
    } catch (e) {
      err = e as Error;
    } finally {
      device.pushErrorScope = push;
      device.popErrorScope = pop;
    }
    const where = failAt === 1 ? 'making the buffers' : 'the first step';
    check(err?.name === 'GpuOutOfMemoryError', `${where}: ${err ? `${err.name}: ${err.message}` : 'the run went through'}`);
    check(
      err.message ===
        "Out of GPU memory during the SFT run's buffers and first step (batch size 2, max_length 16, LoRA r 4) (simulated: not enough memory). " +
          'Use a smaller batch size or max length, a smaller LoRA rank, or a smaller model; closing other GPU-heavy tabs and apps also frees memory.',
      `${where}: ${err.message}`,
    );
    check(oomScopes === failAt, `${where}: ${oomScopes} out-of-memory scopes opened, expected ${failAt}`);
    const stepReports = reported.filter((t) => t === 'step' || t === 'log' || t === 'checkpoint');
    check(stepReports.length === 0, `${where}: the failed step was reported (${stepReports.join(', ')})`);
    check((await store.listRuns()).length === runsBefore, `${where}: the failed step left a checkpoint`);
  }
  check((await store.listAdapters()).length === adaptersBefore, 'a run that ran out of memory saved an adapter');
  // Nothing is left going: the next run trains.
  await trained(svc, { config: config('sft', { maxSteps: 1 }), datasetId: data });
});

/** Two KTO rows, one of each label: every step's batch, so its reference is cached after step 1 as DPO's is. */
const KTO_TWO_ROWS = `${JSON.stringify({ prompt: 'hi?', completion: ' yes', label: true })}\n${JSON.stringify({ prompt: 'a cat?', completion: ' never!', label: false })}\n`;

/**
 * Round trips per optimizer step (one micro-batch, logging every step, no checkpoint or evaluation due): the
 * micro-batch's forward, loss and backward is one submit, the grad norm, AdamW and the clearing of the gradients one
 * more, and the step's outputs and norm are one host read, made a step late: step k (1 < k < last) is reported once
 * step k+1's micro-batch is queued (before its update), so the GPU has work while the host reads and logs.
 */
gpuTest('one micro-batch per step: 2 submits, 1 host read a step, read once the next is queued (SFT, DPO, SimPO, ORPO, KTO)', async () => {
  const svc = await service();
  const { gpu } = internals(svc);
  for (const method of ['sft', 'dpo', 'simpo', 'orpo', 'kto'] as const) {
    // KTO's KL rows' forward is a submit of its own before the micro-batch's: one more a step, still one host read.
    const klSubmit = method === 'kto' ? 1 : 0;
    // One batch of two rows, every step: DPO's reference log-probs are computed in step 1 and cached for the others.
    const text = { sft: sftJsonl(2, 3), kto: KTO_TWO_ROWS }[method as string] ?? dpoJsonl(2, 3);
    const datasetId = await dataset(svc, method, text);
    const cfg = config(method, { maxSteps: 4, batchSize: 2, loggingSteps: 1, saveSteps: 0, saveMinutes: 0 });
    const at: { submits: number; hostReads: number; dispatches: number }[] = [];
    const run = await train(svc, { config: cfg, datasetId }, (e) => {
      if (e.type === 'step') at.push(gpu.ledger.countsSoFar);
    });
    check(run.result.status === 'completed' && run.logs.length === 4, `${method}: ${run.result.status}, ${run.logs.length} logs`);
    const [d2, d3, d4] = [1, 2, 3].map((k) => ({
      submits: at[k].submits - at[k - 1].submits,
      hostReads: at[k].hostReads - at[k - 1].hostReads,
      dispatches: at[k].dispatches - at[k - 1].dispatches,
    }));
    const said = `${method}: between reports ${JSON.stringify([d2, d3, d4])}`;
    // Step 1 is read at once (inside its error scope). Step 2 is reported after its update and step 3's micro-batch
    // (3 submits since step 1's report), step 3 after its update and step 4's micro-batch (2), step 4, the last, at
    // once after its update (1); one host read each.
    check(d2.submits === 3 + 2 * klSubmit && d3.submits === 2 + klSubmit && d4.submits === 1, said);
    check(d2.hostReads === 1 && d3.hostReads === 1 && d4.hostReads === 1, said);
    // d3 is one whole step (a micro-batch and an update), d4 an update, d2 a step and a micro-batch.
    check(d4.dispatches > 0 && d3.dispatches > d4.dispatches && d2.dispatches - d3.dispatches === d3.dispatches - d4.dispatches, said);
    check(
      run.result.gpu?.perStep?.submits === 2 + klSubmit &&
        run.result.gpu.perStep.hostReads === 1 &&
        run.result.gpu.perStep.dispatches === d3.dispatches,
      `${method}: the result's counts per step ${JSON.stringify(run.result.gpu?.perStep)}, expected ${2 + klSubmit} submits, 1 read, ${d3.dispatches} dispatches`,
    );
  }
});
