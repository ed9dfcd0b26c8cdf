// swiglu: out = silu(gate) * up, the gated activation of Llama/Qwen2's MLP, and its backward.
import { ShapeError } from '../../runtime/errors.ts';
import type { Dispatch, Gpu } from '../../runtime/gpu.ts';
import { shapeStr, type Tensor } from '../../runtime/tensor.ts';
import { UniformWriter } from '../../runtime/uniform.ts';
import source from './swiglu.wgsl?raw';
import backwardSource from './swiglu_backward.wgsl?raw';

const FORWARD = { name: 'swiglu', source };
const BACKWARD = { name: 'swiglu_backward', source: backwardSource };
/** Threads per workgroup of both kernels (their WG). */
const WG = 256;

/** Every tensor f32 and the shape of gate, which is [N, I]; outputs in no input's buffer. */
function check(op: string, gate: Tensor, outputs: Record<string, Tensor>, inputs: Record<string, Tensor>): void {
  const all = { ...outputs, ...inputs };
  if (gate.shape.length !== 2 || gate.size < 1) throw new ShapeError(op, `gate must be [N, I] with N, I >= 1; got gate ${shapeStr(gate)}`);
  for (const [name, t] of Object.entries(all)) {
    if (t.shape.length !== 2 || t.shape[0] !== gate.shape[0] || t.shape[1] !== gate.shape[1]) {
      throw new ShapeError(op, `${name} must have the shape of gate ${shapeStr(gate)}; got ${name} ${shapeStr(t)}`);
    }
    if (t.dtype !== 'f32') throw new ShapeError(op, `${name} must be f32, got ${t.dtype}`);
  }
  for (const [o, out] of Object.entries(outputs)) {
    for (const [i, input] of Object.entries(inputs)) {
      if (out.buffer === input.buffer) throw new ShapeError(op, `${o} must not share a buffer with ${i}`);
    }
  }
}

function params(total: number): ArrayBuffer {
  return new UniformWriter().u32(total).u32(0).u32(0).u32(0).bytes();
}

/** out = silu(gate) * up. out, gate, up: [N, I]. */
export async function swigluForward(
  gpu: Gpu,
  t: { out: Tensor; gate: Tensor; up: Tensor },
  options: { label?: string } = {},
): Promise<Dispatch[]> {
  const op = options.label ?? 'swiglu';
  check(op, t.gate, { out: t.out }, { gate: t.gate, up: t.up });
  const pipeline = await gpu.pipeline(FORWARD);
  const bindGroup = gpu.bind(pipeline, op, [gpu.uniform(params(t.gate.size), `${op} params`), t.gate, t.up, t.out]);
  return [{ label: op, pipeline, bindGroup, workgroups: gpu.grid(Math.ceil(t.gate.size / WG)) }];
}

/** dgate = dout * up * silu'(gate), dup = dout * silu(gate), both overwritten. All [N, I]. */
export async function swigluBackward(
  gpu: Gpu,
  t: { dgate: Tensor; dup: Tensor; dout: Tensor; gate: Tensor; up: Tensor },
  options: { label?: string } = {},
): Promise<Dispatch[]> {
  const op = options.label ?? 'swiglu backward';
  check(op, t.gate, { dgate: t.dgate, dup: t.dup }, { dout: t.dout, gate: t.gate, up: t.up });
  const pipeline = await gpu.pipeline(BACKWARD);
  const bindGroup = gpu.bind(pipeline, op, [gpu.uniform(params(t.gate.size), `${op} params`), t.dout, t.gate, t.up, t.dgate, t.dup]);
  return [{ label: op, pipeline, bindGroup, workgroups: gpu.grid(Math.ceil(t.gate.size / WG)) }];
}
