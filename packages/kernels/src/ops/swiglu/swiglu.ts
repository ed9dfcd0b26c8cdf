// swiglu: out = silu(gate) * up, the gated activation of Llama/Qwen2's MLP, and its backward.
import { type Named, requireDisjoint, requireShapes } from '../../runtime/checks.ts';
import { ShapeError } from '../../runtime/errors.ts';
import type { Dispatch, Gpu, Kernel } from '../../runtime/gpu.ts';
import { shapeStr, type Tensor } from '../../runtime/tensor.ts';
import { UniformWriter } from '../../runtime/uniform.ts';
import source from './swiglu.wgsl?raw';
import backwardSource from './swiglu_backward.wgsl?raw';

const FORWARD = { name: 'swiglu', source };
const BACKWARD = { name: 'swiglu_backward', source: backwardSource };
/** Threads per workgroup of both kernels (their WG). */
const WG = 256;

/** Every tensor f32 and the shape of gate, which is [N, I]; outputs in no input's buffer. Shared with geglu. */
export function checkGated(op: string, gate: Tensor, outputs: Named, inputs: Named): void {
  if (gate.shape.length !== 2 || gate.size < 1) throw new ShapeError(op, `gate must be [N, I] with N, I >= 1; got gate ${shapeStr(gate)}`);
  requireShapes(
    op,
    [...outputs, ...inputs].map(([name, t]) => [name, t, gate.shape]),
    `gate ${shapeStr(gate)}`,
  );
  requireDisjoint(op, outputs, inputs);
}

/** One dispatch of `kernel`, one thread per element of gate. Shared with geglu. */
export function gatedDispatch(gpu: Gpu, op: string, kernel: Kernel, gate: Tensor, bind: Tensor[]): Promise<Dispatch> {
  const params = new UniformWriter().u32(gate.size).u32(0).u32(0).u32(0).bytes();
  return gpu.dispatch(op, { kernel, params, bind, groups: Math.ceil(gate.size / WG) });
}

/** out = silu(gate) * up. out, gate, up: [N, I]. */
export async function swigluForward(
  gpu: Gpu,
  t: { out: Tensor; gate: Tensor; up: Tensor },
  options: { label?: string } = {},
): Promise<Dispatch[]> {
  const op = options.label ?? 'swiglu';
  checkGated(
    op,
    t.gate,
    [['out', t.out]],
    [
      ['gate', t.gate],
      ['up', t.up],
    ],
  );
  return [await gatedDispatch(gpu, op, FORWARD, t.gate, [t.gate, t.up, t.out])];
}

/** dgate = dout * up * silu'(gate), dup = dout * silu(gate), both overwritten. All [N, I]. */
export async function swigluBackward(
  gpu: Gpu,
  t: { dgate: Tensor; dup: Tensor; dout: Tensor; gate: Tensor; up: Tensor },
  options: { label?: string } = {},
): Promise<Dispatch[]> {
  const op = options.label ?? 'swiglu backward';
  const outputs: Named = [
    ['dgate', t.dgate],
    ['dup', t.dup],
  ];
  const inputs: Named = [
    ['dout', t.dout],
    ['gate', t.gate],
    ['up', t.up],
  ];
  checkGated(op, t.gate, outputs, inputs);
  return [await gatedDispatch(gpu, op, BACKWARD, t.gate, [t.dout, t.gate, t.up, t.dgate, t.dup])];
}
