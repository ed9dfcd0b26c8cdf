import { describe, expect, it } from 'vitest';
import { ShapeError } from '../../runtime/errors.ts';
import type { Gpu } from '../../runtime/gpu.ts';
import { Tensor } from '../../runtime/tensor.ts';
import { dot, numericGrad } from '../../testing/gradcheck.ts';
import { uniform } from '../../testing/random.ts';
import { matmulRef } from '../matmul/matmul.ref.ts';
import { softmaxBackwardRef, softmaxForwardRef } from '../softmax/softmax.ref.ts';
import { attentionBackwardRef, attentionForwardRef } from './attention.ref.ts';
import {
  type AttentionOptions,
  type AttentionShape,
  attentionBackward,
  attentionForward,
  attentionGeometry,
  attentionScale,
} from './attention.ts';

const expectClose = (got: ArrayLike<number>, want: ArrayLike<number>, digits: number) => {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], digits);
};

const sizes = (s: AttentionShape) => ({ q: s.B * s.Tq * s.nh * s.hd, kv: s.B * s.Tk * s.nkv * s.hd, scores: s.B * s.nh * s.Tq * s.Tk });

function inputs(s: AttentionShape, seed: number) {
  const n = sizes(s);
  return { q: uniform(n.q, seed, 2), k: uniform(n.kv, seed + 1, 2), v: uniform(n.kv, seed + 2), dout: uniform(n.q, seed + 3) };
}

const GQA_GENERATION: AttentionShape = { B: 2, Tq: 3, Tk: 5, nh: 4, nkv: 2, hd: 3 };
const MHA: AttentionShape = { B: 1, Tq: 4, Tk: 4, nh: 2, nkv: 2, hd: 2 };

describe('attentionForwardRef', () => {
  // Keys [0, ln 3] give a query of 1 the weights [1/4, 3/4] and a query of 0 the weights [1/2, 1/2].
  const k = [0, Math.log(3)];
  const v = [4, 8];

  it('matches hand values: causal mask, shared kv head, scale', () => {
    // q [1, 2, 2, 1]: position 0 sees key 0 only (out = v0 = 4); position 1 sees both keys.
    const s = { B: 1, Tq: 2, Tk: 2, nh: 2, nkv: 1, hd: 1 };
    const q = [5, 5, 1, 0];
    expectClose(attentionForwardRef(s, q, k, v, { scale: 1 }).out.y, [4, 4, 1 + 6, 2 + 4], 12);
    // scale 0.5 on a query of 2 is the same as scale 1 on a query of 1.
    expectClose(attentionForwardRef(s, [5, 5, 2, 0], k, v, { scale: 0.5 }).out.y, [4, 4, 7, 6], 12);
  });

  it('lets generated queries see the cached keys: offset = Tk - Tq by default', () => {
    const s = { B: 1, Tq: 1, Tk: 2, nh: 1, nkv: 1, hd: 1 };
    expectClose(attentionForwardRef(s, [1], k, v, { scale: 1 }).out.y, [7], 12);
    expectClose(attentionForwardRef(s, [1], k, v, { scale: 1, offset: 0 }).out.y, [4], 12);
  });

  it('a sliding window of 1 leaves each query its own key only; one wider than every row changes nothing', () => {
    const s = { B: 1, Tq: 2, Tk: 2, nh: 1, nkv: 1, hd: 1 };
    expectClose(attentionForwardRef(s, [5, 1], k, v, { scale: 1, window: 1 }).out.y, [4, 8], 12);
    expectClose(attentionForwardRef(s, [5, 1], k, v, { scale: 1, window: 2 }).out.y, [4, 7], 12);
  });
});

describe('attentionBackwardRef', () => {
  for (const [name, s, options] of [
    ['GQA, Tq < Tk', GQA_GENERATION, {}],
    ['MHA, explicit scale', MHA, { scale: 0.6 }],
    ['GQA, Tq < Tk, sliding window 2', GQA_GENERATION, { window: 2 }],
    ['MHA, sliding window 3 of 4', MHA, { scale: 0.6, window: 3 }],
  ] as const) {
    it(`agrees with finite differences (${name})`, () => {
      const { q, k, v, dout } = inputs(s, 10);
      const loss = (qs: ArrayLike<number>, ks: ArrayLike<number>, vs: ArrayLike<number>) =>
        dot(dout, attentionForwardRef(s, qs, ks, vs, options).out.y);
      const grads = attentionBackwardRef(s, q, k, v, dout, options);
      expectClose(
        grads.dq.y,
        numericGrad((x) => loss(x, k, v), q),
        7,
      );
      expectClose(
        grads.dk.y,
        numericGrad((x) => loss(q, x, v), k),
        7,
      );
      expectClose(
        grads.dv.y,
        numericGrad((x) => loss(q, k, x), v),
        7,
      );
    });
  }
});

