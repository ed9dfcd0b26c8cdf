// dpo_loss on the GPU against its float64 reference: odd T below and above the workgroup size,
// prompt and padding zeros in the mask (NaN log-probs under the padding: never read), every
// loss type (simpo with its margin and NLL weight too, orpo with its whole rows' NLL), label smoothing, pairsTotal > P,
// sums ~ -1800; orpo's log odds on both sides of log1mexp's branch, near 0 and far below; extreme margins
// (|beta z| = 1e4) finite and exact; ln 2 at step 0; grids folded at 3 workgroups per dimension. All outputs share
// one buffer, as the builder allows.
import { assertAllClose, F32_EPS, gpuTest, reductionTolerance, type Tolerance } from '@webtune/harness/page';
import { type Dispatch, Gpu } from '../../runtime/gpu.ts';
import { assertFolded, foldingGpu } from '../../testing/folding.ts';
import { uniform } from '../../testing/random.ts';
import { sharedOutputs } from '../../testing/shared-outputs.ts';
import { type DpoPairsRef, dpoLossRef, dpoPairsRef, dpoSumsRef } from './dpo_loss.ref.ts';
import { type DpoOptions, type DpoTensors, dpoLoss } from './dpo_loss.ts';

const EXACT: Tolerance = { atol: 0, rtol: 0 };
const PAIR_OUTPUTS = ['losses', 'chosenRewards', 'rejectedRewards', 'tokenWeights'] as const;

interface Batch {
  P: number;
  T: number;
  logprobs: Float32Array; // [2P, T]
  mask: Float32Array; // [2P, T]
  refLogps: Float32Array; // [2P]
}

type Outputs = Record<'seqLogps' | 'counts' | 'losses' | 'chosenRewards' | 'rejectedRewards' | 'weights', Float32Array> & {
  rowLogps?: Float32Array;
};

async function runDpo(gpu: Gpu, b: Batch, options: DpoOptions): Promise<[Outputs, Dispatch[]]> {
  const S = 2 * b.P;
  const shapes: Record<string, number[]> = {
    seqLogps: [S],
    counts: [S],
    losses: [b.P],
    chosenRewards: [b.P],
    rejectedRewards: [b.P],
    weights: [S, b.T],
  };
  if (options.lossType === 'orpo') shapes.rowLogps = [S];
  const out = sharedOutputs(gpu, shapes, 'dpo outputs');
  const logprobs = gpu.upload(b.logprobs, [S, b.T], 'logprobs');
  const mask = gpu.upload(b.mask, [S, b.T], 'mask');
  const refLogps = gpu.upload(b.refLogps, [S], 'refLogps');
  const tensors = { logprobs, mask, refLogps, ...out.views } as DpoTensors;
  const dispatches = await dpoLoss(gpu, tensors, options);
  gpu.run(...dispatches);
  const outputs = (await out.readAndFree()) as Outputs;
  for (const t of [logprobs, mask, refLogps]) t.buffer.destroy();
  return [outputs, dispatches];
}

/**
 * The pair stage's expected outputs from the sequence sums it read, and their tolerances. The
 * float32 arithmetic on pc, pr, rc, rr (ipo averages, differences, z, beta z) and the float32
 * beta and label smoothing each err by under 4 eps of themselves: we move each input by that
 * and add up how far every output moves (the loss's conditioning, a hinge kink within reach
 * included). The sigmoid loss adds its own evaluation: exp(-|beta z|) errs by (6 + 5|beta z|) eps
 * relative (WGSL's exp and its argument's rounding), and its gradient's two terms round
 * against each other.
 */
