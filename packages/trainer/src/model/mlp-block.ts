// The MLP block of a decoder layer, forward and backward:
//   x_next = xmid + [post_feedforward_norm](down(act(gate(h2)) * up(h2))),  h2 = pre-MLP norm(xmid),
// act silu (SwiGLU) or gelu_tanh (Gemma 3's GeGLU); the pre-MLP norm is post_attention_layernorm, or with
// sandwichNorms pre_feedforward_layernorm, and then post_feedforward_layernorm norms the output.
import {
  add,
  type Command,
  gegluBackward,
  gegluForward,
  rmsnormBackward,
  rmsnormForward,
  swigluBackward,
  swigluForward,
  type Tensor,
} from '@webtune/kernels';
import type { ModelConfig } from './config.ts';
import {
  type Ctx,
  type LayerTensors,
  outputNorm,
  projectBackward,
  projectForward,
  projectLoraInputs,
  throughOutputNorm,
} from './layer-context.ts';
import type { LayerWeights } from './weights.ts';

/** The norm before the MLP: pre_feedforward_layernorm with sandwichNorms, post_attention_layernorm otherwise. */
function mlpNorm(c: ModelConfig, w: LayerWeights): Tensor {
  if (!c.sandwichNorms) return w.postAttentionNorm;
  if (!w.preFeedforwardNorm) throw new Error('internal: sandwichNorms without pre_feedforward_layernorm weights');
  return w.preFeedforwardNorm;
}

/**
 * Appends the block's forward to `cmds`: writes `next` [N, C] from a.xmid. Without `next` (gradient checkpointing's
 * recomputed forward, whose x_next the backward does not read), only what the backward reads: the down projection's
 * output is skipped, except with sandwich norms, whose backward reads it, and only its LoRA inputs are computed.
 */
export async function mlpBlockForward(ctx: Ctx, l: number, a: LayerTensors, next: Tensor | undefined, cmds: Command[]): Promise<void> {
  const { gpu, config: c, N } = ctx;
  const w = ctx.weights.layers[l];
  const eps = { eps: c.rmsNormEps };
  const project = async (target: 'gate_proj' | 'up_proj' | 'down_proj', out: Tensor, x: Tensor, W: Tensor) =>
    cmds.push(...(await projectForward(ctx, l, target, out, x, W)));

  cmds.push(...(await rmsnormForward(gpu, { y: a.h2, rstd: a.rstd2, x: a.xmid, w: mlpNorm(c, w) }, eps)));
  await project('gate_proj', a.gate, a.h2, w.gate);
  await project('up_proj', a.up, a.h2, w.up);
  const gated = c.mlpActivation === 'gelu_tanh' ? gegluForward : swigluForward;
  cmds.push(...(await gated(gpu, { out: a.act, gate: a.gate, up: a.up })));
  if (!next && !a.sw) {
    cmds.push(...(await projectLoraInputs(ctx, l, 'down_proj', a.act)));
    return;
  }
  const d = ctx.pool.get('d', [N, c.hiddenSize]);
  if (a.sw) {
    await project('down_proj', a.sw.d, a.act, w.down);
    const norm = outputNorm(w.postFeedforwardNorm, 'post_feedforward_layernorm');
    cmds.push(...(await rmsnormForward(gpu, { y: d, rstd: a.sw.rstdD, x: a.sw.d, w: norm }, eps)));
  } else {
    await project('down_proj', d, a.act, w.down);
  }
  if (next) cmds.push(...(await add(gpu, next, a.xmid, d)));
}

/**
 * Given dx = dLoss/dx_next (in place), leave dx = dLoss/dxmid: the block's gradient is accumulated into it.
 * dh, dLoss/dh2 [N, C], is the caller's scratch.
 */
export async function mlpBlockBackward(ctx: Ctx, l: number, a: LayerTensors, dx: Tensor, dh: Tensor, cmds: Command[]): Promise<void> {
  const { gpu, config: c, N } = ctx;
  const w = ctx.weights.layers[l];
  const p = ctx.pool;
  const dact = p.get('dact', [N, c.intermediateSize]);
  const dgate = p.get('dgate', [N, c.intermediateSize]);
  const dup = p.get('dup', [N, c.intermediateSize]);
  const project = async (
    target: 'gate_proj' | 'up_proj' | 'down_proj',
    dIn: Tensor,
    dOut: Tensor,
    x: Tensor,
    W: Tensor,
    accumulate: boolean,
  ) => cmds.push(...(await projectBackward(ctx, l, target, dIn, dOut, x, W, accumulate)));

  const postNorm = () => outputNorm(w.postFeedforwardNorm, 'post_feedforward_layernorm');
  const ddown = a.sw ? await throughOutputNorm(ctx, cmds, dx, a.sw.d, postNorm(), a.sw.rstdD) : dx;
  await project('down_proj', dact, ddown, a.act, w.down, false);
  const gated = c.mlpActivation === 'gelu_tanh' ? gegluBackward : swigluBackward;
  cmds.push(...(await gated(gpu, { dgate, dup, dout: dact, gate: a.gate, up: a.up })));
  await project('gate_proj', dh, dgate, a.h2, w.gate, false);
  await project('up_proj', dh, dup, a.h2, w.up, true);
  cmds.push(...(await rmsnormBackward(gpu, { dx, dy: dh, x: a.xmid, w: mlpNorm(c, w), rstd: a.rstd2 }, { accumulate: true })));
}
