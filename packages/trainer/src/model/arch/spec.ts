// What an architecture module (arch/<name>.ts) declares: its names, transformers' class defaults, and how its
// config.json fields turn into the decoder's switches. Everything else is read the same way for all of them.
import type { Architecture, LayerAttention, ModelConfig } from '../config.ts';
import type { ConfigFields } from './fields.ts';

/** The decoder's switches an architecture sets, beyond the sizes every config has. */
export interface ArchitectureFields {
  /** Which projections carry a bias (q/k/v together, o apart). */
  attentionBias: { qkv: boolean; o: boolean };
  /** RMSNorm over head_dim on every query and key head, before RoPE (q_norm / k_norm weights [hd]). */
  qkNorm: boolean;
  /** Per layer: RoPE or not (SmolLM3's NoPE layers) and the sliding window (null: full causal attention). */
  layers: LayerAttention[];
  /** Gemma 3's block (config.ts's ModelConfig documents each); absent: Llama's (SwiGLU, w norms, no scales). */
  block?: Pick<
    ModelConfig,
    'mlpActivation' | 'normPlusOne' | 'sandwichNorms' | 'embedScale' | 'attentionScale' | 'ropeLocalTheta' | 'finalLogitSoftcap'
  >;
}

export interface ArchitectureSpec {
  architecture: Architecture;
  /** The name people know the family by, as the studio lists what loads (e.g. "Gemma 3 (text)"). */
  family: string;
  modelType: string;
  /** transformers' config class defaults, for fields a config.json may omit. */
  defaults: {
    maxPositionEmbeddings: number;
    bosTokenId: number | null;
    eosTokenId: number | null;
    ropeTheta: number;
    tieWordEmbeddings: boolean;
    /** Qwen3's and Gemma 3's config classes default head_dim (128, 256); the others derive it as hidden_size / heads. */
    headDim?: number;
  };
  read(f: ConfigFields, numLayers: number): ArchitectureFields;
}

/** Every layer the same. */
export const uniformLayers = (numLayers: number, layer: LayerAttention): LayerAttention[] =>
  Array.from({ length: numLayers }, () => ({ ...layer }));

export const LAYER_TYPES = ['full_attention', 'sliding_attention'] as const;
