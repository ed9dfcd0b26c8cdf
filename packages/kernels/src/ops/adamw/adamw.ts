// adamw: one fused torch.optim.AdamW step over the trainer's flat parameter, gradient and moment
// buffers, with clip_grad_norm_'s clipping folded in.

import { type Named, requireDisjoint, requireF32, requireSameShape } from '../../runtime/checks.ts';
import { ShapeError } from '../../runtime/errors.ts';
import type { Dispatch, Gpu } from '../../runtime/gpu.ts';
import { shapeStr, type Tensor } from '../../runtime/tensor.ts';
import { UniformWriter } from '../../runtime/uniform.ts';
import source from './adamw.wgsl?raw';

const KERNEL = { name: 'adamw', source };
/** Threads per workgroup; each thread owns 4 elements of every buffer. */
const WG = 64;

export interface AdamWHyper {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Clip the gradient to this global L2 norm (clip_grad_norm_); <= 0 turns clipping off. */
  maxGradNorm: number;
}

export interface AdamWTensors {
  /** [n], updated in place. */
  param: Tensor;
  /** [n], read only: clipping scales it in registers. */
  grad: Tensor;
  /** [n] first and second moments, updated in place; zero before step 1. */
  m: Tensor;
  v: Tensor;
  /** [1]: sum of grad^2 (sumOfSquares), read only when maxGradNorm > 0. */
  sumsq: Tensor;
  /**
   * [1] u32: while not 0 the step is skipped (param, m and v unchanged): flagNonFinite raises it for a non-finite loss
   * or gradient norm. Without it the step always runs.
   */
  halt?: Tensor;
}

export interface AdamWStep {
  lr: number;
  /** 1-based count of optimizer steps, this one included. */
  step: number;
}

export interface AdamWDispatch {
  dispatches: Dispatch[];
  /** Set the learning rate and step for the next replay (a queue write, like setSeed). */
  update(step: AdamWStep): void;
}

/** The per-step scalars, in float64 as torch computes them on the host. */
export function adamwStepScalars(hyper: AdamWHyper, { lr, step }: AdamWStep): { decay: number; stepSize: number; bc2Sqrt: number } {
  if (!(Number.isFinite(lr) && lr >= 0)) throw new RangeError(`adamw: lr must be a finite number >= 0, got ${lr}`);
  if (!(Number.isInteger(step) && step >= 1)) throw new RangeError(`adamw: step must be an integer >= 1 (1-based), got ${step}`);
  return {
    decay: 1 - lr * hyper.weightDecay,
    stepSize: lr / (1 - hyper.beta1 ** step),
    bc2Sqrt: Math.sqrt(1 - hyper.beta2 ** step),
  };
}

function checkHyper(h: AdamWHyper): void {
  for (const name of ['beta1', 'beta2'] as const) {
    if (!(h[name] >= 0 && h[name] < 1)) throw new RangeError(`adamw: ${name} must be in [0, 1), got ${h[name]}`);
  }
  for (const name of ['eps', 'weightDecay'] as const) {
    if (!(Number.isFinite(h[name]) && h[name] >= 0)) throw new RangeError(`adamw: ${name} must be a finite number >= 0, got ${h[name]}`);
  }
  if (!Number.isFinite(h.maxGradNorm)) throw new RangeError(`adamw: maxGradNorm must be a finite number, got ${h.maxGradNorm}`);
}

function params(n: number, h: AdamWHyper, step: AdamWStep): ArrayBuffer {
  const s = adamwStepScalars(h, step);
  const u = new UniformWriter()
    .u32(n)
    .f32(h.maxGradNorm)
    .f32(h.beta1)
    .f32(1 - h.beta1)
    .f32(h.beta2)
    .f32(1 - h.beta2);
  return u.f32(h.eps).f32(s.decay).f32(s.stepSize).f32(s.bc2Sqrt).bytes();
}

/**
 * One AdamW step over param, grad, m, v: [n] (one layout), clipping the gradient by
 * sqrt(sumsq[0]) first. param, m and v may be disjoint views of one buffer; grad and sumsq, read
 * only, live in other buffers. Call update({ lr, step }) before every replay; until then the
 * dispatch holds lr = 0, step = 1. Runs after sumOfSquares(gpu, sumsq, grad) (and flagNonFinite into halt).
 */
export async function adamw(gpu: Gpu, t: AdamWTensors, hyper: AdamWHyper): Promise<AdamWDispatch> {
  const op = 'adamw';
  const [param, grad, m, v, sumsq]: Named = [
    ['param', t.param],
    ['grad', t.grad],
    ['m', t.m],
    ['v', t.v],
    ['sumsq', t.sumsq],
  ];
  requireF32(op, [param, grad, m, v, sumsq]);
  requireSameShape(op, [param, grad, m, v]);
  if (t.sumsq.size !== 1) throw new ShapeError(op, `sumsq must hold one element; got sumsq ${shapeStr(t.sumsq)}`);
  requireDisjoint(op, [param, m, v], [grad, sumsq]);
  if (t.halt && (t.halt.size !== 1 || t.halt.dtype !== 'u32'))
    throw new ShapeError(op, `halt must be one u32 element; got halt ${shapeStr(t.halt)} ${t.halt.dtype}`);
  if (t.halt) requireDisjoint(op, [param, m, v], [['halt', t.halt]]);
  checkHyper(hyper);
  const n = t.param.size;
  const uniform = gpu.uniform(params(n, hyper, { lr: 0, step: 1 }), `${op} params`);
  const bind = [t.param, t.grad, t.m, t.v, t.sumsq, t.halt ?? gpu.tensor([1], `${op} never halts`, 'u32')];
  const dispatch = await gpu.dispatch(op, { kernel: KERNEL, consts: { WG }, params: uniform, bind, groups: Math.ceil(n / (4 * WG)) });
  return {
    dispatches: [dispatch],
    update(step: AdamWStep) {
      gpu.device.queue.writeBuffer(uniform, 0, params(n, hyper, step));
    },
  };
}
