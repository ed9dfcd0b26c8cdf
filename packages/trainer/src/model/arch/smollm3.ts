// SmolLM3ForCausalLM (transformers' modeling_smollm3 at commit 00d4b3d2142cb4ced2f51b90614b5d26bc045015,
// configuration_smollm3 at 008e574391258935f3ecc3035c882e73bbcac419): Llama (biases on all four projections iff
// `attention_bias`) with NoPE layers: `no_rope_layers[i]` is 1 where layer i applies RoPE and 0 where it does not
// (a list at least num_hidden_layers long); without it, every `no_rope_layer_interval`-th layer (default 4: layers
// 3, 7, ...) is NoPE. With `use_sliding_window` and a `sliding_window`, the layers `layer_types` marks
// "sliding_attention" (by default the NoPE ones) use that window.
import type { ConfigFields } from './fields.ts';
import { type ArchitectureSpec, LAYER_TYPES } from './spec.ts';

function ropeLayers(f: ConfigFields, numLayers: number): boolean[] {
  const listed = f.perLayer('no_rope_layers', numLayers, [0, 1], true);
  if (listed) return listed.map((x) => x === 1);
  const interval = f.int('no_rope_layer_interval', 4);
  return Array.from({ length: numLayers }, (_, i) => (i + 1) % interval !== 0);
}

export const smollm3: ArchitectureSpec = {
  architecture: 'SmolLM3ForCausalLM',
  family: 'SmolLM3',
  modelType: 'smollm3',
  defaults: { maxPositionEmbeddings: 32768, bosTokenId: 128000, eosTokenId: 128001, ropeTheta: 2000000, tieWordEmbeddings: true },
  read(f, numLayers) {
    const rope = ropeLayers(f, numLayers);
    const window = f.bool('use_sliding_window', false) && f.has('sliding_window') ? f.int('sliding_window') : null;
    const types =
      f.perLayer('layer_types', numLayers, LAYER_TYPES) ??
      rope.map((r) => (window !== null && !r ? 'sliding_attention' : 'full_attention'));
    const bias = f.bool('attention_bias', false);
    return {
      attentionBias: { qkv: bias, o: bias },
      qkNorm: false,
      layers: rope.map((r, i) => ({ rope: r, window: types[i] === 'sliding_attention' ? window : null })),
    };
  },
};
