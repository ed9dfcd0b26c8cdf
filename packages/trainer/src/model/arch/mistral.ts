// MistralForCausalLM (transformers' modeling_mistral / configuration_mistral, read at commit
// 001f85b38fb432858ace93f18622f07cec46d874): Llama without attention biases, plus a sliding window of
// `sliding_window` keys on every layer. The config class defaults it to 4096 when the key is absent; an explicit
// null turns it off (Mistral 7B v0.2 and later), and then the model is Llama exactly.
import { type ArchitectureSpec, uniformLayers } from './spec.ts';

export const mistral: ArchitectureSpec = {
  architecture: 'MistralForCausalLM',
  family: 'Mistral',
  modelType: 'mistral',
  defaults: { maxPositionEmbeddings: 4096 * 32, bosTokenId: 1, eosTokenId: 2, ropeTheta: 10000, tieWordEmbeddings: false },
  read: (f, numLayers) => ({
    attentionBias: { qkv: false, o: false },
    qkNorm: false,
    layers: uniformLayers(numLayers, { rope: true, window: f.intOrNull('sliding_window', 4096) }),
  }),
};
