import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../runtime/gpu.ts';
import { type DType, Tensor } from '../../runtime/tensor.ts';
import { dot, numericGrad } from '../../testing/gradcheck.ts';
import { randn } from '../../testing/random.ts';
import { softcapRef } from '../elementwise/elementwise.ref.ts';
import { crossEntropyBackwardRef, crossEntropyForwardRef } from './cross_entropy.ref.ts';
import { crossEntropyBackward, crossEntropyForward, IGNORE_INDEX } from './cross_entropy.ts';

describe('crossEntropyForwardRef', () => {
  it('matches hand-computed log-probs and logsumexps; ignored rows give 0 but keep their lse', () => {
    const logits = [1, 2, 3, 0, 0, 0, 5, -1, 2, 5, -1, 2];
    const r = crossEntropyForwardRef(logits, [2, 1, IGNORE_INDEX, 3], 3);
    // lse([1, 2, 3]) = log(e + e^2 + e^3)
    expect(r.lse[0]).toBeCloseTo(3.40760596444438, 13);
    expect(r.logprobs[0]).toBeCloseTo(-0.40760596444438013, 13);
    expect(r.lse[1]).toBeCloseTo(Math.log(3), 14);
    expect(r.logprobs[1]).toBeCloseTo(-Math.log(3), 14);
    // IGNORE_INDEX and a target == V are both ignored.
    expect(r.logprobs[2]).toBe(0);
    expect(r.logprobs[3]).toBe(0);
    expect(r.lse[2]).toBeCloseTo(5 + Math.log(1 + Math.exp(-6) + Math.exp(-3)), 13);
  });

  it('stays finite for logits far outside exp range', () => {
    const r = crossEntropyForwardRef([1000, 1000, -1000, -1000, -1000, -1000], [0, 2], 3);
    expect(r.lse[0]).toBeCloseTo(1000.6931471805599, 10);
    expect(r.logprobs[0]).toBeCloseTo(-Math.log(2), 12);
    expect(r.logprobs[1]).toBeCloseTo(-Math.log(3), 12);
  });
});

describe('crossEntropyBackwardRef', () => {
  it('matches hand-computed weights * (softmax - onehot)', () => {
    const d = crossEntropyBackwardRef([1, 2, 3], [0], [-0.5], 3);
    // softmax([1, 2, 3]) = [0.0900306, 0.2447285, 0.6652410]
    expect(d[0]).toBeCloseTo(0.4549847134148098, 14);
    expect(d[1]).toBeCloseTo(-0.12236423552739885, 14);
    expect(d[2]).toBeCloseTo(-0.332620477887411, 14);
  });

  it('is the gradient of sum_i weights[i] * NLL_i (finite differences), zero on ignored rows', () => {
    const [N, V] = [6, 7];
    const logits = randn(N * V, 1, 3);
    const targets = [3, IGNORE_INDEX, 0, 6, 7, 2]; // row 4: target == V, ignored
    const weights = [0.7, 1, 0, -1.3, 2, 0.25]; // negative weights occur in DPO (rejected sequences)
    const loss = (x: ArrayLike<number>) => -dot(weights, crossEntropyForwardRef(x, targets, V).logprobs);
    const want = numericGrad(loss, logits);
    const got = crossEntropyBackwardRef(logits, targets, weights, V);
    for (let i = 0; i < N * V; i++) expect(got[i]).toBeCloseTo(want[i], 7);
    for (const row of [1, 2, 4]) expect(Array.from(got.subarray(row * V, row * V + V))).toEqual(new Array(V).fill(0));
  });
});

