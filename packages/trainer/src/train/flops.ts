// FLOPs of one LoRA training step, counted the way the kernels do the work (2 per multiply-add), for time estimates
// and fractions of a GPU's peak. The base weights are frozen, so the backward of a base projection is one matmul
// (the input's gradient, as many FLOPs as its forward), not two; an adapter's matmuls (rank r) are counted in full:
// forward and backward (z = Ax, y = Bz; then dz, dB, dx, dA: twice the forward). Attention is counted over the whole T x T square, as the
// kernels compute it before the causal mask. Norms, RoPE, SwiGLU and the loss are bandwidth, not FLOPs. With gradient
// checkpointing the layers' forward runs twice (decoder.ts), less the down projections the second time, and both are
// counted: these are the FLOPs the GPU does.
import type { ModelConfig } from '../model/config.ts';
import { LORA_TARGETS, type LoraTarget, targetShape } from '../model/lora-config.ts';

export interface StepShape {
  /** Sequences in the micro-batch (a DPO pair is two). */
  sequences: number;
  /** Padded length of each. */
  length: number;
  lora: { r: number; targetModules: readonly string[] };
  /** false: forward only (reference log-probs, evaluation). */
  backward: boolean;
  /** With the backward: the layers' forward runs again before it (gradient checkpointing; not the LM head). */
  recompute?: boolean;
}

export function loraStepFlops(c: ModelConfig, s: StepShape): number {
  const N = s.sequences * s.length; // tokens
  const linear = (inF: number, outF: number) => 2 * inF * outF * N;
  let base = 0;
  let adapter = 0;
  for (const t of LORA_TARGETS as readonly LoraTarget[]) {
    const { inF, outF } = targetShape(c, t);
    base += linear(inF, outF);
    if (s.lora.targetModules.includes(t)) adapter += linear(inF, s.lora.r) + linear(s.lora.r, outF);
  }
  base *= c.numLayers;
  adapter *= c.numLayers;
  const head = linear(c.hiddenSize, c.vocabSize);
  const attention = c.numLayers * 2 * (2 * s.sequences * s.length * s.length * c.numHeads * c.headDim); // QKᵀ and PV
  const forward = base + head + adapter + attention;
  if (!s.backward) return forward;
  // Backward: inputs' gradients of base and head (1x), adapters' (2x), attention's (2x: dP, dV, dS·K, dSᵀ·Q).
  // Recomputed: all but the down projections' outputs (decoder.ts), which Gemma 3's sandwich norms still need.
  const down = targetShape(c, 'down_proj');
  const skipped = c.sandwichNorms
    ? 0
    : c.numLayers * (linear(down.inF, down.outF) + (s.lora.targetModules.includes('down_proj') ? linear(s.lora.r, down.outF) : 0));
  const recomputed = s.recompute ? base + adapter + attention - skipped : 0;
  return forward + recomputed + base + head + 2 * adapter + 2 * attention;
}
