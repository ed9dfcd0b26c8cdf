// A LoRA adapter as GGUF, as llama.cpp's convert_lora_to_gguf.py writes it and llama-adapter.cpp reads it
// (ggml-org/llama.cpp at 0024aa7417efd50a7c2a79e049dfbbbceb0beaaf): general.type "adapter", adapter.type "lora",
// adapter.lora.alpha, and per adapted weight "<gguf name>.lora_a" (HF lora_A [r, in], ne [in, r]) and ".lora_b"
// (HF lora_B [out, r], ne [r, out]). llama.cpp scales by alpha / r with r read from lora_a, so an rsLoRA adapter
// (scale alpha / sqrt r) is written with alpha·sqrt(r). For the "llama" architecture the rows of q/k lora_b are
// permuted as the base weights are (the converter applies LlamaModel.permute to B·A, which permutes B's rows).
// A chain of adapters (a DPO adapter trained on an SFT one) is written as their exact stack (store/stack.ts).
import type { ModelConfig } from '../../model/config.ts';
import { loraScale } from '../../model/lora.ts';
import { LORA_TARGETS, type LoraTarget } from '../../model/lora-config.ts';
import { adapterModules, type StackInput, stackAdapters } from '../../store/stack.ts';
import { encodeFloats } from '../dtype.ts';
import type { ExportFile } from '../files.ts';
import { checkAdapterFits } from '../merge.ts';
import { type GgufTensor, type GgufValue, ggufFile, once } from './format.ts';
import { ggufArchitecture, ggufTensorName, permuteRope } from './model.ts';

export interface GgufLoraOptions {
  type?: 'F32' | 'F16' | 'BF16';
  name: string;
  fileName?: string;
}

export function ggufLoraFile(config: ModelConfig, adapters: StackInput[], o: GgufLoraOptions): ExportFile {
  const arch = ggufArchitecture(config);
  // q/k rows are permuted per head below: an adapter of another model's shape would be written wrong, not refused.
  checkAdapterFits(config, adapters);
  const single = adapters.length === 1 ? adapters[0] : undefined;
  const rec: StackInput = single ?? { ...adapters[adapters.length - 1], ...stackAdapters(adapters) };
  const { r } = rec.lora;
  const alpha = loraScale(rec.lora) * r; // alpha / r in llama.cpp equals the PEFT scale
  const type = o.type ?? 'F32';
  const metadata: [string, GgufValue][] = [
    ['general.architecture', { type: 'string', value: arch.name }],
    ['general.type', { type: 'string', value: 'adapter' }],
    ['general.name', { type: 'string', value: o.name }],
    ['adapter.type', { type: 'string', value: 'lora' }],
    ['adapter.lora.alpha', { type: 'f32', value: alpha }],
    ['general.quantization_version', { type: 'u32', value: 2 }],
  ];
  // Layer by layer, each in the model's module order (q, k, v, o, gate, up, down), whatever order the adapter's
  // tensors were listed in: the same adapter makes the same file, trained here or imported from a PEFT folder.
  const order = (m: { layer: number; target: LoraTarget }) => m.layer * LORA_TARGETS.length + LORA_TARGETS.indexOf(m.target);
  const modules = [...adapterModules(rec).values()].sort((a, b) => order(a.module) - order(b.module));
  const tensors: GgufTensor[] = [];
  for (const { module, A, B } of modules) {
    const name = ggufTensorName(`${module.path}.weight`);
    const heads = module.target === 'q_proj' ? config.numHeads : module.target === 'k_proj' ? config.numKvHeads : 0;
    tensors.push({ name: `${name}.lora_a`, shape: [r, module.inF], type, data: () => once(encodeFloats(A, type)) });
    tensors.push({
      name: `${name}.lora_b`,
      shape: [module.outF, r],
      type,
      data: () => once(encodeFloats(arch.permuteQK && heads > 0 ? permuteRope(B, heads, r) : B, type)),
    });
  }
  return ggufFile(o.fileName ?? 'adapter.gguf', metadata, tensors);
}
