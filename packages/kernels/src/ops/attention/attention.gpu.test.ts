// attention on the GPU against its float64 loop reference, forward and backward in one submit:
// multi-head and grouped-query heads, odd sequence lengths and head sizes, generation with a
// cache offset, large logits, batches of 2. Outputs start as NaN, so every element must be written;
// masked probabilities have an error bound of 0, so they must come out exactly 0. And every
// dispatch on a grid folded at 3 workgroups per dimension.
import { assertAllClose, F32_EPS, gpuTest, type Tolerance } from '@webtune/harness/page';
import { type Dispatch, Gpu } from '../../runtime/gpu.ts';
import { assertFolded, foldingGpu } from '../../testing/folding.ts';
import { uniform } from '../../testing/random.ts';
import { attentionBackwardRef, attentionForwardRef } from './attention.ref.ts';
import { type AttentionShape, attentionBackward, attentionForward, attentionScale } from './attention.ts';

interface Case extends AttentionShape {
  scale?: number;
  offset?: number;
  window?: number;
  /** q and k are uniform in +-these (1 by default): large ones make peaked, large-logit rows. */
  qMagnitude?: number;
  kMagnitude?: number;
}

/** The reference's error bound (in eps) as a tolerance, with reductionTolerance's slack of 8. */
const tolerance = (bound: ArrayLike<number>): Tolerance => ({ atol: Float64Array.from(bound, (b) => 8 * F32_EPS * b), rtol: 4 * F32_EPS });

async function check(gpu: Gpu, c: Case, seed: number): Promise<Dispatch[]> {
  const { B, Tq, Tk, nh, nkv, hd } = c;
  const qShape = [B, Tq, nh, hd];
  const kvShape = [B, Tk, nkv, hd];
  const scoreShape = [B, nh, Tq, Tk];
  const q = uniform(B * Tq * nh * hd, seed, c.qMagnitude ?? 1);
  const k = uniform(B * Tk * nkv * hd, seed + 1, c.kMagnitude ?? 1);
  const v = uniform(B * Tk * nkv * hd, seed + 2);
  const dout = uniform(B * Tq * nh * hd, seed + 3);
  const nan = (shape: number[], label: string) =>
    gpu.upload(new Float32Array(shape.reduce((x, y) => x * y)).fill(Number.NaN), shape, label);
  const t = {
    q: gpu.upload(q, qShape, 'q'),
    k: gpu.upload(k, kvShape, 'k'),
    v: gpu.upload(v, kvShape, 'v'),
    dout: gpu.upload(dout, qShape, 'dout'),
    out: nan(qShape, 'out'),
    scores: nan(scoreShape, 'scores'),
    probs: nan(scoreShape, 'probs'),
    dprobs: nan(scoreShape, 'dprobs'),
    dscores: nan(scoreShape, 'dscores'),
    dq: nan(qShape, 'dq'),
    dk: nan(kvShape, 'dk'),
    dv: nan(kvShape, 'dv'),
  };
  const options = { scale: c.scale ?? attentionScale(hd), offset: c.offset, window: c.window };
  const dispatches = [...(await attentionForward(gpu, t, options)), ...(await attentionBackward(gpu, t, options))];
  gpu.run(...dispatches);

  const label = `(B=${B} Tq=${Tq} Tk=${Tk} nh=${nh} nkv=${nkv} hd=${hd}${c.offset !== undefined ? ` offset=${c.offset}` : ''}${c.window ? ` window=${c.window}` : ''})`;
  const fwd = attentionForwardRef(c, q, k, v, options);
  const bwd = attentionBackwardRef(c, q, k, v, dout, options);
  const checks = [
    ['probs', fwd.probs],
    ['out', fwd.out],
    ['dq', bwd.dq],
    ['dk', bwd.dk],
    ['dv', bwd.dv],
  ] as const;
  for (const [name, want] of checks) assertAllClose(await gpu.read(t[name]), want.y, tolerance(want.bound), `${name} ${label}`);
  for (const tensor of Object.values(t)) tensor.buffer.destroy();
  return dispatches;
}