// The op's strided walks, run through the matmul reference, must reproduce the loop reference.
describe('attentionGeometry', () => {
  for (const [name, s] of [
    ['GQA, Tq < Tk', GQA_GENERATION],
    ['MHA', MHA],
    ['4 query heads per kv head', { B: 2, Tq: 3, Tk: 3, nh: 4, nkv: 1, hd: 2 }],
  ] as const) {
    it(`walks the heads of every product (${name})`, () => {
      const { q, k, v, dout } = inputs(s, 20);
      const n = sizes(s);
      const g = attentionGeometry(s);
      const scale = 1 / Math.sqrt(s.hd);
      const zeros = (length: number) => new Float64Array(length);
      const scores = matmulRef(g.scores, q, k, zeros(n.scores), scale).C;
      const { p } = softmaxForwardRef(scores, s.Tk, { causal: { queries: s.Tq, offset: s.Tk - s.Tq } });
      const out = matmulRef(g.output, p, v, zeros(n.q)).C;
      const dprobs = matmulRef(g.scores, dout, v, zeros(n.scores)).C;
      const { dx: dscores } = softmaxBackwardRef(p, dprobs, s.Tk);
      const dq = matmulRef(g.output, dscores, k, zeros(n.q), scale).C;
      let dk: Float64Array = zeros(n.kv);
      let dv: Float64Array = zeros(n.kv);
      for (let j = 0; j < s.nh / s.nkv; j++) {
        dk = matmulRef(g.kvGrad(j), dscores, q, dk, scale, j === 0 ? 0 : 1).C;
        dv = matmulRef(g.kvGrad(j), p, dout, dv, 1, j === 0 ? 0 : 1).C;
      }
      const fwd = attentionForwardRef(s, q, k, v);
      const bwd = attentionBackwardRef(s, q, k, v, dout);
      expectClose(p, fwd.probs.y, 12);
      expectClose(out, fwd.out.y, 12);
      expectClose(dq, bwd.dq.y, 12);
      expectClose(dk, bwd.dk.y, 12);
      expectClose(dv, bwd.dv.y, 12);
    });
  }
});

