// KTO, ORPO and SimPO against the independent float64 PyTorch goldens written from TRL's trainers
// (test/fixtures/make_objective_goldens.py): each objective runs one micro-batch of the fixture's four sequences through
// the model (policy = base + the fixture's LoRA, reference = base) and its logged metrics and every LoRA gradient must
// match, for every case (KTO: both loss types, weights, beta, mixed labels, the KL pairing; ORPO: beta; SimPO: gamma,
// cpo_alpha, label smoothing). ORPO and SimPO take no reference at all (their objectives have no such input). And KTO
// at step 0 (policy == reference) has rewards and KL of exactly 0 and TRL's loss there.
import { assertAllClose, gpuTest } from '@webtune/harness/page';
import { Gpu } from '@webtune/kernels';
import { type FixtureName, fetchBytes, fetchText, LLAMA_QWEN2_FIXTURES, loadFixture, readAll } from '../../test/fixtures.ts';
import type { ObjectiveGoldens } from '../../test/objective-goldens.ts';
import { sftBatch } from '../data/batch.ts';
import type { DpoExample, Sequence } from '../data/tokenize.ts';
import { LoraAdapter, peftKey } from '../model/lora.ts';
import { Model } from '../model/model.ts';
import { bytesWeightFiles } from '../model/weight-file.ts';
import { parseAdapterConfig } from '../store/peft.ts';
import { defaultConfig } from '../train/config.ts';
import { KtoReferenceCache } from '../train/kto-reference.ts';
import { type KtoExample, klDropoutSeed, klSequences, ktoObjective } from './kto.ts';
import { type Objective, type ObjectiveContext, settle, writeInputs } from './objective.ts';
import { orpoObjective } from './orpo.ts';
import { simpoObjective } from './simpo.ts';

async function setup(device: GPUDevice, name: FixtureName) {
  const gpu = new Gpu(device);
  const f = await loadFixture(name);
  const dir = `/packages/trainer/test/fixtures/${name}`;
  const goldens: ObjectiveGoldens = JSON.parse(await fetchText(`${dir}/objectives.json`));
  const grads = readAll('objectives.safetensors', await fetchBytes(`${dir}/objectives.safetensors`));
  const model = await Model.load(gpu, f.config, bytesWeightFiles(new Map([['model.safetensors', f.model]])));
  const { lora } = parseAdapterConfig(f.adapterConfig);
  const adapter = LoraAdapter.fromPeft(gpu, model.config, lora, f.adapter);
  const gradBuffer = adapter.like('grads');
  const ctx: ObjectiveContext = {
    gpu,
    model,
    frozen: [],
    adapter,
    grads: gradBuffer,
    config: { ...defaultConfig('sft'), maxLength: 64 },
    padId: f.golden.inputs.pad_token_id,
  };
  const seqs: Sequence[] = goldens.rows.map((r) => ({ ids: [...r.prompt, ...r.completion], completionStart: r.prompt.length }));
  const pairs: DpoExample[] = [0, 1].map((p) => ({ line: p, chosen: seqs[p], rejected: seqs[p + 2] }));
  return { gpu, goldens, grads, gradBuffer, model, adapter, ctx, seqs, pairs };
}

/** One micro-batch of every example, as the loop runs it: gradients cleared, then the objective's metrics. */
async function runAll(ctx: ObjectiveContext, objective: Objective, dropoutSeed = 0): Promise<Record<string, number>> {
  const indices = Array.from({ length: objective.size }, (_, i) => i);
  const totals = objective.totals(indices);
  if (ctx.grads) ctx.gpu.record().clear(ctx.grads).submit();
  const sums = await settle(ctx.gpu, await objective.microBatch(indices, totals, dropoutSeed));
  return objective.metrics(sums, totals);
}

