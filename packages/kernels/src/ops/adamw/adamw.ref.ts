// Float64 reference for adamw.wgsl, written the way torch.nn.utils.clip_grad_norm_ and
// torch.optim.AdamW (single-tensor path) compute a step. An optimizer has no backward.
import type { AdamWHyper, AdamWStep } from './adamw.ts';

/** clip_grad_norm_'s factor: max_norm / (total_norm + 1e-6), clamped to <= 1; 1 when clipping is off. */
export function clipCoefRef(sumsq: number, maxGradNorm: number): number {
  if (maxGradNorm <= 0) return 1;
  return Math.min(maxGradNorm / (Math.sqrt(sumsq) + 1e-6), 1);
}

export interface AdamWState {
  param: ArrayLike<number>;
  m: ArrayLike<number>;
  v: ArrayLike<number>;
}

export interface AdamWRefResult {
  param: Float64Array;
  m: Float64Array;
  v: Float64Array;
  /**
   * Per element, the scale float32 rounding errors of this step grow with: for m the sum of its
   * terms' absolute values; for param |param * decay| plus the update as it would be with m
   * replaced by that sum (an error in m reaches param through step_size / denom).
   */
  mMagnitude: Float64Array;
  paramMagnitude: Float64Array;
}

/** One step from `state` with gradient `grad` whose sum of squares is `sumsq`. */
export function adamwStepRef(
  state: AdamWState,
  grad: ArrayLike<number>,
  sumsq: number,
  h: AdamWHyper,
  { lr, step }: AdamWStep,
): AdamWRefResult {
  const n = grad.length;
  const out = {
    param: new Float64Array(n),
    m: new Float64Array(n),
    v: new Float64Array(n),
    mMagnitude: new Float64Array(n),
    paramMagnitude: new Float64Array(n),
  };
  const clip = clipCoefRef(sumsq, h.maxGradNorm);
  const biasCorrection1 = 1 - h.beta1 ** step;
  const biasCorrection2 = 1 - h.beta2 ** step;
  const stepSize = lr / biasCorrection1;
  const biasCorrection2Sqrt = Math.sqrt(biasCorrection2);
  for (let i = 0; i < n; i++) {
    const g = grad[i] * clip;
    const decayed = state.param[i] * (1 - lr * h.weightDecay); // param.mul_(1 - lr * weight_decay)
    const m = h.beta1 * state.m[i] + (1 - h.beta1) * g; // exp_avg.lerp_(grad, 1 - beta1)
    const v = h.beta2 * state.v[i] + (1 - h.beta2) * g * g; // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    const denom = Math.sqrt(v) / biasCorrection2Sqrt + h.eps;
    out.param[i] = decayed - stepSize * (m / denom); // param.addcdiv_(exp_avg, denom, value=-step_size)
    out.m[i] = m;
    out.v[i] = v;
    out.mMagnitude[i] = h.beta1 * Math.abs(state.m[i]) + (1 - h.beta1) * Math.abs(g);
    out.paramMagnitude[i] = Math.abs(decayed) + (stepSize * out.mMagnitude[i]) / denom;
  }
  return out;
}
