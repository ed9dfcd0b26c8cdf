// The decoder against an independent float64 PyTorch implementation (test/fixtures): logits,
// completion log-probs, SFT and DPO losses (every loss type), and every LoRA gradient, for Llama with GQA and bf16
// weights, Llama tied f32 with rsLoRA on q/v, and Qwen2 with q/k/v bias and f16 weights.
import { assertAllClose, gpuTest } from '@webtune/harness/page';
import { dpoLoss, Gpu, IGNORE_INDEX, type Tensor } from '@webtune/kernels';
import { sameBits } from '../../test/engine.ts';
import { FIXTURES, type Fixture, loadFixture } from '../../test/fixtures.ts';
import { parseAdapterConfig } from '../store/peft.ts';
import { buildStep, type Step } from './decoder.ts';
import { generate } from './generate.ts';
import { LoraAdapter, peftKey } from './lora.ts';
import type { LoraConfig } from './lora-config.ts';
import { Model } from './model.ts';
import { bytesWeightFiles } from './weight-file.ts';

const B = 4;
const T = 9;

/** Inputs of the fixture batch: row (b, t) predicts token t+1 when that token is a completion token. */
function fill(gpu: Gpu, step: Step, f: Fixture): { valid: boolean[] } {
  const { input_ids, completion_mask } = f.golden.inputs;
  const ids = new Uint32Array(B * T);
  const positions = new Uint32Array(B * T);
  const targets = new Uint32Array(B * T).fill(IGNORE_INDEX);
  const valid: boolean[] = [];
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const i = b * T + t;
      ids[i] = input_ids[b][t];
      positions[i] = t;
      const counts = t + 1 < T && completion_mask[b][t + 1] === 1;
      if (counts) targets[i] = input_ids[b][t + 1];
      valid.push(counts);
    }
  }
  gpu.write(step.ids, ids);
  gpu.write(step.positions, positions);
  gpu.write(step.targets, targets);
  return { valid };
}

/** Golden token_logps[b, t+1] rearranged to our rows (b, t). */
function shiftedLogps(f: Fixture, key: 'token_logps_base' | 'token_logps_lora'): Float64Array {
  const g = f.tensors.get(key)!.data;
  const out = new Float64Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t + 1 < T; t++) out[b * T + t] = g[b * T + t + 1];
  return out;
}

/** Golden logits on rows whose token is real (pad queries attend differently in the reference). */
async function checkLogits(gpu: Gpu, f: Fixture, step: Step, key: 'logits_base' | 'logits_lora' | 'softcap.logits_lora'): Promise<void> {
  const got = await gpu.read(step.logits);
  const want = f.tensors.get(key)!.data;
  const V = want.length / (B * T);
  const mask = f.golden.inputs.attention_mask.flat();
  const rows = mask.flatMap((m, i) => (m === 1 ? [i] : []));
  const pick = (a: ArrayLike<number>) => rows.flatMap((r) => Array.from({ length: V }, (_, j) => a[r * V + j]));
  assertAllClose(pick(got), pick(want), { atol: 1e-4, rtol: 1e-4 }, `${f.name} ${key}`);
}

async function setup(device: GPUDevice, name: (typeof FIXTURES)[number], config?: (c: Record<string, unknown>) => Record<string, unknown>) {
  const gpu = new Gpu(device);
  const f = await loadFixture(name);
  const json = config ? JSON.stringify(config(JSON.parse(f.config))) : f.config;
  const model = await Model.load(gpu, json, bytesWeightFiles(new Map([['model.safetensors', f.model]])));
  const { lora } = parseAdapterConfig(f.adapterConfig);
  const adapter = LoraAdapter.fromPeft(gpu, model.config, lora, f.adapter);
  return { gpu, f, model, adapter };
}

/** Each LoRA gradient against PyTorch's: 1e-4 of the tensor's largest entry plus 1e-3 relative. */
async function checkGrads(
  gpu: Gpu,
  f: Fixture,
  adapter: LoraAdapter,
  grads: Tensor,
  prefix: 'grad_sft' | 'grad_dpo' | 'softcap.grad_sft',
): Promise<void> {
  const flat = await gpu.read(grads);
  for (const slot of adapter.slots) {
    for (const which of ['A', 'B'] as const) {
      const key = peftKey(slot.path, which);
      const want = f.tensors.get(`${prefix}.${key}`)!.data;
      const offset = which === 'A' ? slot.aOffset : slot.bOffset;
      const got = flat.subarray(offset, offset + want.length);
      const max = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assertAllClose(got, want, { atol: 1e-4 * max, rtol: 1e-3 }, `${f.name} ${prefix} ${key}`);
    }
  }
}

