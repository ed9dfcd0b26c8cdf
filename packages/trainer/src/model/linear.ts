// A frozen projection y = x Wᵀ (+ b) with LoRA adapters stacked on it, forward and backward.
// Several adapters may apply at once (DPO on top of an SFT adapter: the SFT one frozen, the new
// one trainable); each adds scale * (dropout(x) Aᵀ) Bᵀ.
import { addBias, axpy, type Command, type DropoutDispatch, dropout, type Gpu, matmul, type Tensor } from '@webtune/kernels';
import type { LoraAdapter, LoraSlot } from './lora.ts';

/** One adapter on one projection, with the buffers its forward saves for the backward. */
export interface LoraUse {
  adapter: LoraAdapter;
  slot: LoraSlot;
  /** [N, r] = dropout(x) Aᵀ, saved for dB. */
  z: Tensor;
  /** Flat gradients of the adapter's parameters (same layout): set only for the trainable adapter. */
  grads?: Tensor;
  /**
   * Dropout on the adapter's input (trainable adapter, p > 0, a training step or a forward that draws it), and in a
   * training step the same mask on the gradient: dxd -> dxdDropped.
   */
  dropout?: {
    p: number;
    xd: Tensor;
    forward: DropoutDispatch;
    backward?: { dispatch: DropoutDispatch; dxd: Tensor; dxdDropped: Tensor };
  };
}

/** out: [N, out] = x: [N, in] Wᵀ (+ bias) + Σ scale · (x_d Aᵀ) Bᵀ. */
export async function linearForward(
  gpu: Gpu,
  label: string,
  out: Tensor,
  x: Tensor,
  W: Tensor,
  bias: Tensor | undefined,
  loras: LoraUse[],
): Promise<Command[]> {
  const cmds: Command[] = [...(await matmul(gpu, out, x, W, { transB: true, label }))];
  if (bias) cmds.push(...(await addBias(gpu, out, bias)));
  cmds.push(...(await loraInputs(gpu, label, x, loras)));
  for (const l of loras) {
    const { B } = l.adapter.views(l.slot);
    cmds.push(...(await matmul(gpu, out, l.z, B, { transB: true, alpha: l.adapter.scale, beta: 1, label: `${label} lora_B` })));
  }
  return cmds;
}

/**
 * Each adapter's z = dropout(x) Aᵀ: what the backward reads of a projection's forward (the output itself it does not).
 * A recomputed forward whose output nothing reads needs only these. The z do not depend on `out`, so computing them
 * before the B terms leaves `out`'s sums in the same order.
 */
export async function loraInputs(gpu: Gpu, label: string, x: Tensor, loras: LoraUse[]): Promise<Command[]> {
  const cmds: Command[] = [];
  for (const l of loras) {
    const { A } = l.adapter.views(l.slot);
    if (l.dropout) cmds.push(...l.dropout.forward.dispatches);
    cmds.push(...(await matmul(gpu, l.z, l.dropout ? l.dropout.xd : x, A, { transB: true, label: `${label} lora_A` })));
  }
  return cmds;
}

/**
 * Given dy: [N, out], add (or write, when !accumulate) dx: [N, in] = dy W + Σ scale·(dy B) A (through the
 * dropout mask), and accumulate the trainable adapter's dA, dB into its gradient buffer:
 *   u = scale · dy B        [N, r]
 *   dB += scale · dyᵀ z     [out, r]
 *   dA += uᵀ x_d            [r, in]
 *   dx += dropout(u A)
 * `u(r)` gives scratch [N, r] for an adapter of rank r (stacked adapters may differ in rank).
 */
export async function linearBackward(
  gpu: Gpu,
  label: string,
  dx: Tensor,
  dy: Tensor,
  x: Tensor,
  W: Tensor,
  loras: LoraUse[],
  scratch: (r: number) => Tensor,
  accumulate: boolean,
): Promise<Command[]> {
  const cmds: Command[] = [...(await matmul(gpu, dx, dy, W, { beta: accumulate ? 1 : 0, label: `${label} dx` }))];
  for (const l of loras) {
    const { A, B } = l.adapter.views(l.slot);
    const s = l.adapter.scale;
    const u = scratch(l.adapter.config.r);
    cmds.push(...(await matmul(gpu, u, dy, B, { alpha: s, label: `${label} lora u` })));
    if (l.grads) {
      const g = l.adapter.views(l.slot, l.grads);
      const input = l.dropout ? l.dropout.xd : x;
      cmds.push(...(await matmul(gpu, g.B, dy, l.z, { transA: true, alpha: s, beta: 1, label: `${label} lora dB` })));
      cmds.push(...(await matmul(gpu, g.A, u, input, { transA: true, beta: 1, label: `${label} lora dA` })));
    }
    if (l.dropout) {
      const back = l.dropout.backward;
      if (!back) throw new Error(`internal: ${label}'s LoRA dropout was built for a forward only, not a backward`);
      cmds.push(...(await matmul(gpu, back.dxd, u, A, { label: `${label} lora dx_d` })));
      cmds.push(...back.dispatch.dispatches);
      cmds.push(...(await axpy(gpu, dx, back.dxdDropped, 1)));
    } else {
      cmds.push(...(await matmul(gpu, dx, u, A, { beta: 1, label: `${label} lora dx` })));
    }
  }
  return cmds;
}

/** Dropout dispatches for one adapter input: forward x -> xd, and with `back` the backward dxd -> dxdDropped, same seed. */
export async function loraDropout(
  gpu: Gpu,
  p: number,
  x: Tensor,
  xd: Tensor,
  back?: { dxd: Tensor; dxdDropped: Tensor },
): Promise<NonNullable<LoraUse['dropout']>> {
  return {
    p,
    xd,
    forward: await dropout(gpu, xd, x, { p, seed: 0 }),
    backward: back && { ...back, dispatch: await dropout(gpu, back.dxdDropped, back.dxd, { p, seed: 0 }) },
  };
}