function pairExpectation(seqLogps: ArrayLike<number>, counts: ArrayLike<number>, refLogps: ArrayLike<number>, o: DpoOptions) {
  const want = dpoPairsRef(seqLogps, counts, refLogps, o);
  const P = want.losses.length;
  const scaled = (x: ArrayLike<number>, from: number, f: number) => Float64Array.from(x, (v, i) => (i >= from && i < from + P ? v * f : v));
  const perturbed = (f: number): Parameters<typeof dpoPairsRef>[] => [
    [scaled(seqLogps, 0, f), counts, refLogps, o],
    [scaled(seqLogps, P, f), counts, refLogps, o],
    [seqLogps, counts, scaled(refLogps, 0, f), o],
    [seqLogps, counts, scaled(refLogps, P, f), o],
    [seqLogps, counts, refLogps, { ...o, beta: o.beta * f }],
    [seqLogps, counts, refLogps, { ...o, labelSmoothing: o.labelSmoothing * f }],
    [seqLogps, counts, refLogps, { ...o, gammaOverBeta: (o.gammaOverBeta ?? 0) * f }],
    [seqLogps, counts, refLogps, { ...o, chosenWeight: (o.chosenWeight ?? 0) * f }],
  ];
  const up = perturbed(1 + 4 * F32_EPS);
  const down = perturbed(1 - 4 * F32_EPS);
  const atol = Object.fromEntries(PAIR_OUTPUTS.map((k) => [k, new Float64Array(want[k].length)])) as Pick<
    DpoPairsRef,
    (typeof PAIR_OUTPUTS)[number]
  >;
  for (let i = 0; i < up.length; i++) {
    const [a, b] = [dpoPairsRef(...up[i]), dpoPairsRef(...down[i])];
    for (const k of PAIR_OUTPUTS) {
      for (let j = 0; j < want[k].length; j++) atol[k][j] += Math.max(Math.abs(a[k][j] - want[k][j]), Math.abs(b[k][j] - want[k][j]));
    }
  }
  const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
  if (o.lossType === 'orpo') {
    // log1mexp(x) = log(1 - e^x) in float32: below -ln 2, log1p of -exp(x), whose exp errs by (3 + 2|x|) ulp and the
    // series by a few eps, relative to the result; above, log(-expm1(x)), the series' few eps of relative error in
    // its argument plus log's 3 ulp (or 2^-21 absolute at 1/2). Its derivative's 1 / expm1(x) errs by (6 + 2|x|) eps.
    const l1 = (x: number) => (x < -Math.LN2 ? Math.log1p(-Math.exp(x)) : Math.log(-Math.expm1(x)));
    const l1Err = (x: number) => F32_EPS * (x < -Math.LN2 ? (12 + 2 * Math.abs(x)) * Math.abs(l1(x)) : 12 + 4 * Math.abs(l1(x)));
    const dzErr = (x: number) => F32_EPS * (6 + 2 * Math.abs(x));
    for (let p = 0; p < P; p++) {
      const [ac, ar] = [want.chosenRewards[p] / o.beta, want.rejectedRewards[p] / o.beta];
      const lo = ac - ar - (l1(ac) - l1(ar));
      const loErr = l1Err(ac) + l1Err(ar) + 4 * F32_EPS * Math.abs(lo);
      const s = sigmoid(-lo);
      const expErr = 8 * F32_EPS * (1 + Math.abs(lo)) * Math.exp(-Math.abs(lo));
      atol.losses[p] += o.beta * (s * loErr + expErr);
      const sErr = s * (1 - s) * loErr + expErr + 2 * F32_EPS * s;
      const [nc, nr] = [Math.max(counts[p], 1), Math.max(counts[P + p], 1)];
      const dzc = -1 / Math.expm1(ac);
      const dzr = 1 / Math.expm1(ar);
      atol.tokenWeights[p] += ((o.beta * Math.abs(dzc)) / o.pairsTotal / nc) * (sErr + s * dzErr(ac));
      atol.tokenWeights[P + p] += ((o.beta * Math.abs(dzr)) / o.pairsTotal / nr) * (sErr + s * dzErr(ar));
    }
  }
  if (o.lossType === 'sigmoid' || o.lossType === 'simpo') {
    const ls = o.labelSmoothing;
    const simpo = o.lossType === 'simpo';
    for (let p = 0; p < P; p++) {
      const bz = want.chosenRewards[p] - want.rejectedRewards[p] - (simpo ? o.beta * (o.gammaOverBeta ?? 0) : 0);
      const expErr = 8 * F32_EPS * (1 + Math.abs(bz)) * Math.exp(-Math.abs(bz));
      atol.losses[p] += expErr;
      const dzTerms = ls * sigmoid(bz) + (1 - ls) * sigmoid(-bz);
      const weightErr = (o.beta * (expErr + 2 * F32_EPS * dzTerms)) / o.pairsTotal;
      // simpo's weights are per token of the averaged row.
      atol.tokenWeights[p] += weightErr / (simpo ? Math.max(counts[p], 1) : 1);
      atol.tokenWeights[P + p] += weightErr / (simpo ? Math.max(counts[P + p], 1) : 1);
    }
  }
  return { want, atol };
}