for (const name of FIXTURES) {
  gpuTest(`${name}: base and LoRA logits and completion log-probs match PyTorch`, async ({ device }) => {
    const { gpu, f, model, adapter } = await setup(device, name);
    for (const [frozen, logitsKey, logpsKey] of [
      [[], 'logits_base', 'token_logps_base'],
      [[adapter], 'logits_lora', 'token_logps_lora'],
    ] as const) {
      const step = await model.step(B, T, { frozen: [...frozen], train: false });
      const { valid } = fill(gpu, step, f);
      gpu.run(...step.forward);
      await checkLogits(gpu, f, step, logitsKey);
      const logprobs = await gpu.read(step.logprobs);
      const want = shiftedLogps(f, logpsKey);
      assertAllClose(logprobs, want, { atol: 1e-4, rtol: 1e-4 }, `${name} ${logpsKey}`);
      if (!valid.some(Boolean)) throw new Error('fixture has no completion tokens');
    }
    model.destroy();
  });

  // Both ways of keeping activations: every layer's, and recomputed layer by layer in the backward (gradient
  // checkpointing), which must give the same bits.
  gpuTest(`${name}: SFT loss and every LoRA gradient match PyTorch, with activations kept or recomputed`, async ({ device }) => {
    const { gpu, f, model, adapter } = await setup(device, name);
    const got: Float32Array[] = [];
    for (const recompute of [false, true]) {
      const grads = adapter.like('grads');
      const step = await model.step(B, T, { frozen: [], trainable: { adapter, grads }, train: true, recompute });
      // The recomputation skips each layer's down projection (x_{l+1} is kept) unless sandwich norms read its output.
      const downs = step.backward.filter((c) => /^L\d+\.down_proj$/.test(c.label)).length;
      const wantDowns = recompute && model.config.sandwichNorms ? model.config.numLayers : 0;
      if (downs !== wantDowns) throw new Error(`${name}: ${downs} down_proj forwards in the backward, expected ${wantDowns}`);
      const { valid } = fill(gpu, step, f);
      const n = f.golden.num_completion_tokens;
      gpu.write(
        step.lossWeights,
        Float32Array.from(valid, (v) => (v ? 1 / n : 0)),
      );
      gpu.run(...step.forward, ...step.backward);
      const logprobs = await gpu.read(step.logprobs);
      const loss = -logprobs.reduce((s, lp, i) => s + (valid[i] ? lp / n : 0), 0);
      assertAllClose([loss], [f.golden.sft_loss], { atol: 1e-5, rtol: 1e-5 }, `${name} sft_loss (recompute ${recompute})`);
      await checkGrads(gpu, f, adapter, grads, 'grad_sft');
      got.push(await gpu.read(grads));
      grads.buffer.destroy();
    }
    sameBits(got[1], got[0], `${name}: LoRA gradients with activations recomputed vs kept`);
    model.destroy();
  });

  /**
   * Every DPO loss the goldens have (sigmoid, sigmoid with label smoothing 0.2, ipo, hinge): the loss, per-pair losses
   * and rewards, and the per-token weights dLoss/dNLL the kernel hands the backward, which must be
   * -dloss_dseq_logps of the token's sequence on completion tokens and 0 elsewhere. The weights carry the whole
   * difference between loss types into the gradient (the backward is the SFT one, checked above), and sigmoid's
   * gradients are checked through to every LoRA tensor.
   */
  gpuTest(
    `${name}: DPO losses (sigmoid, label smoothing, ipo, hinge), rewards, gradient weights and LoRA gradients match PyTorch`,
    async ({ device }) => {
      const { gpu, f, model, adapter } = await setup(device, name);
      const grads = adapter.like('grads');
      const step = await model.step(B, T, { frozen: [], trainable: { adapter, grads }, train: true });
      const { valid } = fill(gpu, step, f);
      const P = B / 2;
      const mask = gpu.upload(
        Float32Array.from(valid, (v) => (v ? 1 : 0)),
        [B, T],
        'mask',
      );
      const out = (shape: number[], label: string) => gpu.tensor(shape, label);
      const t = {
        logprobs: step.logprobs.view([B, T]),
        mask,
        refLogps: gpu.upload(Float32Array.from(f.golden.seq_logps_base), [B], 'ref logps'),
        seqLogps: out([B], 'seq logps'),
        counts: out([B], 'counts'),
        losses: out([P], 'losses'),
        chosenRewards: out([P], 'chosen rewards'),
        rejectedRewards: out([P], 'rejected rewards'),
        weights: step.lossWeights.view([B, T]),
      };
      const variants = Object.keys(f.golden.dpo).sort();
      if (variants.join() !== 'hinge,ipo,sigmoid,sigmoid_ls0.2') throw new Error(`${name}: golden DPO variants ${variants}`);
      gpu.run(...step.forward);
      for (const key of variants) {
        const dpo = f.golden.dpo[key];
        const what = `${name} dpo ${key}`;
        const lossType = dpo.loss_type as 'sigmoid' | 'ipo' | 'hinge';
        gpu.run(...(await dpoLoss(gpu, t, { beta: dpo.beta, lossType, labelSmoothing: dpo.label_smoothing, pairsTotal: P })));
        const losses = await gpu.read(t.losses);
        assertAllClose([(losses[0] + losses[1]) / 2], [dpo.loss], { atol: 1e-5, rtol: 1e-5 }, `${what} loss`);
        assertAllClose(losses, dpo.losses, { atol: 1e-5, rtol: 1e-5 }, `${what} per-pair losses`);
        assertAllClose(await gpu.read(t.chosenRewards), dpo.chosen_rewards, { atol: 1e-5, rtol: 1e-4 }, `${what} chosen rewards`);
        assertAllClose(await gpu.read(t.rejectedRewards), dpo.rejected_rewards, { atol: 1e-5, rtol: 1e-4 }, `${what} rejected rewards`);
        // NLL = -log-prob, so dLoss/dNLL of a completion token is minus dLoss/d(its sequence's summed log-probs).
        const want = valid.map((v, i) => (v ? -dpo.dloss_dseq_logps[Math.floor(i / T)] : 0));
        assertAllClose(await gpu.read(step.lossWeights), want, { atol: 1e-5, rtol: 1e-4 }, `${what} per-token weights`);
      }
      // The gradients of grad_dpo are of the sigmoid loss: its weights back in place, then the backward.
      const sigmoid = f.golden.dpo.sigmoid;
      gpu.run(...(await dpoLoss(gpu, t, { beta: sigmoid.beta, lossType: 'sigmoid', labelSmoothing: 0, pairsTotal: P })), ...step.backward);
      await checkGrads(gpu, f, adapter, grads, 'grad_dpo');
      model.destroy();
    },
  );
}

