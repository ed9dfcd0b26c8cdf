// LoRA adapters as PEFT defines them: for a targeted linear W [out, in],
//   y = x Wᵀ + scale * (dropout(x) Aᵀ) Bᵀ,   A: [r, in], B: [out, r],
//   scale = lora_alpha / r, or lora_alpha / sqrt(r) with rsLoRA.
// All of an adapter's A and B live in ONE flat GPU buffer (views on 256-byte boundaries), so
// the optimizer, the gradient norm and checkpoints each see one tensor.
import { BINDING_ALIGN, type Gpu, seededRandom, type Tensor } from '@webtune/kernels';
import type { ModelConfig } from './config.ts';
import {
  checkLoraConfig,
  LORA_TARGETS,
  type LoraConfig,
  LoraError,
  type LoraTarget,
  loraScale,
  modulePath,
  targetShape,
} from './lora-config.ts';

export * from './lora-config.ts';

/** Where one module's A and B sit in the flat buffer (element offsets, 256-byte aligned). */
export interface LoraSlot {
  layer: number;
  target: LoraTarget;
  /** HF module path, the middle of the PEFT key. */
  path: string;
  inF: number;
  outF: number;
  aOffset: number;
  bOffset: number;
}

const ALIGN = BINDING_ALIGN / 4;
const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/** Layout of every A and B, in layer order then LORA_TARGETS order. */
export function loraLayout(model: ModelConfig, lora: { r: number; targetModules: readonly string[] }): { slots: LoraSlot[]; size: number } {
  const slots: LoraSlot[] = [];
  let offset = 0;
  for (let layer = 0; layer < model.numLayers; layer++) {
    for (const target of LORA_TARGETS) {
      if (!lora.targetModules.includes(target)) continue;
      const { inF, outF } = targetShape(model, target);
      const aOffset = offset;
      offset = align(offset + lora.r * inF);
      const bOffset = offset;
      offset = align(offset + outF * lora.r);
      slots.push({ layer, target, path: modulePath(layer, target), inF, outF, aOffset, bOffset });
    }
  }
  return { slots, size: Math.max(offset, ALIGN) };
}

export const peftKey = (path: string, which: 'A' | 'B') => `base_model.model.${path}.lora_${which}.weight`;

/** The PEFT tensors of an adapter, as plain arrays: `name -> {shape, data}`. */
export type PeftTensors = Map<string, { shape: number[]; data: Float32Array }>;

/** A LoRA adapter on the GPU: one flat parameter tensor and views of each A and B. */
export class LoraAdapter {
  readonly scale: number;
  readonly slots: LoraSlot[];
  private readonly bySlot = new Map<string, LoraSlot>();

  private constructor(
    readonly gpu: Gpu,
    readonly model: ModelConfig,
    readonly config: LoraConfig,
    /** Every A and B, flat: the tensor the optimizer updates. */
    readonly params: Tensor,
  ) {
    this.scale = loraScale(config);
    this.slots = loraLayout(model, config).slots;
    for (const s of this.slots) this.bySlot.set(`${s.layer}.${s.target}`, s);
  }

  static layoutSize(model: ModelConfig, config: LoraConfig): number {
    return loraLayout(model, config).size;
  }

  /** A new adapter as PEFT initialises one: A Kaiming-uniform (bound 1/sqrt(in)), B zero. */
  static create(gpu: Gpu, model: ModelConfig, config: LoraConfig, seed: number): LoraAdapter {
    checkLoraConfig(config);
    const { slots, size } = loraLayout(model, config);
    const flat = new Float32Array(size);
    const rand = seededRandom(seed);
    for (const s of slots) {
      const bound = 1 / Math.sqrt(s.inF); // kaiming_uniform_(a=sqrt(5)): gain sqrt(1/3), bound sqrt(3)*gain/sqrt(fan_in)
      for (let i = 0; i < config.r * s.inF; i++) flat[s.aOffset + i] = (2 * rand() - 1) * bound;
    }
    return new LoraAdapter(gpu, model, config, gpu.upload(flat, [size], 'lora params', 'lora'));
  }