/** Every golden metric (and no other), and every LoRA gradient against PyTorch's. */
async function check(
  s: Awaited<ReturnType<typeof setup>>,
  what: string,
  got: Record<string, number>,
  want: { metrics: Record<string, number> },
  gradKey: string,
) {
  const keys = Object.keys(want.metrics).sort();
  if (Object.keys(got).sort().join() !== keys.join()) throw new Error(`${what}: metrics ${Object.keys(got).sort()}, TRL logs ${keys}`);
  for (const k of keys) assertAllClose([got[k]], [want.metrics[k]], { atol: 1e-5, rtol: 1e-5 }, `${what} ${k}`);
  const flat = await s.gpu.read(s.gradBuffer);
  for (const slot of s.adapter.slots) {
    for (const which of ['A', 'B'] as const) {
      const key = peftKey(slot.path, which);
      const w = s.grads.get(`${gradKey}.${key}`)?.data;
      if (!w) throw new Error(`${what}: no golden gradient ${gradKey}.${key}`);
      const offset = which === 'A' ? slot.aOffset : slot.bOffset;
      const max = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assertAllClose(flat.subarray(offset, offset + w.length), w, { atol: 1e-4 * max, rtol: 1e-3 }, `${what} grad ${key}`);
    }
  }
}

for (const name of LLAMA_QWEN2_FIXTURES) {
  gpuTest(`${name}: KTO (kto, weights, beta, apo_zero_unpaired; mixed labels, the KL pairing) matches TRL`, async ({ device }) => {
    const s = await setup(device, name);
    for (const [key, c] of Object.entries(s.goldens.kto)) {
      const examples: KtoExample[] = s.seqs.map((seq, i) => ({ line: i, seq, label: c.labels[i] }));
      const reference = new KtoReferenceCache(s.gpu, s.model, [], examples.length, s.ctx.padId);
      const o = { beta: c.beta, lossType: c.loss_type, desirableWeight: c.desirable_weight, undesirableWeight: c.undesirable_weight };
      await check(s, `${name} kto ${key}`, await runAll(s.ctx, ktoObjective(s.ctx, examples, reference, o)), c, `kto.${key}`);
    }
    s.model.destroy();
  });

  gpuTest(
    `${name}: ORPO (beta 0.1, 0.5) and SimPO (gamma, cpo_alpha, label smoothing) match TRL, without a reference`,
    async ({ device }) => {
      const s = await setup(device, name);
      for (const [key, c] of Object.entries(s.goldens.orpo))
        await check(s, `${name} orpo ${key}`, await runAll(s.ctx, orpoObjective(s.ctx, s.pairs, c.beta)), c, `orpo.${key}`);
      for (const [key, c] of Object.entries(s.goldens.simpo)) {
        const o = { beta: c.beta, simpoGamma: c.simpo_gamma, cpoAlpha: c.cpo_alpha, labelSmoothing: c.label_smoothing };
        await check(s, `${name} simpo ${key}`, await runAll(s.ctx, simpoObjective(s.ctx, s.pairs, o)), c, `simpo.${key}`);
      }
      s.model.destroy();
    },
  );
}

gpuTest(
  'KTO at step 0 (a fresh adapter: policy == reference) has rewards and KL exactly 0 and loss mean(weight) / 2',
  async ({ device }) => {
    const s = await setup(device, 'llama-gqa-bf16');
    const fresh = LoraAdapter.create(s.gpu, s.model.config, { ...s.ctx.config.lora, dropout: 0 }, 7);
    const ctx = { ...s.ctx, adapter: fresh, grads: fresh.like('grads') };
    const labels = [true, false, false, true];
    const examples: KtoExample[] = s.seqs.map((seq, i) => ({ line: i, seq, label: labels[i] }));
    for (const lossType of ['kto', 'apo_zero_unpaired'] as const) {
      const reference = new KtoReferenceCache(s.gpu, s.model, [], examples.length, s.ctx.padId);
      const o = { beta: 0.1, lossType, desirableWeight: 1.33, undesirableWeight: 0.75 };
      const m = await runAll(ctx, ktoObjective(ctx, examples, reference, o));
      for (const k of ['rewards/chosen', 'rewards/rejected', 'rewards/margins', 'kl'])
        if (m[k] !== 0) throw new Error(`${lossType}: ${k} is ${m[k]} at step 0, expected exactly 0`);
      // every row loss is 1 - sigmoid(0) = sigmoid(0) = 1/2, times its label's weight as the kernel holds it (float32)
      const want = ((Math.fround(1.33) + 0.75 + 0.75 + Math.fround(1.33)) / 4) * 0.5;
      if (Math.abs(m.loss - want) > 1e-15) throw new Error(`${lossType}: loss ${m.loss} at step 0, TRL gives ${want}`);
    }
    fresh.destroy();
    s.model.destroy();
  },
);

