// LoRA's configuration and naming, free of any GPU code (the CLI and the studio read it in Node
// and on the main thread). The GPU side is lora.ts.
import type { ModelConfig } from './config.ts';

export const LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

export interface LoraConfig {
  /** Rank r of A [r, in] and B [out, r]. */
  r: number;
  /** lora_alpha: the update is scaled by alpha / r (alpha / sqrt(r) with rsLoRA). */
  alpha: number;
  /** Dropout on the adapter's input during training; 0 disables it. */
  dropout: number;
  /** Which projections get an adapter, by PEFT's short names. */
  targetModules: LoraTarget[];
  /** rsLoRA: scale by alpha / sqrt(r). */
  useRslora: boolean;
}

export class LoraError extends Error {
  override name = 'LoraError';
}

export function loraScale(c: LoraConfig): number {
  return c.useRslora ? c.alpha / Math.sqrt(c.r) : c.alpha / c.r;
}

export function isLoraTarget(name: string): name is LoraTarget {
  return (LORA_TARGETS as readonly string[]).includes(name);
}

/** HF module path of a target in a layer, e.g. model.layers.3.self_attn.q_proj. */
export function modulePath(layer: number, target: LoraTarget): string {
  const block = target.endsWith('_proj') && ['gate_proj', 'up_proj', 'down_proj'].includes(target) ? 'mlp' : 'self_attn';
  return `model.layers.${layer}.${block}.${target}`;
}

/** [in, out] features of a target projection. */
export function targetShape(c: ModelConfig, target: LoraTarget): { inF: number; outF: number } {
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  switch (target) {
    case 'q_proj':
      return { inF: c.hiddenSize, outF: q };
    case 'k_proj':
    case 'v_proj':
      return { inF: c.hiddenSize, outF: kv };
    case 'o_proj':
      return { inF: q, outF: c.hiddenSize };
    case 'gate_proj':
    case 'up_proj':
      return { inF: c.hiddenSize, outF: c.intermediateSize };
    case 'down_proj':
      return { inF: c.intermediateSize, outF: c.hiddenSize };
  }
}

export function checkLoraConfig(c: LoraConfig): void {
  if (!Number.isInteger(c.r) || c.r < 1) throw new LoraError(`LoRA rank r must be a positive integer, got ${c.r}`);
  if (!Number.isFinite(c.alpha) || c.alpha <= 0) throw new LoraError(`lora_alpha must be positive, got ${c.alpha}`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new LoraError(`lora_dropout must be in [0, 1), got ${c.dropout}`);
  if (c.targetModules.length === 0) throw new LoraError(`target_modules is empty; choose from ${LORA_TARGETS.join(', ')}`);
  for (const t of c.targetModules)
    if (!isLoraTarget(t)) throw new LoraError(`unknown target module "${t}"; choose from ${LORA_TARGETS.join(', ')}`);
}