/**
 * Gradient checkpointing with LoRA dropout and a frozen adapter under the trained one (DPO on top of SFT): the
 * recomputed forward must draw the same dropout masks as the first one, so the gradients are the same bits as when
 * every layer's activations are kept; a different seed must change them (the masks are live).
 */
gpuTest('recomputed activations give the same gradients bit for bit with LoRA dropout and a stacked frozen adapter', async ({ device }) => {
  const { gpu, f, model, adapter: frozen } = await setup(device, 'llama-gqa-bf16');
  const lora: LoraConfig = {
    r: 4,
    alpha: 8,
    dropout: 0.5,
    targetModules: ['q_proj', 'v_proj', 'gate_proj', 'down_proj'],
    useRslora: false,
  };
  const trained = LoraAdapter.create(gpu, model.config, lora, 7);
  // B starts at zero, so A's gradient would be zero: give B values first.
  const params = await gpu.read(trained.params);
  gpu.write(
    trained.params,
    params.map((v, i) => v + Math.sin(i) * 0.05),
  );
  // A step is built once per shape and adapters, bound to the gradient buffer it was built with: one per way.
  const gradBuffers = [trained.like('grads kept'), trained.like('grads recomputed')];
  const run = async (recompute: boolean, seed: number) => {
    const grads = gradBuffers[Number(recompute)];
    gpu.record().clear(grads).submit();
    const step = await model.step(B, T, { frozen: [frozen], trainable: { adapter: trained, grads }, train: true, recompute });
    const { valid } = fill(gpu, step, f);
    gpu.write(
      step.lossWeights,
      Float32Array.from(valid, (v) => (v ? 1 : 0)),
    );
    step.reseed(seed);
    gpu.run(...step.forward, ...step.backward);
    return gpu.read(grads);
  };
  const kept = await run(false, 11);
  sameBits(await run(true, 11), kept, 'LoRA gradients with dropout, recomputed vs kept');
  const other = await run(true, 12);
  if (other.every((v, i) => v === kept[i])) throw new Error('another dropout seed gave the same gradients: the masks are not in use');
  model.destroy();
});