  /** An adapter from PEFT tensors; every expected key must be present with its shape. */
  static fromPeft(gpu: Gpu, model: ModelConfig, config: LoraConfig, tensors: PeftTensors, file = 'adapter_model.safetensors'): LoraAdapter {
    checkLoraConfig(config);
    const { slots, size } = loraLayout(model, config);
    const flat = new Float32Array(size);
    const problems: string[] = [];
    for (const s of slots) {
      for (const [which, shape, offset] of [
        ['A', [config.r, s.inF], s.aOffset],
        ['B', [s.outF, config.r], s.bOffset],
      ] as const) {
        const key = peftKey(s.path, which);
        const t = tensors.get(key);
        if (!t) problems.push(`missing ${key}`);
        else if (t.shape.length !== 2 || t.shape[0] !== shape[0] || t.shape[1] !== shape[1])
          problems.push(`${key} is [${t.shape}], expected [${shape}]`);
        else flat.set(t.data, offset);
      }
    }
    if (problems.length > 0) {
      const shown = problems.slice(0, 6).join('; ');
      throw new LoraError(
        `${file} does not match this model and adapter_config.json: ${shown}${problems.length > 6 ? `; and ${problems.length - 6} more` : ''}`,
      );
    }
    return new LoraAdapter(gpu, model, config, gpu.upload(flat, [size], 'lora params', 'lora'));
  }

  slot(layer: number, target: LoraTarget): LoraSlot | undefined {
    return this.bySlot.get(`${layer}.${target}`);
  }

  /** A [r, in] and B [out, r] of a module, as views of `params` (or of a same-layout tensor, e.g. grads). */
  views(s: LoraSlot, flat: Tensor = this.params): { A: Tensor; B: Tensor } {
    return {
      A: flat.view([this.config.r, s.inF], s.aOffset, `${s.path}.lora_A`),
      B: flat.view([s.outF, this.config.r], s.bOffset, `${s.path}.lora_B`),
    };
  }

  /** A zero tensor with the parameters' layout (gradients, optimizer moments). */
  like(label: string): Tensor {
    return this.gpu.tensor([this.params.size], label, 'f32', 'lora');
  }

  async toPeft(): Promise<PeftTensors> {
    const flat = await this.gpu.read(this.params);
    const out: PeftTensors = new Map();
    for (const s of this.slots) {
      out.set(peftKey(s.path, 'A'), { shape: [this.config.r, s.inF], data: flat.slice(s.aOffset, s.aOffset + this.config.r * s.inF) });
      out.set(peftKey(s.path, 'B'), { shape: [s.outF, this.config.r], data: flat.slice(s.bOffset, s.bOffset + s.outF * this.config.r) });
    }
    return out;
  }

  /** The PEFT name of the first tensor in `flat` (this adapter's layout) holding a NaN or an infinity; null when all are finite. */
  nonFiniteTensor(flat: Float32Array): string | null {
    const { r } = this.config;
    for (const s of this.slots) {
      const parts = [
        ['A', s.aOffset, r * s.inF],
        ['B', s.bOffset, s.outF * r],
      ] as const;
      for (const [which, offset, size] of parts) {
        for (let i = offset; i < offset + size; i++) if (!Number.isFinite(flat[i])) return peftKey(s.path, which);
      }
    }
    return null;
  }

  /** Replace every parameter (e.g. restoring a checkpoint of this same layout). */
  load(flat: Float32Array): void {
    if (flat.length !== this.params.size) throw new LoraError(`adapter parameters: ${flat.length} values, expected ${this.params.size}`);
    this.gpu.write(this.params, flat);
  }

  destroy(): void {
    this.params.buffer.destroy();
  }
}