// Cases are grouped by (Tq, Tk, hd), which alone select the matmul and softmax specializations,
// so each test compiles its pipelines once (SwiftShader takes ~0.5 s per pipeline).

gpuTest('T = 7, hd = 8: multi-head (nh = nkv), grouped-query (nh = 4 nkv), large logits', async ({ device }) => {
  const gpu = new Gpu(device);
  await check(gpu, { B: 2, Tq: 7, Tk: 7, nh: 3, nkv: 3, hd: 8 }, 10);
  await check(gpu, { B: 2, Tq: 7, Tk: 7, nh: 8, nkv: 2, hd: 8 }, 11);
  // Logits of a few tens: rows dominated by one or two keys.
  await check(gpu, { B: 2, Tq: 7, Tk: 7, nh: 4, nkv: 1, hd: 8, qMagnitude: 20, kMagnitude: 4 }, 12);
});

gpuTest('T = 13, odd head sizes: multi-head with hd = 5, grouped-query with hd = 6 and a scale', async ({ device }) => {
  const gpu = new Gpu(device);
  await check(gpu, { B: 2, Tq: 13, Tk: 13, nh: 2, nkv: 2, hd: 5 }, 20);
  await check(gpu, { B: 2, Tq: 13, Tk: 13, nh: 4, nkv: 1, hd: 6, scale: 0.3 }, 21);
});

gpuTest(
  'T = 70, hd = 64 and hd = 20: every product on the tiled path (K > 16), grouped-query strides',
  async ({ device }) => {
    // Tq = Tk = 70 > 16 puts P V, dS K, dSᵀ Q and Pᵀ dO on the staged path, and hd > 16 puts
    // Q Kᵀ and dO Vᵀ there too; 70 does not divide a tile, and hd = 20 is no multiple of 16.
    const gpu = new Gpu(device);
    await check(gpu, { B: 1, Tq: 70, Tk: 70, nh: 4, nkv: 2, hd: 64 }, 25);
    await check(gpu, { B: 1, Tq: 70, Tk: 70, nh: 4, nkv: 2, hd: 20, scale: 0.3 }, 26);
  },
  { sweep: true },
);

gpuTest('generation: Tq < Tk with the cache offset, one new token, a padded cache', async ({ device }) => {
  const gpu = new Gpu(device);
  await check(gpu, { B: 2, Tq: 3, Tk: 11, nh: 4, nkv: 1, hd: 8 }, 30);
  await check(gpu, { B: 2, Tq: 1, Tk: 11, nh: 8, nkv: 2, hd: 8 }, 31);
  await check(gpu, { B: 2, Tq: 3, Tk: 11, nh: 4, nkv: 1, hd: 8, offset: 5 }, 32); // keys past i + 5 masked too
  await check(gpu, { B: 2, Tq: 3, Tk: 11, nh: 4, nkv: 1, hd: 8, window: 4 }, 33); // sliding window over the cache
});

gpuTest('sliding window shorter than the sequence (Mistral, Gemma 3 local layers): forward and backward', async ({ device }) => {
  // Same (Tq, Tk, hd) as the T = 7 test: pipelines shared.
  const gpu = new Gpu(device);
  await check(gpu, { B: 2, Tq: 7, Tk: 7, nh: 8, nkv: 2, hd: 8, window: 3 }, 14);
  await check(gpu, { B: 2, Tq: 7, Tk: 7, nh: 4, nkv: 1, hd: 8, window: 1, qMagnitude: 20, kMagnitude: 4 }, 15);
});

gpuTest('folded grids: every dispatch on a few workgroups, at most 3 per dimension', async ({ device }) => {
  // 8 (batch, head) pairs of one query row: 8 workgroups per matmul and softmax, 4 for dk and dv.
  // Tq, Tk and hd as in the generation test, whose pipelines are compiled already.
  const dispatches = await check(foldingGpu(device), { B: 2, Tq: 1, Tk: 11, nh: 4, nkv: 2, hd: 8 }, 40);
  assertFolded(dispatches, 'attention');
});
