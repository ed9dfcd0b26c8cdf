// rmsnorm: y = x * rsqrt(mean(x^2) + eps) * w over each row, as Llama/Qwen2's RMSNorm, and its backward.
import { type Expected, type Named, requireDisjoint, requireShapes } from '../../runtime/checks.ts';
import { ShapeError } from '../../runtime/errors.ts';
import type { Dispatch, Gpu } from '../../runtime/gpu.ts';
import { shapeStr, type Tensor } from '../../runtime/tensor.ts';
import { UniformWriter } from '../../runtime/uniform.ts';
import source from './rmsnorm.wgsl?raw';
import backwardSource from './rmsnorm_backward.wgsl?raw';
import dwSource from './rmsnorm_dw.wgsl?raw';

const FORWARD = { name: 'rmsnorm', source };
const BACKWARD = { name: 'rmsnorm_backward', source: backwardSource };
const DW = { name: 'rmsnorm_dw', source: dwSource };
/** Columns per workgroup of rmsnorm_dw.wgsl (its COLS). */
const DW_COLS = 32;

export interface RmsnormOptions {
  /** Added to the mean square before the square root (the model config's rms_norm_eps). */
  eps: number;
  label?: string;
}

export interface RmsnormBackwardOptions {
  /** Add into dx (the residual stream's gradient) instead of overwriting it. */
  accumulate?: boolean;
  label?: string;
}

/** [N, C] from x, after checking each tensor's shape (as x implies) and dtype; an absent dw is skipped. */
function checkShapes(
  op: string,
  x: Tensor,
  expected: (N: number, C: number) => [string, Tensor | undefined, number[]][],
): [number, number] {
  const [N, C] = x.shape;
  if (x.shape.length !== 2 || N < 1 || C < 1) throw new ShapeError(op, `x must be [N, C] with N, C >= 1; got x ${shapeStr(x)}`);
  const given: Expected[] = [['x', x, [N, C]]];
  for (const [name, t, shape] of expected(N, C)) if (t) given.push([name, t, shape]);
  requireShapes(op, given, `x ${shapeStr(x)}`);
  return [N, C];
}

/**
 * y = x * rstd * w with rstd = 1 / sqrt(mean(x^2) + eps) per row, written to `rstd` for the backward.
 * x, y: [N, C]; w: [C]; rstd: [N].
 */
export async function rmsnormForward(
  gpu: Gpu,
  t: { y: Tensor; rstd: Tensor; x: Tensor; w: Tensor },
  options: RmsnormOptions,
): Promise<Dispatch[]> {
  const op = options.label ?? 'rmsnorm';
  const [N, C] = checkShapes(op, t.x, (N, C) => [
    ['y', t.y, [N, C]],
    ['w', t.w, [C]],
    ['rstd', t.rstd, [N]],
  ]);
  requireDisjoint(
    op,
    [
      ['y', t.y],
      ['rstd', t.rstd],
    ],
    [
      ['x', t.x],
      ['w', t.w],
    ],
  );
  const params = new UniformWriter().u32(N).u32(C).f32(options.eps).u32(0).bytes();
  return [await gpu.dispatch(op, { kernel: FORWARD, params, bind: [t.x, t.w, t.y, t.rstd], groups: N })];
}

/**
 * dx = rstd * (dy*w - x * rstd^2 * mean(dy*w*x)) per row, overwriting dx or added to it with
 * `accumulate`; and when given, dw = sum over rows of dy * x * rstd (overwritten).
 * dx, dy, x: [N, C]; w: [C]; rstd: [N] from the forward; dw: [C].
 */
export async function rmsnormBackward(
  gpu: Gpu,
  t: { dx: Tensor; dy: Tensor; x: Tensor; w: Tensor; rstd: Tensor; dw?: Tensor },
  options: RmsnormBackwardOptions = {},
): Promise<Dispatch[]> {
  const op = options.label ?? 'rmsnorm backward';
  const [N, C] = checkShapes(op, t.x, (N, C) => [
    ['dx', t.dx, [N, C]],
    ['dy', t.dy, [N, C]],
    ['w', t.w, [C]],
    ['rstd', t.rstd, [N]],
    ['dw', t.dw, [C]],
  ]);
  const [dy, x, rstd]: Named = [
    ['dy', t.dy],
    ['x', t.x],
    ['rstd', t.rstd],
  ];
  requireDisjoint(op, [['dx', t.dx]], [dy, x, ['w', t.w], rstd]);
  if (t.dw) requireDisjoint(op, [['dw', t.dw]], [dy, x, rstd]);

  const params = new UniformWriter()
    .u32(N)
    .u32(C)
    .u32(options.accumulate ? 1 : 0)
    .u32(0)
    .bytes();
  const dispatches = [await gpu.dispatch(op, { kernel: BACKWARD, params, bind: [t.dy, t.x, t.w, t.rstd, t.dx], groups: N })];
  if (!t.dw) return dispatches;

  const groups = Math.ceil(C / DW_COLS);
  const dwParams = new UniformWriter().u32(N).u32(C).u32(groups).u32(0).bytes();
  dispatches.push(await gpu.dispatch(`${op} dw`, { kernel: DW, params: dwParams, bind: [t.dy, t.x, t.rstd, t.dw], groups }));
  return dispatches;
}
