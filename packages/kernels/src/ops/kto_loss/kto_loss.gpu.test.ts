// kto_loss on the GPU against its float64 reference: rows over and under the workgroup size with zeros where
// targets are ignored, both loss types, mixed labels and weights, a positive KL baseline and a clamped one, beta
// small and large. All outputs share one buffer, as the builder allows.
import { assertAllClose, F32_EPS, gpuTest, reductionTolerance } from '@webtune/harness/page';
import { Gpu } from '../../runtime/gpu.ts';
import { uniform } from '../../testing/random.ts';
import { sharedOutputs } from '../../testing/shared-outputs.ts';
import { ktoLossRef } from './kto_loss.ref.ts';
import { type KtoOptions, ktoLoss } from './kto_loss.ts';

interface Batch {
  n: number;
  T: number;
  logprobs: Float32Array; // [n, T]
  refLogps: Float32Array;
  labelWeights: Float32Array;
  klLogps: Float32Array;
  refKlLogps: Float32Array;
}

type Outputs = Record<'seqLogps' | 'losses' | 'kl' | 'weights', Float32Array>;

async function runKto(gpu: Gpu, b: Batch, o: KtoOptions): Promise<Outputs> {
  const out = sharedOutputs(gpu, { seqLogps: [b.n], losses: [b.n], kl: [1], weights: [b.n, b.T] }, 'kto outputs');
  const inputs = {
    logprobs: gpu.upload(b.logprobs, [b.n, b.T], 'logprobs'),
    refLogps: gpu.upload(b.refLogps, [b.n], 'refLogps'),
    labelWeights: gpu.upload(b.labelWeights, [b.n], 'labelWeights'),
    klLogps: gpu.upload(b.klLogps, [b.n], 'klLogps'),
    refKlLogps: gpu.upload(b.refKlLogps, [b.n], 'refKlLogps'),
  };
  gpu.run(...(await ktoLoss(gpu, { ...inputs, ...out.views }, o)));
  const got = await out.readAndFree();
  for (const t of Object.values(inputs)) t.buffer.destroy();
  return got;
}

/**
 * The expected losses, kl and row weights from the row sums the GPU summed, and their tolerances: each float32 input
 * of the loss stage (row sums, reference sums, beta) errs by under 4 eps of itself and the KL sums' mean by under
 * 4n eps of its terms, so we move each by that and add up how far every output moves; then exp(-|x|) errs by
 * (6 + 5|x|) eps relative (WGSL's exp and its argument's rounding), which reaches the loss through sigmoid and the
 * weight through sigmoid(x) sigmoid(-x).
 */
function expectation(seqLogps: Float32Array, b: Batch, o: KtoOptions) {
  const ref = (seq: ArrayLike<number>, refLogps: ArrayLike<number>, kl: ArrayLike<number>, refKl: ArrayLike<number>, oo: KtoOptions) =>
    ktoLossRef(seq, 1, refLogps, b.labelWeights, kl, refKl, oo);
  const want = ref(seqLogps, b.refLogps, b.klLogps, b.refKlLogps, o);
  const scale = (x: ArrayLike<number>, f: number) => Float64Array.from(x, (v) => v * f);
  const perturbed = (e: number) => [
    ref(scale(seqLogps, 1 + 4 * e), b.refLogps, b.klLogps, b.refKlLogps, o),
    ref(seqLogps, scale(b.refLogps, 1 + 4 * e), b.klLogps, b.refKlLogps, o),
    ref(seqLogps, b.refLogps, scale(b.klLogps, 1 + 4 * b.n * e), b.refKlLogps, o),
    ref(seqLogps, b.refLogps, b.klLogps, scale(b.refKlLogps, 1 + 4 * b.n * e), o),
    ref(seqLogps, b.refLogps, b.klLogps, b.refKlLogps, { ...o, beta: o.beta * (1 + 4 * e) }),
  ];
  const losses = new Float64Array(b.n);
  const rowWeights = new Float64Array(b.n);
  let kl = 0;
  for (const got of [...perturbed(F32_EPS), ...perturbed(-F32_EPS)]) {
    kl = Math.max(kl, Math.abs(got.kl - want.kl));
    for (let i = 0; i < b.n; i++) {
      losses[i] += Math.abs(got.losses[i] - want.losses[i]);
      rowWeights[i] += Math.abs(got.rowWeights[i] - want.rowWeights[i]);
    }
  }
  for (let i = 0; i < b.n; i++) {
    const x = o.beta * (seqLogps[i] - b.refLogps[i] - want.kl);
    const e = Math.exp(-Math.abs(x));
    const expErr = (6 + 5 * Math.abs(x)) * F32_EPS * e;
    losses[i] += Math.abs(b.labelWeights[i]) * expErr;
    rowWeights[i] += (Math.abs(b.labelWeights[i]) * o.beta * expErr) / o.rowsTotal;
  }
  return { want, atol: { losses, rowWeights, kl } };
}