describe('shape errors', () => {
  const gpu = {} as Gpu;
  const fake = (shape: number[], label: string, buffer = {} as GPUBuffer) => new Tensor(buffer, shape, 'f32', label);
  const forward = (over: Partial<Record<'q' | 'k' | 'v' | 'out' | 'scores' | 'probs', Tensor>> = {}, offset?: number) =>
    attentionForward(
      gpu,
      {
        q: fake([2, 3, 4, 8], 'q'),
        k: fake([2, 5, 2, 8], 'k'),
        v: fake([2, 5, 2, 8], 'v'),
        out: fake([2, 3, 4, 8], 'out'),
        scores: fake([2, 4, 3, 5], 'scores'),
        probs: fake([2, 4, 3, 5], 'probs'),
        ...over,
      },
      { scale: 0.5, offset },
    );

  it('forward: q, k and v that do not fit together', async () => {
    await expect(forward({ q: fake([2, 3, 32], 'x') })).rejects.toThrow(
      'attention: q must be [B, Tq, nh, hd] and k [B, Tk, nkv, hd]; got q x[2, 3, 32], k k[2, 5, 2, 8]',
    );
    await expect(forward({ k: fake([2, 5, 2, 4], 'k') })).rejects.toThrow(
      'attention: q and k must agree in batch and head size; got q q[2, 3, 4, 8], k k[2, 5, 2, 4]',
    );
    await expect(forward({ k: fake([2, 5, 3, 8], 'k') })).rejects.toThrow(
      "attention: q's 4 heads must be a multiple of k's 3; got q q[2, 3, 4, 8], k k[2, 5, 3, 8]",
    );
    await expect(forward({ k: fake([2, 2, 2, 8], 'k') })).rejects.toThrow(
      'attention: k must have at least the 3 positions of q; got q q[2, 3, 4, 8], k k[2, 2, 2, 8]',
    );
    await expect(forward({ v: fake([2, 5, 1, 8], 'v') })).rejects.toThrow('attention: v must be [2, 5, 2, 8]; got v v[2, 5, 1, 8]');
  });

  it('forward: outputs of the wrong shape, a bad offset, aliasing', async () => {
    await expect(forward({ probs: fake([2, 4, 5, 3], 'p') })).rejects.toThrow(
      'attention: probs must be [2, 4, 3, 5]; got probs p[2, 4, 5, 3]',
    );
    await expect(forward({}, 3)).rejects.toThrow('attention: offset must be an integer in [0, Tk - Tq = 2], got 3');
    const shared = {} as GPUBuffer;
    await expect(forward({ scores: fake([2, 4, 3, 5], 's', shared), probs: fake([2, 4, 3, 5], 'p', shared) })).rejects.toThrow(
      'attention: probs must not share a buffer with scores',
    );
  });

  it('backward: gradients of the wrong shape', async () => {
    const t = {
      dout: fake([2, 3, 4, 8], 'dout'),
      q: fake([2, 3, 4, 8], 'q'),
      k: fake([2, 5, 2, 8], 'k'),
      v: fake([2, 5, 2, 8], 'v'),
      probs: fake([2, 4, 3, 5], 'probs'),
      dprobs: fake([2, 4, 3, 5], 'dprobs'),
      dscores: fake([2, 4, 3, 5], 'dscores'),
      dq: fake([2, 3, 4, 8], 'dq'),
      dk: fake([2, 5, 2, 8], 'dk'),
      dv: fake([2, 5, 2, 8], 'dv'),
    };
    const scale = { scale: 0.5 };
    await expect(attentionBackward(gpu, { ...t, dk: fake([2, 5, 4, 8], 'dk') }, scale)).rejects.toThrow(
      'attention backward: dk must be [2, 5, 2, 8]; got dk dk[2, 5, 4, 8]',
    );
    await expect(attentionBackward(gpu, { ...t, dv: t.dout }, scale)).rejects.toThrow(
      'attention backward: dv must be [2, 5, 2, 8]; got dv dout[2, 3, 4, 8]',
    );
    await expect(attentionBackward(gpu, { ...t, dq: fake([2, 3, 4, 8], 'dq', t.k.buffer) }, scale)).rejects.toThrow(
      'attention backward: dq must not share a buffer with k',
    );
  });

  it('forward and backward both need the scale: a backward cannot fall back to 1/sqrt(hd) after a custom forward', async () => {
    const t = {
      dout: fake([1, 2, 2, 4], 'dout'),
      q: fake([1, 2, 2, 4], 'q'),
      k: fake([1, 2, 1, 4], 'k'),
      v: fake([1, 2, 1, 4], 'v'),
      out: fake([1, 2, 2, 4], 'out'),
      scores: fake([1, 2, 2, 2], 'scores'),
      probs: fake([1, 2, 2, 2], 'probs'),
      dprobs: fake([1, 2, 2, 2], 'dprobs'),
      dscores: fake([1, 2, 2, 2], 'dscores'),
      dq: fake([1, 2, 2, 4], 'dq'),
      dk: fake([1, 2, 1, 4], 'dk'),
      dv: fake([1, 2, 1, 4], 'dv'),
    };
    // What a caller without types (or with a cast) could still write.
    const untyped = {} as AttentionOptions;
    await expect(attentionBackward(gpu, t, untyped)).rejects.toThrow(
      "attention backward: scale must be the forward's finite score scale (attentionScale(hd) = 1/sqrt(hd) usually), got undefined",
    );
    // @ts-expect-error: without the forward's options the backward does not compile
    await expect(attentionBackward(gpu, t)).rejects.toThrow(ShapeError);
    await expect(attentionForward(gpu, t, { scale: Number.NaN })).rejects.toThrow(
      "attention: scale must be the forward's finite score scale (attentionScale(hd) = 1/sqrt(hd) usually), got NaN",
    );
    expect(attentionScale(64)).toBe(0.125);
  });
});