describe('softcapped logits (Gemma final_logit_softcapping)', () => {
  it('softcapRef is cap * tanh(x / cap): near x for |x| << cap, bounded by cap', () => {
    const y = softcapRef([0.01, -0.01, 30, -300, 1e6], 30);
    expect(y[0]).toBeCloseTo(0.01 - 0.01 ** 3 / (3 * 30 ** 2), 15);
    expect(y[1]).toBe(-y[0]);
    expect(y[2]).toBeCloseTo(30 * Math.tanh(1), 13);
    expect(y[3]).toBeCloseTo(-30, 6);
    expect(y[4]).toBe(30);
  });

  it('the backward with softcap is the gradient w.r.t. the logits before the cap (finite differences)', () => {
    const [N, V, cap] = [5, 9, 3];
    const z = randn(N * V, 2, 4); // many beyond the cap, where tanh bends
    const targets = [3, IGNORE_INDEX, 0, 8, 2];
    const weights = [0.7, 1, -1.3, 2, 0];
    const loss = (x: ArrayLike<number>) => -dot(weights, crossEntropyForwardRef(softcapRef(x, cap), targets, V).logprobs);
    const want = numericGrad(loss, z);
    const got = crossEntropyBackwardRef(softcapRef(z, cap), targets, weights, V, cap);
    for (let i = 0; i < N * V; i++) expect(got[i]).toBeCloseTo(want[i], 7);
    // Not the uncapped gradient: the cap's derivative matters here.
    const plain = crossEntropyBackwardRef(softcapRef(z, cap), targets, weights, V);
    expect(Math.max(...plain.map((v, i) => Math.abs(v - got[i])))).toBeGreaterThan(0.01);
  });
});

describe('shape checks', () => {
  const gpu = {} as Gpu; // every check throws before the GPU is touched
  const shared = {} as GPUBuffer;
  const fake = (shape: number[], label: string, dtype: DType = 'f32', buffer = {} as GPUBuffer) => new Tensor(buffer, shape, dtype, label);
  const ok = () => ({
    logits: fake([4, 50], 'lm_head'),
    targets: fake([4], 'tgt', 'u32'),
    logprobs: fake([4], 'lp'),
    lse: fake([4], 'lse'),
    weights: fake([4], 'w'),
  });

  it('names the op and the shapes', async () => {
    await expect(crossEntropyForward(gpu, { ...ok(), logits: fake([200], 'lm_head') })).rejects.toThrow(
      'cross_entropy: logits must be [N, V] with N, V >= 1; got logits lm_head[200]',
    );
    await expect(crossEntropyForward(gpu, { ...ok(), targets: fake([5], 'tgt', 'u32') })).rejects.toThrow(
      'cross_entropy: targets must be [4] for logits lm_head[4, 50]; got targets tgt[5]',
    );
    await expect(crossEntropyForward(gpu, { ...ok(), targets: fake([4], 'tgt', 'i32') })).rejects.toThrow(
      'cross_entropy: targets must be u32, got i32',
    );
    await expect(crossEntropyBackward(gpu, { ...ok(), weights: fake([4, 1], 'w') })).rejects.toThrow(
      'cross_entropy backward: weights must be [4] for logits lm_head[4, 50]; got weights w[4, 1]',
    );
    await expect(crossEntropyBackward(gpu, { ...ok(), logits: fake([4, 50], 'lm_head', 'u32') })).rejects.toThrow(
      'cross_entropy backward: logits must be f32, got u32',
    );
    await expect(crossEntropyBackward(gpu, ok(), { softcap: -30 })).rejects.toThrow(
      'cross_entropy backward: softcap must be a positive number (or absent), got -30',
    );
  });

  it('rejects outputs that share a buffer with inputs, or overlap', async () => {
    await expect(
      crossEntropyForward(gpu, { ...ok(), logits: fake([4, 50], 'l', 'f32', shared), lse: fake([4], 'lse', 'f32', shared) }),
    ).rejects.toThrow('cross_entropy: lse must not share a buffer with logits');
    await expect(
      crossEntropyForward(gpu, { ...ok(), logprobs: fake([4], 'lp', 'f32', shared), lse: fake([4], 'lse', 'f32', shared) }),
    ).rejects.toThrow('cross_entropy: logprobs must not overlap lse; got logprobs lp[4], lse lse[4]');
    await expect(
      crossEntropyBackward(gpu, { ...ok(), logits: fake([4, 50], 'l', 'f32', shared), weights: fake([4], 'w', 'f32', shared) }),
    ).rejects.toThrow('cross_entropy backward: logits must not share a buffer with weights');
  });
});
