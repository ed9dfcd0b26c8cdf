import { describe, expect, it } from 'vitest';
import { lrForStep, lrLambda } from './schedule.ts';

describe('lrLambda (transformers get_scheduler semantics)', () => {
  it('linear: warms up from 0, then decays linearly to 0 at the last step', () => {
    // get_linear_schedule_with_warmup(warmup=2, total=10)
    expect([0, 1, 2, 3, 6, 10].map((s) => lrLambda('linear', s, 2, 10))).toEqual([0, 0.5, 1, 7 / 8, 4 / 8, 0]);
  });

  it('cosine: half a cosine period after warmup', () => {
    expect(lrLambda('cosine', 2, 2, 10)).toBeCloseTo(1, 12);
    expect(lrLambda('cosine', 6, 2, 10)).toBeCloseTo(0.5, 12);
    expect(lrLambda('cosine', 10, 2, 10)).toBeCloseTo(0, 12);
  });

  it('constant ignores warmup (as HF does); constant_with_warmup ramps then holds', () => {
    expect(lrLambda('constant', 0, 5, 10)).toBe(1);
    expect([0, 2, 5, 9].map((s) => lrLambda('constant_with_warmup', s, 4, 10))).toEqual([0, 0.5, 1, 1]);
  });

  it('with no warmup the first update uses the full rate', () => {
    expect(lrForStep('linear', 2e-4, 1, 0, 100)).toBeCloseTo(2e-4, 15);
    expect(lrForStep('linear', 2e-4, 100, 0, 100)).toBeCloseTo(2e-4 / 100, 15);
  });

  it('the first update after warmup > 0 has lr 0 (HF steps the scheduler after the optimizer)', () => {
    expect(lrForStep('linear', 1e-3, 1, 3, 10)).toBe(0);
  });
});