/**
 * Gemma's final_logit_softcapping (null in every released Gemma 3, so the fixture's config leaves it out): the same
 * checkpoint with the cap set below its largest logits, against PyTorch's capped model, through the backward.
 */
gpuTest(
  'gemma3-sandwich-bf16 with final_logit_softcapping: logits, log-probs, SFT loss and LoRA gradients match PyTorch',
  async ({ device }) => {
    const name = 'gemma3-sandwich-bf16';
    const cap = (await loadFixture(name)).golden.softcap;
    if (!cap) throw new Error(`${name}: golden.json has no softcap section (make_fixtures.py writes one for Gemma)`);
    const { gpu, f, model, adapter } = await setup(device, name, (c) => ({ ...c, final_logit_softcapping: cap.final_logit_softcapping }));
    const grads = adapter.like('grads');
    const step = await model.step(B, T, { frozen: [], trainable: { adapter, grads }, train: true });
    const { valid } = fill(gpu, step, f);
    const n = f.golden.num_completion_tokens;
    gpu.write(
      step.lossWeights,
      Float32Array.from(valid, (v) => (v ? 1 / n : 0)),
    );
    gpu.run(...step.forward);
    await checkLogits(gpu, f, step, 'softcap.logits_lora');
    const logprobs = await gpu.read(step.logprobs);
    // token_logps_lora[b][t + 1] is the log-prob row (b, t) computes (as shiftedLogps, from golden.json's [B][T] list).
    const golden = cap.token_logps_lora.flat();
    const want = new Float64Array(B * T);
    for (let i = 0; i < B * T; i++) if ((i + 1) % T !== 0) want[i] = golden[i + 1];
    assertAllClose(logprobs, want, { atol: 1e-4, rtol: 1e-4 }, `${name} capped token_logps_lora`);
    const loss = -logprobs.reduce((s, lp, i) => s + (valid[i] ? lp / n : 0), 0);
    assertAllClose([loss], [cap.sft_loss], { atol: 1e-5, rtol: 1e-5 }, `${name} capped sft_loss`);
    gpu.run(...step.backward);
    await checkGrads(gpu, f, adapter, grads, 'softcap.grad_sft');
    model.destroy();
  },
);

/**
 * RoPE has no length limit in transformers (cos/sin are computed for whatever positions come), so neither may ours: a
 * checkpoint saying max_position_embeddings 4 still rotates positions 4..8 of the fixture batch as PyTorch did, and
 * generation past it matches the same checkpoint with the usual 2048. The tables grow; a step reaching past them is
 * refused rather than run with positions left unrotated (the kernel's behaviour past its tables).
 */
