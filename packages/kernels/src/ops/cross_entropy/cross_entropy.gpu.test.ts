// cross_entropy on the GPU against its float64 reference: vocabularies smaller than the
// workgroup, not a multiple of it, and large with logits ~ +-80 (row maxima placed at the first
// and last column, targets there too); ignored rows, zero and negative weights; the backward
// zeroes ignored rows without reading them; grids folded at 3 workgroups per dimension.
import { assertAllClose, F32_EPS, gpuTest, reductionTolerance, type Tolerance } from '@webtune/harness/page';
import { type Dispatch, Gpu } from '../../runtime/gpu.ts';
import { assertFolded, foldingGpu } from '../../testing/folding.ts';
import { randint, uniform } from '../../testing/random.ts';
import { softcapRef } from '../elementwise/elementwise.ref.ts';
import { softcap } from '../elementwise/elementwise.ts';
import { type CrossEntropyRef, crossEntropyBackwardRef, crossEntropyForwardRef } from './cross_entropy.ref.ts';
import { crossEntropyBackward, crossEntropyForward, IGNORE_INDEX } from './cross_entropy.ts';

const EXACT: Tolerance = { atol: 0, rtol: 0 };
/** The smallest normal float32: WGSL may flush anything below it to zero. */
const F32_MIN_NORMAL = 2 ** -126;

/**
 * dlogits = w * (exp(x - lse) - onehot). An error e in lse is a relative error e in every
 * probability; exp adds its own (WGSL allows 3 + 2|arg| ULP) and its argument's rounding,
 * together under 8 eps (1 + |arg|). Probabilities and products below the smallest normal may
 * flush to zero.
 */
function backwardTolerance(logits: Float32Array, ref: CrossEntropyRef, weights: ArrayLike<number>, V: number): Tolerance {
  const lseTol = reductionTolerance(V, ref.magnitude);
  const atol = new Float64Array(logits.length);
  for (let i = 0; i < weights.length; i++) {
    const lseErr = (lseTol.atol as Float64Array)[i] + lseTol.rtol * Math.abs(ref.lse[i]);
    for (let j = 0; j < V; j++) {
      const arg = logits[i * V + j] - ref.lse[i];
      const w = Math.abs(weights[i]);
      atol[i * V + j] = w * Math.exp(arg) * (lseErr + 8 * F32_EPS * (1 + Math.abs(arg))) + F32_MIN_NORMAL * Math.max(1, w);
    }
  }
  return { atol, rtol: 4 * F32_EPS };
}

function rows(x: ArrayLike<number>, V: number, which: number[]): number[] {
  return which.flatMap((i) => Array.from(x).slice(i * V, i * V + V));
}

/**
 * Forward, then the backward on the forward's lse, on N >= 6 rows of logits uniform in +-scale:
 * row 0's max and target at column V-1, row 1's max at V-1 with target 0, row 4's max at column 0;
 * rows 2 (IGNORE_INDEX) and 3 (target == V) ignored; row 5 has weight 0; other weights in +-1.
 */
async function check(gpu: Gpu, N: number, V: number, scale: number, seed: number): Promise<Dispatch[]> {
  const logits = uniform(N * V, seed, scale);
  const targets = randint(N, seed + 1, V);
  const weights = uniform(N, seed + 2);
  targets.set([V - 1, 0, IGNORE_INDEX, V]);
  weights[5] = 0;
  for (const [row, col] of [
    [0, V - 1],
    [1, V - 1],
    [4, 0],
  ]) {
    logits[row * V + col] = 1.5 * scale;
  }
  const L = gpu.upload(logits, [N, V], 'logits');
  const T = gpu.upload(targets, [N], 'targets');
  const W = gpu.upload(weights, [N], 'weights');
  const logprobs = gpu.tensor([N], 'logprobs');
  const lse = gpu.tensor([N], 'lse');
  const forward = await crossEntropyForward(gpu, { logits: L, targets: T, logprobs, lse });
  gpu.run(...forward);
  const ref = crossEntropyForwardRef(logits, targets, V);
  const label = `(N=${N} V=${V} logits ~ +-${scale})`;
  const tol = reductionTolerance(V, ref.magnitude);
  const gotLogprobs = await gpu.read(logprobs);
  assertAllClose(await gpu.read(lse), ref.lse, tol, `lse ${label}`);
  assertAllClose(gotLogprobs, ref.logprobs, tol, `logprobs ${label}`);
  assertAllClose(gotLogprobs.subarray(2, 4), [0, 0], EXACT, `ignored rows' logprobs ${label}`);

  const backward = await crossEntropyBackward(gpu, { logits: L, targets: T, lse, weights: W });
  gpu.run(...backward);
  const got = await gpu.read(L);
  assertAllClose(got, crossEntropyBackwardRef(logits, targets, weights, V), backwardTolerance(logits, ref, weights, V), `dlogits ${label}`);
  assertAllClose(rows(got, V, [2, 3, 5]), new Float64Array(3 * V), EXACT, `dlogits of ignored and zero-weight rows ${label}`);
  for (const t of [L, T, W, logprobs, lse]) t.buffer.destroy();
  return [...forward, ...backward];
}

