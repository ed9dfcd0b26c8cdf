// geglu: out = gelu_tanh(gate) * up, the gated activation of Gemma 3's MLP (hidden_activation "gelu_pytorch_tanh"),
// and its backward. Shapes and dispatch are swiglu's (gatedActivation); only the kernels differ.
import { gatedActivation } from '../swiglu/swiglu.ts';
import source from './geglu.wgsl?raw';
import backwardSource from './geglu_backward.wgsl?raw';

const geglu = gatedActivation('geglu', { name: 'geglu', source }, { name: 'geglu_backward', source: backwardSource });
/** out = gelu_tanh(gate) * up. out, gate, up: [N, I]. */
export const gegluForward = geglu.forward;
/** dgate = dout * up * gelu_tanh'(gate), dup = dout * gelu_tanh(gate), both overwritten. All [N, I]. */
export const gegluBackward = geglu.backward;