gpuTest(
  'positions past max_position_embeddings are rotated as transformers does: logits match PyTorch, generation grows the tables',
  async ({ device }) => {
    const gpu = new Gpu(device);
    const f = await loadFixture('llama-gqa-bf16');
    const files = bytesWeightFiles(new Map([['model.safetensors', f.model]]));
    const short = JSON.stringify({ ...JSON.parse(f.config), max_position_embeddings: 4 });
    const model = await Model.load(gpu, short, files);
    const fail = (what: string) => {
      throw new Error(what);
    };
    if (model.weights.ropePositions !== 4) fail(`the tables cover ${model.weights.ropePositions} positions at load, not 4`);
    const refused = await buildStep(gpu, model.config, model.weights, model.pool, B, T, { frozen: [], train: false }).then(
      () => 'built',
      (e: Error) => e.message,
    );
    const want = `internal: a step over ${T} positions, but the RoPE tables cover 4; Model.coverPositions(${T}) must come first`;
    if (refused !== want) fail(`a step past the tables: ${refused}`);
    const step = await model.step(B, T, { frozen: [], train: false });
    if (model.weights.ropePositions < T) fail(`the tables cover ${model.weights.ropePositions} positions after a step over ${T}`);
    fill(gpu, step, f);
    gpu.run(...step.forward);
    await checkLogits(gpu, f, step, 'logits_base');

    // Generation: 3 prompt tokens and 20 new ones, past the 4 positions of a fresh model's tables.
    const prompt = f.golden.inputs.input_ids[0].slice(0, 3);
    const logits = async (m: Model) => {
      const rows: Float32Array[] = [];
      const o = { maxNewTokens: 20, temperature: 0, topP: 1, seed: 0, stopIds: [], vocabLimit: Number.POSITIVE_INFINITY };
      const ids = await generate(gpu, m, [], prompt, { ...o, onLogits: (l) => rows.push(l) });
      m.destroy();
      return { ids, rows };
    };
    model.destroy();
    const fresh = await Model.load(gpu, short, files);
    const [got, ref] = [await logits(fresh), await logits(await Model.load(gpu, f.config, files))];
    if (got.ids.join() !== ref.ids.join()) fail(`generated ${got.ids} with max_position_embeddings 4, ${ref.ids} with 2048`);
    // Row p of a table does not depend on its length: the same rotations, so the same bits.
    for (const [k, row] of got.rows.entries()) sameBits(row, ref.rows[k], `step ${k} logits, max_position_embeddings 4 vs 2048`);
  },
);

/**
 * Model.compile (what Model.step does first, and DPO before its reference pass) compiles the very pipelines the step's
 * build asks for, with nothing allocated; the build after it then compiles nothing, with or without recomputation,
 * dropout and a frozen adapter under the trained one.
 */
gpuTest(
  'Model.compile compiles every pipeline the step will ask for and makes none of its buffers; the step is built once',
  async ({ device }) => {
    const { gpu, model, adapter: frozen } = await setup(device, 'llama-gqa-bf16');
    const lora: LoraConfig = { r: 4, alpha: 8, dropout: 0.1, targetModules: ['q_proj', 'down_proj'], useRslora: false };
    const trained = LoraAdapter.create(gpu, model.config, lora, 3);
    const asked: string[] = [];
    const pipeline = gpu.pipeline.bind(gpu);
    gpu.pipeline = (kernel, consts) => {
      asked.push(`${kernel.name} ${JSON.stringify(consts)}`);
      return pipeline(kernel, consts);
    };
    let compiles = 0;
    const create = device.createComputePipelineAsync.bind(device);
    device.createComputePipelineAsync = (d) => {
      compiles++;
      return create(d);
    };
    try {
      for (const recompute of [false, true]) {
        const opts = { frozen: [frozen], trainable: { adapter: trained, grads: trained.like('grads') }, train: true, recompute };
        asked.length = 0;
        gpu.ledger.resetPeak();
        await model.compile(5, 13, opts);
        const compiled = new Set(asked);
        if (gpu.ledger.memory.peakAdded !== 0) throw new Error(`compile allocated ${gpu.ledger.memory.peakAdded} B`);
        if (compiled.size === 0) throw new Error('compile asked for no pipelines');
        asked.length = 0;
        compiles = 0;
        const step = await model.step(5, 13, opts);
        const missed = asked.filter((k) => !compiled.has(k));
        if (missed.length > 0 || compiles > 0)
          throw new Error(`recompute ${recompute}: the build compiled ${compiles} pipelines; not compiled first: ${missed.slice(0, 3)}`);
        // The pool buffers the compile pass asked for were made before the build (ActivationPool.reserve), so it was
        // recorded once: at most one pipeline asked for a dispatch (a few dispatches share one ask), not two.
        const dispatches = [...step.forward, ...step.backward].filter((c) => 'pipeline' in c).length;
        if (asked.length > dispatches) throw new Error(`the build asked for ${asked.length} pipelines for ${dispatches} dispatches`);
        // A finished run releases its steps and their compile records (keyed on adapters it frees): compiled again.
        model.releaseSteps();
        asked.length = 0;
        await model.compile(5, 13, opts);
        if (asked.length === 0) throw new Error('releaseSteps kept the compile record of a released step');
      }
    } finally {
      device.createComputePipelineAsync = create;
      model.destroy();
    }
  },
);
