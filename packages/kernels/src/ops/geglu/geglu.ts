// geglu: out = gelu_tanh(gate) * up, the gated activation of Gemma 3's MLP (hidden_activation "gelu_pytorch_tanh"),
// and its backward. Shapes and dispatch as swiglu's.
import type { Named } from '../../runtime/checks.ts';
import type { Dispatch, Gpu } from '../../runtime/gpu.ts';
import type { Tensor } from '../../runtime/tensor.ts';
import { checkGated, gatedDispatch } from '../swiglu/swiglu.ts';
import source from './geglu.wgsl?raw';
import backwardSource from './geglu_backward.wgsl?raw';

const FORWARD = { name: 'geglu', source };
const BACKWARD = { name: 'geglu_backward', source: backwardSource };

/** out = gelu_tanh(gate) * up. out, gate, up: [N, I]. */
export async function gegluForward(
  gpu: Gpu,
  t: { out: Tensor; gate: Tensor; up: Tensor },
  options: { label?: string } = {},
): Promise<Dispatch[]> {
  const op = options.label ?? 'geglu';
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

/** dgate = dout * up * gelu_tanh'(gate), dup = dout * gelu_tanh(gate), both overwritten. All [N, I]. */
export async function gegluBackward(
  gpu: Gpu,
  t: { dgate: Tensor; dup: Tensor; dout: Tensor; gate: Tensor; up: Tensor },
  options: { label?: string } = {},
): Promise<Dispatch[]> {
  const op = options.label ?? 'geglu backward';
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