gpuTest('vocabulary smaller than the workgroup, and not a multiple of it', async ({ device }) => {
  const gpu = new Gpu(device);
  await check(gpu, 7, 50, 4, 10);
  await check(gpu, 9, 300, 2, 20);
});

gpuTest('large vocabulary (several backward chunks) with logits ~ +-80', async ({ device }) => {
  const gpu = new Gpu(device);
  await check(gpu, 6, 5000, 80, 30);
});

gpuTest('backward writes exact zeros on ignored and zero-weight rows without reading them (NaN there)', async ({ device }) => {
  const gpu = new Gpu(device);
  const [N, V] = [4, 33];
  const logits = uniform(N * V, 40, 5);
  const targets = Uint32Array.from([7, IGNORE_INDEX, 32, 0]);
  const weights = Float32Array.from([0.5, 1, 0, -2]);
  logits.fill(Number.NaN, 1 * V, 3 * V);
  const ref = crossEntropyForwardRef(logits, targets, V);
  const L = gpu.upload(logits, [N, V], 'logits');
  const T = gpu.upload(targets, [N], 'targets');
  const W = gpu.upload(weights, [N], 'weights');
  const lse = gpu.upload(Float32Array.from(ref.lse), [N], 'lse');
  gpu.run(...(await crossEntropyBackward(gpu, { logits: L, targets: T, lse, weights: W })));
  const got = await gpu.read(L);
  assertAllClose(rows(got, V, [1, 2]), new Float64Array(2 * V), EXACT, 'dlogits of rows 1 and 2');
  const want = crossEntropyBackwardRef(logits, targets, weights, V);
  const tol = backwardTolerance(logits, ref, weights, V);
  const keep = [0, 3];
  assertAllClose(
    rows(got, V, keep),
    rows(want, V, keep),
    { atol: rows(tol.atol as Float64Array, V, keep), rtol: tol.rtol },
    'dlogits of rows 0 and 3',
  );
  for (const t of [L, T, W, lse]) t.buffer.destroy();
});

gpuTest('softcapped logits: the softcap op, then the backward through it (Gemma final_logit_softcapping)', async ({ device }) => {
  const gpu = new Gpu(device);
  const [N, V, cap] = [5, 300, 10];
  const z = uniform(N * V, 60, 40); // |z| up to 40: well past the cap, where tanh saturates
  z.set([1e-3, -1e-3, 0, 1e6, -1e6]); // tiny, zero and huge values on row 0
  const targets = Uint32Array.from([7, IGNORE_INDEX, 299, 0, 150]);
  const weights = Float32Array.from([0.5, 1, -2, 0.25, 1]);
  const L = gpu.upload(z, [N, V], 'logits');
  const T = gpu.upload(targets, [N], 'targets');
  const W = gpu.upload(weights, [N], 'weights');
  const lse = gpu.tensor([N], 'lse');
  const logprobs = gpu.tensor([N], 'logprobs');
  gpu.run(...(await softcap(gpu, L, cap)), ...(await crossEntropyForward(gpu, { logits: L, targets: T, logprobs, lse })));
  const y = await gpu.read(L);
  // exp(-2|u|) (3 + 2|u| ULP for |u| <= 8) and four more roundings, each relative to y; the cap bounds |y|.
  const want = softcapRef(z, cap);
  const capTol = Float64Array.from(z, (v) => 32 * F32_EPS * (1 + Math.min(Math.abs(v / cap), 8)) * cap);
  assertAllClose(y, want, { atol: capTol, rtol: 0 }, 'softcap(z)');
  assertAllClose(y.subarray(2, 5), [0, cap, -cap], EXACT, 'softcap of 0 and of +-1e6');
  // The backward from the GPU's own capped values, so that only the backward's errors are measured.
  const ref = crossEntropyForwardRef(y, targets, V);
  const lseGpu = await gpu.read(lse);
  gpu.write(lse, Float32Array.from(ref.lse));
  gpu.run(...(await crossEntropyBackward(gpu, { logits: L, targets: T, lse, weights: W }, { softcap: cap })));
  const got = await gpu.read(L);
  // The uncapped gradient's tolerance ((1 - t^2) <= 1 only shrinks it), plus 1 - t^2's own absolute error (t = y / cap
  // and t^2 rounded, then the subtraction: under 4 eps) times the uncapped gradient it multiplies.
  const dy = crossEntropyBackwardRef(y, targets, weights, V);
  const base = backwardTolerance(y, ref, weights, V).atol as Float64Array;
  const atol = Float64Array.from(base, (a, i) => a + 4 * F32_EPS * Math.abs(dy[i]));
  assertAllClose(got, crossEntropyBackwardRef(y, targets, weights, V, cap), { atol, rtol: 4 * F32_EPS }, 'dz through the cap');
  assertAllClose(lseGpu, ref.lse, reductionTolerance(V, ref.magnitude), 'lse of the capped logits');
  for (const t of [L, T, W, lse, logprobs]) t.buffer.destroy();
});

gpuTest('folded grids: a few rows, at most 3 workgroups per dimension', async ({ device }) => {
  // 7 rows of one workgroup each, forward and backward: 3 x 3 grids with 2 spare.
  assertFolded(await check(foldingGpu(device), 7, 50, 4, 50), 'cross_entropy');
});
