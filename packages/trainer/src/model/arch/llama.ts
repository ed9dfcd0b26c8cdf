// LlamaForCausalLM (transformers' modeling_llama): the base every other module here is written against.
// Pre-norm blocks, x += o(attn(rope(q(rms(x))), rope(k(rms(x))), v(rms(x)))), x += down(silu(gate(h)) * up(h)).
import { type ArchitectureSpec, uniformLayers } from './spec.ts';

export const llama: ArchitectureSpec = {
  architecture: 'LlamaForCausalLM',
  family: 'Llama',
  modelType: 'llama',
  defaults: { maxPositionEmbeddings: 2048, bosTokenId: 1, eosTokenId: 2, ropeTheta: 10000, tieWordEmbeddings: false },
  read(f, numLayers) {
    // `attention_bias` puts a bias on all four projections.
    const bias = f.bool('attention_bias', false);
    return { attentionBias: { qkv: bias, o: bias }, qkNorm: false, layers: uniformLayers(numLayers, { rope: true, window: null }) };
  },
};