async function check(gpu: Gpu, b: Batch, o: KtoOptions): Promise<Outputs> {
  const label = `(n=${b.n} T=${b.T} ${o.lossType} beta=${o.beta} rowsTotal=${o.rowsTotal})`;
  const got = await runKto(gpu, b, o);
  const sums = ktoLossRef(b.logprobs, b.T, b.refLogps, b.labelWeights, b.klLogps, b.refKlLogps, o).seqLogps;
  const magnitude = sums.map((_, i) => b.logprobs.slice(i * b.T, (i + 1) * b.T).reduce((a, x) => a + Math.abs(x), 0));
  assertAllClose(got.seqLogps, sums, reductionTolerance(b.T, magnitude), `seqLogps ${label}`);
  const { want, atol } = expectation(got.seqLogps, b, o);
  const rtol = 4 * F32_EPS;
  assertAllClose(got.kl, [want.kl], { atol: atol.kl, rtol }, `kl ${label}`);
  assertAllClose(got.losses, want.losses, { atol: atol.losses, rtol }, `losses ${label}`);
  const weightsAtol = Float64Array.from(got.weights, (_, i) => atol.rowWeights[Math.floor(i / b.T)]);
  assertAllClose(
    got.weights,
    Float64Array.from(got.weights, (_, i) => want.rowWeights[Math.floor(i / b.T)]),
    { atol: weightsAtol, rtol },
    `weights ${label}`,
  );
  return got;
}

/**
 * n rows of T tokens with log-probs in [-3, 0) and 0 at 1..7 ignored prompt positions and 0..4 padding ones; the
 * reference's row sums sit at the given log-ratios from the policy's, and the KL rows' policy - reference mean is
 * `klMean`.
 */
function batch(n: number, T: number, seed: number, ratios: number[], labelWeights: number[], klMean: number): Batch {
  const logprobs = uniform(n * T, seed, 1.5).map((x) => x - 1.5);
  for (let i = 0; i < n; i++) {
    const [prompt, padding] = [1 + ((5 * i) % 7), (3 * i) % 5];
    logprobs.fill(0, i * T, i * T + prompt);
    logprobs.fill(0, (i + 1) * T - padding, (i + 1) * T);
  }
  const sums = new Float64Array(n);
  for (let i = 0; i < n * T; i++) sums[Math.floor(i / T)] += logprobs[i];
  const refKlLogps = uniform(n, seed + 1, 20).map((x) => x - 60);
  const klLogps = Float32Array.from(refKlLogps, (v, i) => v + klMean + (i % 2 ? 0.3 : -0.3) * (i < n - (n % 2) ? 1 : 0));
  return {
    n,
    T,
    logprobs,
    refLogps: Float32Array.from(sums, (v, i) => v - ratios[i]),
    labelWeights: Float32Array.from(labelWeights),
    klLogps,
    refKlLogps,
  };
}

gpuTest('kto and apo_zero_unpaired on rows over and under the workgroup size, the KL positive or clamped', async ({ device }) => {
  const gpu = new Gpu(device);
  const ratios = [-2.5, 0.8, 4, -0.3, 1.7];
  const labelWeights = [1, -1.33, 0.7, -0.5, 1];
  for (const T of [37, 301]) {
    for (const klMean of [0.9, -0.6]) {
      const b = batch(5, T, 10 + T, ratios, labelWeights, klMean);
      for (const beta of [0.1, 2]) {
        const got = await check(gpu, b, { lossType: 'kto', beta, rowsTotal: 8 });
        if (klMean < 0) assertAllClose(got.kl, [0], { atol: 0, rtol: 0 }, 'kl clamped');
        await check(gpu, b, { lossType: 'apo_zero_unpaired', beta, rowsTotal: 8 });
      }
    }
  }
});
