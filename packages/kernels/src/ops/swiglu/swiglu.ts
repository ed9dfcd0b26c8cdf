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

/** Every tensor f32 and the shape of gate, which is [N, I]; outputs in no input's buffer. */
function checkGated(op: string, gate: Tensor, outputs: Named, inputs: Named): void {
  if (gate.shape.length !== 2 || gate.size < 1) throw new ShapeError(op, `gate must be [N, I] with N, I >= 1; got gate ${shapeStr(gate)}`);
  requireShapes(
    op,
    [...outputs, ...inputs].map(([name, t]) => [name, t, gate.shape]),
    `gate ${shapeStr(gate)}`,
  );
  requireDisjoint(op, outputs, inputs);
}

/** One dispatch of `kernel`, one thread per element of gate. */
function gatedDispatch(gpu: Gpu, op: string, kernel: Kernel, gate: Tensor, bind: Tensor[]): Promise<Dispatch> {
  const params = new UniformWriter().u32(gate.size).u32(0).u32(0).u32(0).bytes();
  return gpu.dispatch(op, { kernel, params, bind, groups: Math.ceil(gate.size / WG) });
}

/**
 * A gated activation out = act(gate) * up (swiglu's silu, geglu's gelu_tanh) and its backward
 * dgate = dout * up * act'(gate), dup = dout * act(gate): the same shapes and dispatch, one kernel pair each.
 * Both kernels bind their tensors in the order below, with WG threads per workgroup.
 */
export function gatedActivation(name: string, forwardKernel: Kernel, backwardKernel: Kernel) {
  return {
    /** out = act(gate) * up. out, gate, up: [N, I]. */
    async forward(gpu: Gpu, t: { out: Tensor; gate: Tensor; up: Tensor }, options: { label?: string } = {}): Promise<Dispatch[]> {
      const op = options.label ?? name;
      const inputs: Named = [
        ['gate', t.gate],
        ['up', t.up],
      ];
      checkGated(op, t.gate, [['out', t.out]], inputs);
      return [await gatedDispatch(gpu, op, forwardKernel, t.gate, [t.gate, t.up, t.out])];
    },
    /** dgate, dup (both overwritten) from dout, gate, up. All [N, I]. */
    async backward(
      gpu: Gpu,
      t: { dgate: Tensor; dup: Tensor; dout: Tensor; gate: Tensor; up: Tensor },
      options: { label?: string } = {},
    ): Promise<Dispatch[]> {
      const op = options.label ?? `${name} backward`;
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
      return [await gatedDispatch(gpu, op, backwardKernel, t.gate, [t.dout, t.gate, t.up, t.dgate, t.dup])];
    },
  };
}

const swiglu = gatedActivation('swiglu', FORWARD, BACKWARD);
/** out = silu(gate) * up. out, gate, up: [N, I]. */
export const swigluForward = swiglu.forward;
/** dgate = dout * up * silu'(gate), dup = dout * silu(gate), both overwritten. All [N, I]. */
export const swigluBackward = swiglu.backward;