/** Runs the op and checks every output; returns them and the dispatches for extra checks. */
async function check(gpu: Gpu, b: Batch, o: DpoOptions): Promise<Outputs & { dispatches: Dispatch[] }> {
  const label = `(P=${b.P} T=${b.T} ${o.lossType} beta=${o.beta} ls=${o.labelSmoothing} pairsTotal=${o.pairsTotal} gamma/beta=${o.gammaOverBeta ?? 0} chosenWeight=${o.chosenWeight ?? 0})`;
  const [got, dispatches] = await runDpo(gpu, b, o);
  const sums = dpoSumsRef(b.logprobs, b.mask, b.T);
  assertAllClose(got.counts, sums.counts, EXACT, `counts ${label}`);
  assertAllClose(got.seqLogps, sums.seqLogps, reductionTolerance(b.T, sums.magnitude), `seqLogps ${label}`);
  const { want, atol } = pairExpectation(got.seqLogps, got.counts, b.refLogps, o);
  for (const k of ['losses', 'chosenRewards', 'rejectedRewards'] as const) {
    assertAllClose(got[k], want[k], { atol: atol[k], rtol: 4 * F32_EPS }, `${k} ${label}`);
  }
  const row = (i: number) => Math.floor(i / b.T);
  const weights = Float64Array.from(b.mask, (m, i) => want.tokenWeights[row(i)] * m + want.rowWeights[row(i)]);
  const weightsAtol = Float64Array.from(b.mask, (m, i) => atol.tokenWeights[row(i)] * Math.abs(m));
  if (o.lossType === 'orpo') {
    const rows = dpoLossRef(b.logprobs, b.mask, b.refLogps, b.T, o).rowLogps;
    const magnitude = rows.map((_, s) => b.logprobs.slice(s * b.T, (s + 1) * b.T).reduce((a, x) => a + Math.abs(x), 0));
    assertAllClose(got.rowLogps ?? [], rows, reductionTolerance(b.T, magnitude), `rowLogps ${label}`);
  }
  assertAllClose(got.weights, weights, { atol: weightsAtol, rtol: 4 * F32_EPS }, `weights ${label}`);
  return { ...got, dispatches };
}

/**
 * P pairs of T tokens with log-probs in [-12, 0): each row a prompt of 1..7 tokens, then its
 * completion, then 0..4 padding tokens holding NaN. The reference sits so that the chosen and
 * rejected policy - reference ratios are the given ones (so z varies in sign and size).
 */
function batch(P: number, T: number, seed: number, chosenRatio: number[], rejectedRatio: number[]): Batch {
  const S = 2 * P;
  const logprobs = uniform(S * T, seed, 6).map((x) => x - 6);
  const mask = new Float32Array(S * T);
  for (let s = 0; s < S; s++) {
    const [prompt, padding] = [1 + ((5 * s) % 7), (3 * s) % 5];
    mask.fill(1, s * T + prompt, (s + 1) * T - padding);
    logprobs.fill(Number.NaN, (s + 1) * T - padding, (s + 1) * T);
  }
  const sums = dpoSumsRef(logprobs, mask, T).seqLogps;
  const refLogps = Float32Array.from(sums, (v, s) => v - (s < P ? chosenRatio[s] : rejectedRatio[s - P]));
  return { P, T, logprobs, mask, refLogps };
}

const opts = (lossType: DpoOptions['lossType'], beta: number, labelSmoothing: number, pairsTotal: number): DpoOptions => ({
  beta,
  lossType,
  labelSmoothing,
  pairsTotal,
});

gpuTest('every loss type on odd T with prompt and padding zeros, pairsTotal > P', async ({ device }) => {
  const gpu = new Gpu(device);
  // Pair 2 of the short rows: beta z = 21, a loss of ~1e-9 that must keep its relative accuracy.
  const shortRows = batch(3, 37, 10, [-1.5, 0.8, 30], [1, -0.4, -40]);
  const longRows = batch(2, 301, 20, [2.5, -4], [-0.5, 1]); // sums ~ -1800 over more tokens than the workgroup
  for (const b of [shortRows, longRows]) {
    const simpo = (ls: number) => ({ ...opts('simpo', 0.3, ls, 8), gammaOverBeta: 0.4, chosenWeight: 0.01 });
    for (const o of [opts('sigmoid', 0.3, 0, 8), opts('sigmoid', 0.3, 0.1, 8), opts('ipo', 0.3, 0, 8), opts('hinge', 0.3, 0, 8)])
      await check(gpu, b, o);
    for (const o of [simpo(0), simpo(0.1)]) await check(gpu, b, o);
    await check(gpu, wholeRows(b), { ...opts('orpo', 0.3, 0, 8), chosenWeight: 0.01 });
  }
});

/** orpo reads whole rows: padding holds 0, as crossEntropyForward writes for ignored targets, not NaN. */
const wholeRows = (b: Batch): Batch => ({ ...b, logprobs: b.logprobs.map((x) => (Number.isNaN(x) ? 0 : x)) });

