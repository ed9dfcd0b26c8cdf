import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../runtime/gpu.ts';
import { Tensor } from '../../runtime/tensor.ts';
import { adamwStepRef, clipCoefRef } from './adamw.ref.ts';
import { type AdamWHyper, adamw, adamwStepScalars } from './adamw.ts';

const gpu = {} as Gpu; // shape checks run before any GPU work
const buffer = {} as GPUBuffer;
const fake = (shape: number[], label: string, offset: number, buf = buffer) => new Tensor(buf, shape, 'f32', label, offset);
const HYPER: AdamWHyper = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 0 };

describe('adamwStepRef', () => {
  it('matches a hand-computed two-step example', () => {
    // Step 1, lr 0.1, g = 0.5: param = 1 * (1 - 0.1*0.01) = 0.999; m = 0.1*0.5 = 0.05; v = 0.001*0.25 = 0.00025;
    // step_size = 0.1 / (1 - 0.9) = 1; denom = sqrt(0.00025) / sqrt(0.001) + 1e-8 = 0.5 + 1e-8;
    // param = 0.999 - 0.05 / (0.5 + 1e-8) = 0.899000002 (to 1e-15).
    const s1 = adamwStepRef({ param: [1], m: [0], v: [0] }, [0.5], 0.25, HYPER, { lr: 0.1, step: 1 });
    expect(s1.param[0]).toBeCloseTo(0.899000002, 14);
    expect(s1.m[0]).toBeCloseTo(0.05, 15);
    expect(s1.v[0]).toBeCloseTo(0.00025, 15);
    // Step 2, lr 0.05, g = -1: param = 0.899000002 * (1 - 0.05*0.01) = 0.898550501999;
    // m = 0.9*0.05 - 0.1 = -0.055; v = 0.999*0.00025 + 0.001 = 0.00124975; step_size = 0.05 / 0.19;
    // denom = sqrt(0.00124975 / 0.001999) + 1e-8 = 0.79068805...; param = 0.898550501999 + (0.05/0.19) * 0.055 / denom.
    const s2 = adamwStepRef(s1, [-1], 1, HYPER, { lr: 0.05, step: 2 });
    expect(s2.param[0]).toBeCloseTo(0.9168556781192827, 14);
    expect(s2.m[0]).toBeCloseTo(-0.055, 15);
    expect(s2.v[0]).toBeCloseTo(0.00124975, 15);
  });

  it('clips as clip_grad_norm_: max_norm / (norm + 1e-6), never above 1, off when max_norm <= 0', () => {
    expect(clipCoefRef(25, 1)).toBe(1 / (5 + 1e-6));
    expect(clipCoefRef(25, 5)).toBeLessThan(1); // equal norms still scale by 5 / (5 + 1e-6)
    expect(clipCoefRef(25, 10)).toBe(1);
    expect(clipCoefRef(25, 0)).toBe(1);
    expect(clipCoefRef(25, -1)).toBe(1);
    // The clipped gradient is what reaches the moments: g = [3, 4], norm 5, max_norm 1.
    const below = adamwStepRef({ param: [0, 0], m: [0, 0], v: [0, 0] }, [3, 4], 25, { ...HYPER, maxGradNorm: 1 }, { lr: 0.1, step: 1 });
    expect(below.m[0]).toBeCloseTo((0.1 * 3) / 5.000001, 15);
    expect(below.v[1]).toBeCloseTo(0.001 * (4 / 5.000001) ** 2, 15);
    const above = adamwStepRef({ param: [0, 0], m: [0, 0], v: [0, 0] }, [3, 4], 25, { ...HYPER, maxGradNorm: 10 }, { lr: 0.1, step: 1 });
    expect(Array.from(above.m)).toEqual([0.1 * 3, 0.1 * 4].map((x) => expect.closeTo(x, 15)));
  });
});

describe('adamwStepScalars', () => {
  it('computes the bias corrections in float64 on the host', () => {
    const s = adamwStepScalars(HYPER, { lr: 0.05, step: 2 });
    expect(s.decay).toBe(1 - 0.05 * 0.01);
    expect(s.stepSize).toBeCloseTo(0.05 / 0.19, 15);
    expect(s.bc2Sqrt).toBeCloseTo(Math.sqrt(0.001999), 15);
  });

  it('rejects a 0-based or fractional step and a negative lr', () => {
    expect(() => adamwStepScalars(HYPER, { lr: 0.1, step: 0 })).toThrow('adamw: step must be an integer >= 1 (1-based), got 0');
    expect(() => adamwStepScalars(HYPER, { lr: -1, step: 1 })).toThrow('adamw: lr must be a finite number >= 0, got -1');
  });
});

describe('adamw checks', () => {
  // param, m and v are written: disjoint views of one buffer are fine. grad and sumsq are read.
  const t = {
    param: fake([1000], 'lora', 0),
    grad: fake([1000], 'grads', 0, {} as GPUBuffer),
    m: fake([1000], 'exp_avg', 8192),
    v: fake([1000], 'exp_avg_sq', 12288),
    sumsq: fake([1], 'sumsq', 0, {} as GPUBuffer),
  };

  it('wants four tensors of one layout, none overlapping another, grad and sumsq in buffers of their own', async () => {
    await expect(adamw(gpu, { ...t, v: fake([999], 'exp_avg_sq', 12288) }, HYPER)).rejects.toThrow(
      'adamw: param, grad, m, v must have the same shape; got param lora[1000], grad grads[1000], m exp_avg[1000], v exp_avg_sq[999]',
    );
    await expect(adamw(gpu, { ...t, v: fake([1000], 'exp_avg_sq', 7936) }, HYPER)).rejects.toThrow(
      'adamw: m must not overlap v; got m exp_avg[1000], v exp_avg_sq[1000]',
    );
    await expect(adamw(gpu, { ...t, sumsq: fake([2], 'sumsq', 16384) }, HYPER)).rejects.toThrow(
      'adamw: sumsq must hold one element; got sumsq sumsq[2]',
    );
    await expect(adamw(gpu, { ...t, grad: fake([1000], 'grads', 4096) }, HYPER)).rejects.toThrow(
      'adamw: param must not share a buffer with grad; got param lora[1000], grad grads[1000]',
    );
    await expect(adamw(gpu, { ...t, sumsq: fake([1], 'sumsq', 16384) }, HYPER)).rejects.toThrow(
      'adamw: param must not share a buffer with sumsq; got param lora[1000], sumsq sumsq[1]',
    );
    await expect(adamw(gpu, { ...t, halt: fake([1], 'halt', 0, {} as GPUBuffer) }, HYPER)).rejects.toThrow(
      'adamw: halt must be one u32 element; got halt halt[1] f32',
    );
  });

  it('validates the hyperparameters as torch does', async () => {
    await expect(adamw(gpu, t, { ...HYPER, beta2: 1 })).rejects.toThrow('adamw: beta2 must be in [0, 1), got 1');
    await expect(adamw(gpu, t, { ...HYPER, eps: -1e-8 })).rejects.toThrow('adamw: eps must be a finite number >= 0, got -1e-8');
  });
});
