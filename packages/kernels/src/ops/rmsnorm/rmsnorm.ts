// rmsnorm: y = x * rsqrt(mean(x^2) + eps) * w over each row, as Llama/Qwen2's RMSNorm, and its backward.
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

/** [N, C] from x, after checking each tensor's shape (as x implies) and dtype. */
function checkShapes(
  op: string,
  x: Tensor,
  expected: (N: number, C: number) => Record<string, [Tensor | undefined, number[]]>,
): [number, number] {
  const [N, C] = x.shape;
  if (x.shape.length !== 2 || N < 1 || C < 1) throw new ShapeError(op, `x must be [N, C] with N, C >= 1; got x ${shapeStr(x)}`);
  if (x.dtype !== 'f32') throw new ShapeError(op, `x must be f32, got ${x.dtype}`);
  for (const [name, [t, shape]] of Object.entries(expected(N, C))) {
    if (!t) continue;
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new ShapeError(op, `${name} must be [${shape.join(', ')}] for x ${shapeStr(x)}; got ${name} ${shapeStr(t)}`);
    }
    if (t.dtype !== 'f32') throw new ShapeError(op, `${name} must be f32, got ${t.dtype}`);
  }
  return [N, C];
}

/** WebGPU forbids one buffer bound both read-only and writable in a dispatch. */
function checkDisjoint(op: string, outputs: Record<string, Tensor | undefined>, inputs: Record<string, Tensor>): void {
  for (const [o, out] of Object.entries(outputs)) {
    for (const [i, input] of Object.entries(inputs)) {
      if (out && out.buffer === input.buffer) throw new ShapeError(op, `${o} must not share a buffer with ${i}`);
    }
  }
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
  const [N, C] = checkShapes(op, t.x, (N, C) => ({ y: [t.y, [N, C]], w: [t.w, [C]], rstd: [t.rstd, [N]] }));
  checkDisjoint(op, { y: t.y, rstd: t.rstd }, { x: t.x, w: t.w });
  const u = new UniformWriter().u32(N).u32(C).f32(options.eps).u32(0);
  const pipeline = await gpu.pipeline(FORWARD);
  const bindGroup = gpu.bind(pipeline, op, [gpu.uniform(u.bytes(), `${op} params`), t.x, t.w, t.y, t.rstd]);
  return [{ label: op, pipeline, bindGroup, workgroups: gpu.grid(N) }];
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
  const [N, C] = checkShapes(op, t.x, (N, C) => ({
    dx: [t.dx, [N, C]],
    dy: [t.dy, [N, C]],
    w: [t.w, [C]],
    rstd: [t.rstd, [N]],
    dw: [t.dw, [C]],
  }));
  checkDisjoint(op, { dx: t.dx }, { dy: t.dy, x: t.x, w: t.w, rstd: t.rstd });
  checkDisjoint(op, { dw: t.dw }, { dy: t.dy, x: t.x, rstd: t.rstd });

  const u = new UniformWriter()
    .u32(N)
    .u32(C)
    .u32(options.accumulate ? 1 : 0)
    .u32(0);
  const pipeline = await gpu.pipeline(BACKWARD);
  const bindGroup = gpu.bind(pipeline, op, [gpu.uniform(u.bytes(), `${op} params`), t.dy, t.x, t.w, t.rstd, t.dx]);
  const dispatches: Dispatch[] = [{ label: op, pipeline, bindGroup, workgroups: gpu.grid(N) }];
  if (!t.dw) return dispatches;

  const groups = Math.ceil(C / DW_COLS);
  const dwParams = new UniformWriter().u32(N).u32(C).u32(groups).u32(0);
  const dwPipeline = await gpu.pipeline(DW);
  dispatches.push({
    label: `${op} dw`,
    pipeline: dwPipeline,
    bindGroup: gpu.bind(dwPipeline, `${op} dw`, [gpu.uniform(dwParams.bytes(), `${op} dw params`), t.dy, t.x, t.rstd, t.dw]),
    workgroups: gpu.grid(groups),
  });
  return dispatches;
}
