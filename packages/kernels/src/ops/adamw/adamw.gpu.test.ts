// adamw on the GPU against the float64 torch-style reference: several replayed steps with
// update() in between and clipping active, clipping off or not binding, and a grid folded past
// the per-dimension limit (the device's, and a tiny one). Each step is compared from the GPU's own state before it, so the
// tolerance is one step's rounding. Counting roundings (the f32 constants, the clip factor, the
// products and sums, sqrt, the divisions, the decay) gives about 24 of param's magnitude, 10 of
// m's and 16 of v's (see AdamWRefResult); the checks allow 32, 16 and 24.
import { assertAllClose, F32_EPS, gpuTest } from '@webtune/harness/page';
import { Gpu } from '../../runtime/gpu.ts';
import { assertFolded, foldingGpu } from '../../testing/folding.ts';
import { padded, readPadded } from '../../testing/padded.ts';
import { uniform } from '../../testing/random.ts';
import { fill } from '../elementwise/elementwise.ts';
import { sumOfSquares } from '../sumsq/sumsq.ts';
import { type AdamWState, adamwStepRef } from './adamw.ref.ts';
import { type AdamWHyper, type AdamWTensors, adamw } from './adamw.ts';

const HYPER: AdamWHyper = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 1 };

const scaled = (magnitude: Float64Array, roundings: number) => ({ atol: magnitude.map((m) => roundings * F32_EPS * m), rtol: 0 });

async function readState(gpu: Gpu, t: AdamWTensors): Promise<AdamWState> {
  return { param: await readPadded(gpu, t.param), m: await readPadded(gpu, t.m), v: await readPadded(gpu, t.v) };
}

/**
 * A random state (v non-negative) and gradient of `n` elements drawn from seeds `seed` (grad) to `seed + 3`, on the
 * GPU with param, m and v padded (nothing past n is written) and sumsq `sumsq`.
 */
function randomState(gpu: Gpu, n: number, seed: number, gradScale: number, sumsq = gpu.tensor([1], 'sumsq')) {
  const grad = uniform(n, seed, gradScale);
  const [param, m, v] = [uniform(n, seed + 1, 100), uniform(n, seed + 2, 10), uniform(n, seed + 3, 100).map(Math.abs)];
  const t: AdamWTensors = {
    param: padded(gpu, param, 'param'),
    grad: gpu.upload(grad, [n], 'grad'),
    m: padded(gpu, m, 'm'),
    v: padded(gpu, v, 'v'),
    sumsq,
  };
  return { grad, before: { param, m, v } satisfies AdamWState, t };
}

/** Compare the GPU state after a step against the reference step from the state before it. */
function assertStep(got: AdamWState, before: AdamWState, grad: Float32Array, sumsq: number, hyper: AdamWHyper, lr: number, step: number) {
  const want = adamwStepRef(before, grad, sumsq, hyper, { lr, step });
  const label = (name: string) => `${name} after step ${step} (n=${grad.length}, maxGradNorm=${hyper.maxGradNorm})`;
  assertAllClose(got.param, want.param, scaled(want.paramMagnitude, 32), label('param'));
  assertAllClose(got.m, want.m, scaled(want.mMagnitude, 16), label('m'));
  assertAllClose(got.v, want.v, scaled(want.v, 24), label('v'));
}

gpuTest('three replayed steps with update(), clipping active, odd size', async ({ device }) => {
  const gpu = new Gpu(device);
  const n = 4099; // a partial vec4 and a partial workgroup; padded(): nothing past n is written
  const zeros = new Float32Array(n);
  const t: AdamWTensors = {
    param: padded(gpu, uniform(n, 1), 'param'),
    grad: padded(gpu, zeros, 'grad'),
    m: padded(gpu, zeros, 'm'),
    v: padded(gpu, zeros, 'v'),
    sumsq: gpu.tensor([1], 'sumsq'),
  };
  const step = await adamw(gpu, t, HYPER);
  const norm = await sumOfSquares(gpu, t.sumsq, t.grad);
  let before = await readState(gpu, t);
  for (const [k, lr] of [0.05, 0.02, 0.01].entries()) {
    const grad = uniform(n, 10 + k, 10); // norm ~ 370: clipped to 1
    gpu.write(t.grad, grad);
    step.update({ lr, step: k + 1 });
    gpu.run(...norm, ...step.dispatches);
    const [sumsq] = await gpu.read(t.sumsq); // the value the kernel clipped with
    const after = await readState(gpu, t);
    assertStep(after, before, grad, sumsq, HYPER, lr, k + 1);
    before = after;
  }
});

