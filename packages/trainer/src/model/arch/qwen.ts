// Qwen2ForCausalLM and Qwen3ForCausalLM (transformers' modeling_qwen2 / modeling_qwen3, read at commit
// 000c33fdfde12e1ffafbfcdb3c926df5727a00b6; configuration_qwen3 at 008e574391258935f3ecc3035c882e73bbcac419).
// Llama, except:
// - Qwen2: q/k/v always carry a bias, o never (`attention_bias` is not read).
// - Qwen3: biases on all four iff `attention_bias`; q_norm / k_norm, an RMSNorm over head_dim ([hd] weights) on
//   each query and key head before RoPE; head_dim defaults to 128 (the config class's default), not hidden / heads.
// - Both: with `use_sliding_window` true, `sliding_window` applies to the layers whose `layer_types` entry is
//   "sliding_attention" (without layer_types: the layers from `max_window_layers` on). With it false the config class
//   sets sliding_window to None, so no layer slides whatever layer_types says.
import type { LayerAttention } from '../config.ts';
import type { ConfigFields } from './fields.ts';
import { type ArchitectureSpec, LAYER_TYPES } from './spec.ts';

function qwenLayers(f: ConfigFields, numLayers: number): LayerAttention[] {
  const window = f.bool('use_sliding_window', false) && f.has('sliding_window') ? f.int('sliding_window') : null;
  const from = f.int('max_window_layers', 28);
  const types =
    f.perLayer('layer_types', numLayers, LAYER_TYPES) ??
    Array.from({ length: numLayers }, (_, i) => (window !== null && i >= from ? 'sliding_attention' : 'full_attention'));
  return types.map((t) => ({ rope: true, window: t === 'sliding_attention' ? window : null }));
}

const QWEN_DEFAULTS = { maxPositionEmbeddings: 32768, bosTokenId: null, eosTokenId: null, ropeTheta: 10000, tieWordEmbeddings: false };

export const qwen2: ArchitectureSpec = {
  architecture: 'Qwen2ForCausalLM',
  family: 'Qwen2',
  modelType: 'qwen2',
  defaults: QWEN_DEFAULTS,
  read: (f, numLayers) => ({ attentionBias: { qkv: true, o: false }, qkNorm: false, layers: qwenLayers(f, numLayers) }),
};

export const qwen3: ArchitectureSpec = {
  architecture: 'Qwen3ForCausalLM',
  family: 'Qwen3',
  modelType: 'qwen3',
  defaults: { ...QWEN_DEFAULTS, headDim: 128 },
  read(f, numLayers) {
    const bias = f.bool('attention_bias', false);
    return { attentionBias: { qkv: bias, o: bias }, qkNorm: true, layers: qwenLayers(f, numLayers) };
  },
};