gpuTest(
  "KTO's KL rows run forward in train mode, as TRL's do: the trained adapter's LoRA dropout is drawn, with masks of their own",
  async ({ device }) => {
    // llama-tied-f32: TRL's KL there is 0.119, not clamped to 0, so a change in the KL rows' forward shows.
    const name = 'llama-tied-f32';
    const s = await setup(device, name);
    const f = await loadFixture(name);
    const dropped = LoraAdapter.fromPeft(s.gpu, s.model.config, { ...parseAdapterConfig(f.adapterConfig).lora, dropout: 0.05 }, f.adapter);
    const ctx = { ...s.ctx, adapter: dropped, grads: dropped.like('grads') };
    const c = s.goldens.kto.kto;
    const examples: KtoExample[] = s.seqs.map((seq, i) => ({ line: i, seq, label: c.labels[i] }));
    const reference = new KtoReferenceCache(s.gpu, s.model, [], examples.length, s.ctx.padId);
    const o = { beta: c.beta, lossType: c.loss_type, desirableWeight: c.desirable_weight, undesirableWeight: c.undesirable_weight };
    // This fixture's LoRA is large for its tiny model, so the KL moves with the masks (-1.5 to 0.6 over a dozen seeds,
    // 0.119 without dropout): seed 11's KL rows' masks give 0.48, not clamped, and its rows' own 0.37.
    const seed = 11;
    const logged = (await runAll(ctx, ktoObjective(ctx, examples, reference, o), seed)).kl;

    // The same KL from the KL rows run here: through the training step's forward (its dropout is what SFT's and DPO's
    // gradients are checked with) with the masks of `maskSeed`, or through a forward without dropout (null); summed on
    // the host in float64, less the reference's sums, and averaged (TRL then clamps at 0; the seed keeps it above).
    const klSeqs = klSequences(s.seqs, ctx.config.maxLength);
    const refKl = (
      await reference.of(
        examples.map((_, i) => i),
        s.seqs,
        klSeqs,
      )
    ).kl;
    if (!refKl) throw new Error('the reference cache gave no KL rows');
    const batch = sftBatch(
      klSeqs.map((seq, line) => ({ line, seq })),
      s.ctx.padId,
    );
    const klOf = async (maskSeed: number | null) => {
      const trainable = { adapter: dropped, grads: ctx.grads };
      const step = await s.model.step(batch.B, batch.T, { frozen: [], trainable, train: maskSeed !== null });
      writeInputs(s.gpu, step, batch);
      if (maskSeed !== null) step.reseed(maskSeed);
      s.gpu.run(...step.forward);
      const lp = await s.gpu.read(step.logprobs);
      let sum = 0;
      for (let i = 0; i < batch.B; i++) for (let t = 0; t < batch.T; t++) sum += lp[i * batch.T + t] - (t === 0 ? refKl[i] : 0);
      return sum / batch.B;
    };
    const want = await klOf(klDropoutSeed(seed));
    if (!(want > 0.1)) throw new Error(`the KL rows' mean log-ratio is ${want}: clamped to 0, it would show no difference`);
    assertAllClose([logged], [want], { atol: 1e-5, rtol: 1e-5 }, "KL with LoRA dropout 0.05 on the KL rows' forward");
    const without = await klOf(null);
    // This sum is TRL's: without dropout it gives the golden KL.
    assertAllClose([without], [c.metrics.kl], { atol: 1e-5, rtol: 1e-5 }, 'KL rows without dropout, against TRL');
    const ownMasks = await klOf(seed);
    for (const [what, other] of [
      ['without dropout', without],
      ["with the micro-batch's own masks", ownMasks],
    ] as const)
      if (!(Math.abs(other - want) > 0.05))
        throw new Error(`the KL ${what} is ${other}, too close to ${want} for this test to tell them apart`);
    ctx.grads.buffer.destroy();
    dropped.destroy();
    s.model.destroy();
  },
);