gpuTest('no clipping when maxGradNorm <= 0 (NaN in sumsq stays out) or above the norm; a later step', async ({ device }) => {
  const gpu = new Gpu(device);
  const n = 1001;
  for (const [maxGradNorm, seed] of [
    [0, 1],
    [1e9, 2],
  ] as const) {
    const hyper = { ...HYPER, maxGradNorm };
    const { grad, before, t } = randomState(gpu, n, seed, 1000, gpu.upload([Number.NaN], [1], 'sumsq'));
    const norm = maxGradNorm > 0 ? await sumOfSquares(gpu, t.sumsq, t.grad) : [];
    const step = await adamw(gpu, t, hyper);
    step.update({ lr: 3e-3, step: 7 });
    gpu.run(...norm, ...step.dispatches);
    const [sumsq] = await gpu.read(t.sumsq);
    assertStep(await readState(gpu, t), before, grad, sumsq, hyper, 3e-3, 7);
  }
});

gpuTest('past the per-dimension workgroup limit', async ({ device }) => {
  const gpu = new Gpu(device);
  const n = (device.limits.maxComputeWorkgroupsPerDimension + 100) * 64 * 4 + 3;
  const hyper = { ...HYPER, maxGradNorm: 0 };
  const [param, grad, m, v] = ['param', 'grad', 'm', 'v'].map((label) => gpu.tensor([n], label));
  const step = await adamw(gpu, { param, grad, m, v, sumsq: gpu.tensor([1], 'sumsq') }, hyper);
  step.update({ lr: 0.1, step: 1 });
  gpu.run(...(await fill(gpu, param, 2)), ...(await fill(gpu, grad, 1)), ...step.dispatches);
  const got = await gpu.read(param);
  // Every element computes the same thing from the same values, so all must match bit for bit.
  const odd = got.findIndex((x) => x !== got[0]);
  if (odd >= 0) throw new Error(`param[${odd}] = ${got[odd]} but param[0] = ${got[0]}: not every element was updated once`);
  const want = adamwStepRef({ param: [2], m: [0], v: [0] }, [1], 0, hyper, { lr: 0.1, step: 1 });
  assertAllClose([got[0]], want.param, scaled(want.paramMagnitude, 32), `param (n=${n})`);
  for (const t of [param, grad, m, v]) t.buffer.destroy();
});

gpuTest('folded grid: a step on a few workgroups, at most 3 per dimension', async ({ device }) => {
  const gpu = foldingGpu(device);
  const n = 7 * 256 - 3; // 7 workgroups of 64 vec4s: a 3 x 3 grid with 2 spare; a partial vec4
  const { grad, before, t } = randomState(gpu, n, 40, 10);
  const step = await adamw(gpu, t, HYPER);
  assertFolded(step.dispatches, 'adamw');
  step.update({ lr: 0.01, step: 3 });
  gpu.run(...(await sumOfSquares(gpu, t.sumsq, t.grad)), ...step.dispatches);
  const [sumsq] = await gpu.read(t.sumsq);
  assertStep(await readState(gpu, t), before, grad, sumsq, HYPER, 0.01, 3);
});

gpuTest('halt: a raised flag (a non-finite gradient norm) leaves param, m and v bit for bit; a lowered one steps', async ({ device }) => {
  const gpu = new Gpu(device);
  const n = 301;
  const { grad, before, t } = randomState(gpu, n, 50, 10);
  grad[7] = Number.NaN; // the norm is NaN: flagNonFinite over sumsq raises halt in the trainer
  gpu.write(t.grad, grad);
  const halt = gpu.upload(Uint32Array.of(1), [1], 'halt');
  const step = await adamw(gpu, { ...t, halt }, HYPER);
  step.update({ lr: 0.01, step: 2 });
  gpu.run(...(await sumOfSquares(gpu, t.sumsq, t.grad)), ...step.dispatches);
  const after = await readState(gpu, t);
  for (const [name, got, want] of [
    ['param', after.param, before.param],
    ['m', after.m, before.m],
    ['v', after.v, before.v],
  ] as const) {
    const moved = Array.from(got).findIndex((x, i) => !Object.is(x, want[i]));
    if (moved >= 0) throw new Error(`halted step changed ${name}[${moved}]: ${want[moved]} -> ${got[moved]}`);
  }
  grad[7] = 0.5;
  gpu.write(t.grad, grad);
  gpu.write(halt, Uint32Array.of(0));
  gpu.run(...(await sumOfSquares(gpu, t.sumsq, t.grad)), ...step.dispatches);
  const [sumsq] = await gpu.read(t.sumsq);
  assertStep(await readState(gpu, t), before, grad, sumsq, HYPER, 0.01, 2);
});