gpuTest('orpo: log odds on both sides of the -ln 2 branch, near 0 and far below', async ({ device }) => {
  const gpu = new Gpu(device);
  // Each row's completion log-probs scaled so that its average is the one given: the pairs' log odds take every
  // branch of log1mexp, with averages close to 0 (where log(1 - exp(x)) without expm1 would lose 4 digits).
  const averages = [
    [-0.002, -0.05],
    [-0.4, -0.9],
    [-0.7, -0.69],
    [-3, -0.1],
    [-11, -6],
  ];
  const P = averages.length;
  for (const T of [37, 301]) {
    const b = wholeRows(batch(P, T, 50 + T, new Array(P).fill(0), new Array(P).fill(0)));
    const sums = dpoSumsRef(b.logprobs, b.mask, T);
    for (let s = 0; s < 2 * P; s++) {
      const f = averages[s % P][s < P ? 0 : 1] / (sums.seqLogps[s] / sums.counts[s]);
      for (let t = 0; t < T; t++) if (b.mask[s * T + t]) b.logprobs[s * T + t] *= f;
    }
    for (const beta of [0.1, 2]) await check(gpu, b, { ...opts('orpo', beta, 0, 6), chosenWeight: 1 / 200 });
  }
});

gpuTest('orpo: an average log-prob of 0 (infinite odds) gives a loss of +inf, for the halt guard', async ({ device }) => {
  const gpu = new Gpu(device);
  const b = wholeRows(batch(2, 37, 70, [0, 0], [0, 0]));
  for (let t = 0; t < b.T; t++) if (b.mask[t]) b.logprobs[t] = 0; // pair 0's chosen completion: every token certain
  const [got] = await runDpo(gpu, b, { ...opts('orpo', 0.1, 0, 2), chosenWeight: 0.01 });
  assertAllClose([got.losses[0]], [Number.POSITIVE_INFINITY], { atol: 0, rtol: 0 }, 'loss of pair 0');
  if (!Number.isFinite(got.losses[1])) throw new Error(`pair 1's loss is ${got.losses[1]}, expected finite`);
});

gpuTest('extreme margins (|beta z| = 1e4): losses and weights finite and exact', async ({ device }) => {
  const gpu = new Gpu(device);
  // Completion log-probs of -0.5 sum exactly; pair 0 has z = 100 - (-100) = 200, pair 1 z = -200.
  const [P, T] = [2, 9];
  const mask = new Float32Array(2 * P * T);
  for (let s = 0; s < 2 * P; s++) mask.fill(1, s * T + 1, s * T + 1 + 4 + s);
  const logprobs = Float32Array.from(mask, (m) => (m ? -0.5 : -3));
  const sums = dpoSumsRef(logprobs, mask, T).seqLogps;
  const refLogps = Float32Array.from(sums, (v, s) => v - [100, -100, -100, 100][s]);
  const b: Batch = { P, T, logprobs, mask, refLogps };
  const exact = { atol: 0, rtol: 4 * F32_EPS };
  const hand = [
    [opts('sigmoid', 50, 0, 2), [0, 1e4], [-0, 25]],
    [opts('sigmoid', 50, 0.1, 2), [1000, 9000], [-2.5, 22.5]], // label smoothing pulls back: dloss/dz = beta * ls
    [opts('hinge', 50, 0, 2), [0, 10001], [0, 25]],
  ] as const;
  for (const [o, losses, chosenWeights] of hand) {
    const got = await check(gpu, b, o);
    assertAllClose(got.losses, losses, exact, `losses (${o.lossType} ls=${o.labelSmoothing})`);
    assertAllClose([got.weights[1], got.weights[T + 1]], chosenWeights, exact, `chosen weights (${o.lossType} ls=${o.labelSmoothing})`);
    assertAllClose(got.chosenRewards, [5000, -5000], exact, 'chosen rewards');
  }
  await check(gpu, b, opts('ipo', 50, 0, 2));
});

gpuTest('loss is ln 2 at step 0 (policy = reference, sigmoid)', async ({ device }) => {
  const gpu = new Gpu(device);
  // Log-probs in eighths: every partial sum is exact in float32, so z is exactly 0 on the GPU.
  const b = batch(3, 37, 30, [0, 0, 0], [0, 0, 0]);
  b.logprobs = b.logprobs.map((x) => Math.round(x * 8) / 8);
  b.refLogps = Float32Array.from(dpoSumsRef(b.logprobs, b.mask, b.T).seqLogps);
  const got = await check(gpu, b, opts('sigmoid', 0.1, 0, 3));
  assertAllClose(got.losses, [Math.LN2, Math.LN2, Math.LN2], { atol: 0, rtol: 8 * F32_EPS }, 'losses at step 0');
});

gpuTest('folded grids: 4 pairs, at most 3 workgroups per dimension', async ({ device }) => {
  // 8 sequences of one workgroup each, in both dispatches: 3 x 3 grids with 1 spare.
  const b = batch(4, 37, 40, [-1.5, 0.8, 3, 0], [1, -0.4, -4, 0.2]);
  const { dispatches } = await check(foldingGpu(device), b, opts('sigmoid', 0.3, 0.1, 4));
  assertFolded(dispatches, 'dpo_loss');
});
