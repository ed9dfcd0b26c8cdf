// The merged model -> a GGUF llama.cpp runs, named and laid out as convert_hf_to_gguf.py writes it (ggml-org/llama.cpp
// at 0024aa7417efd50a7c2a79e049dfbbbceb0beaaf: TextModel.set_gguf_parameters, LlamaModel, Qwen2Model, Qwen3Model, and
// gguf-py tensor_mapping.py):
//   model.embed_tokens -> token_embd, model.norm -> output_norm, lm_head -> output (absent when tied: llama.cpp
//   reuses token_embd), layers.<i>.{input_layernorm, self_attn.{q,k,v,o}_proj, post_attention_layernorm,
//   mlp.{gate,up,down}_proj, self_attn.{q,k}_norm (Qwen3)} -> blk.<i>.{attn_norm, attn_q, attn_k, attn_v, attn_output,
//   ffn_norm, ffn_gate, ffn_up, ffn_down, attn_q_norm, attn_k_norm}.
// llama.cpp's "llama" architecture applies RoPE to interleaved pairs (x0,x1), HF to halves (x_i, x_{i+hd/2}); the
// converter permutes the rows of q_proj and k_proj (LlamaModel.permute) so the two agree. "qwen2" uses the NEOX
// (halves) rope and takes the weights as they are. Gemma 3 ("gemma3": its four norms, 1 + w, sliding layers) is
// described in gemma3.ts.
// Tensor types follow the converter (ModelBase.prepare_tensors): 1-D tensors (norms, biases) stay F32; matrices take
// the chosen type, except that a Q8_0 matrix whose rows are not a multiple of 32 values falls back to F16, as there.
import { type ModelConfig, ropeInvFreq } from '../../model/config.ts';
import { encodeFloats } from '../dtype.ts';
import { ExportError, type ExportFile } from '../files.ts';
import { type Checkpoint, rowBlocks } from '../merge.ts';
import { type GgmlType, type GgufTensor, type GgufValue, ggufFile, once } from './format.ts';
import { GEMMA3_NORM_NAMES, gemma3HyperParameters, gemma3Refusal, gemma3Stored } from './gemma3.ts';
import { Q8_0_BLOCK, quantizeQ8_0 } from './q8.ts';
import { tokenizerMetadata } from './tokenizer.ts';

export type GgufModelType = 'F32' | 'F16' | 'BF16' | 'Q8_0';
export const GGUF_MODEL_TYPES: readonly GgufModelType[] = ['F32', 'F16', 'BF16', 'Q8_0'];

/** general.file_type (llama_ftype): ALL_F32, MOSTLY_F16, MOSTLY_Q8_0, MOSTLY_BF16. */
const FILE_TYPE: Record<GgufModelType, number> = { F32: 0, F16: 1, Q8_0: 7, BF16: 32 };

/** The ggml type a matrix with rows of `rowLen` values is written in, for a file of `type`. */
export function matrixType(type: GgufModelType, rowLen: number): GgmlType {
  return type === 'Q8_0' && rowLen % Q8_0_BLOCK !== 0 ? 'F16' : type;
}

/** A tensor's bytes in a ggml type. */
export function encodeTensor(data: Float32Array, type: GgmlType, rowLen: number): Uint8Array {
  return type === 'Q8_0' ? quantizeQ8_0(data, rowLen) : encodeFloats(data, type);
}

const ARCH: Partial<Record<ModelConfig['architecture'], { name: string; permuteQK: boolean }>> = {
  LlamaForCausalLM: { name: 'llama', permuteQK: true },
  // The converter registers MistralForCausalLM with LlamaModel: the same "llama" GGUF.
  MistralForCausalLM: { name: 'llama', permuteQK: true },
  Qwen2ForCausalLM: { name: 'qwen2', permuteQK: false },
  // Qwen3Model: qwen2's layout plus the per-head q/k RMSNorms (attn_q_norm, attn_k_norm), NEOX rope.
  Qwen3ForCausalLM: { name: 'qwen3', permuteQK: false },
  // SmolLM3Model (a LlamaModel: q/k permuted, NORM rope); llama.cpp's smollm3 leaves RoPE out of every 4th layer.
  SmolLM3ForCausalLM: { name: 'smollm3', permuteQK: true },
  // NEOX rope like qwen2; sliding layers, sandwich norms and the rest in gemma3.ts.
  Gemma3ForCausalLM: { name: 'gemma3', permuteQK: false },
};

/**
 * The llama.cpp architecture a model is written as, or the reason it cannot be: an architecture webtune does not
 * write, or a feature the llama.cpp architecture lacks, which would make llama.cpp compute
 * another function than the checkpoint: sliding-window attention outside "gemma3" (its llama, qwen2 and qwen3 attend
 * to the whole context), NoPE layers other than smollm3's every 4th, Qwen3 attention biases (its qwen3 has no bias
 * tensors), SmolLM3's o_proj bias, and what gemma3Refusal names.
 */
export function ggufArchitecture(config: ModelConfig): { name: string; permuteQK: boolean } {
  const arch = ARCH[config.architecture];
  const written = Object.keys(ARCH).join(', ');
  if (!arch) throw new ExportError(`config.json: webtune does not write GGUF for ${config.architecture} yet (it writes ${written})`);
  if (arch.name === 'gemma3') {
    const why = gemma3Refusal(config);
    if (why) throw new ExportError(`config.json: ${why}: a GGUF would answer differently. Export the merged model (safetensors) instead`);
    return arch;
  }
  const windowed = config.layers.findIndex((l) => l.window !== null && l.window < config.maxPositionEmbeddings);
  if (windowed >= 0)
    throw new ExportError(
      `config.json: layer ${windowed} uses sliding-window attention (window ${config.layers[windowed].window}), which llama.cpp's ` +
        `"${arch.name}" does not do (it attends to the whole context): a GGUF would answer differently past ` +
        `${config.layers[windowed].window} tokens. Export the merged model (safetensors) instead`,
    );
  // llama.cpp's smollm3 has no o_proj bias, and its NoPE layers are fixed: every 4th (src/models/smollm3.cpp,
  // n_no_rope_layer_step), whatever the checkpoint's no_rope_layers say.
  const nope = config.layers.findIndex((l, i) => l.rope !== (arch.name === 'smollm3' ? (i + 1) % 4 !== 0 : true));
  if (nope >= 0)
    throw new ExportError(
      `config.json: layer ${nope} ${config.layers[nope].rope ? 'applies' : 'leaves out'} RoPE, and llama.cpp's "${arch.name}" ` +
        `${arch.name === 'smollm3' ? 'leaves it out of every 4th layer (4, 8, ...) only' : 'applies it in every layer'}: a GGUF would answer differently. Export the merged model (safetensors) instead`,
    );
  if (arch.name === 'smollm3' && config.attentionBias.o)
    throw new ExportError(
      'config.json: attention_bias is true, and llama.cpp\'s "smollm3" has no o_proj bias: a GGUF would drop it. Export the merged model (safetensors) instead',
    );
  if (arch.name === 'qwen3' && (config.attentionBias.qkv || config.attentionBias.o))
    throw new ExportError(
      'config.json: attention_bias is true, and llama.cpp\'s "qwen3" has no attention bias tensors: a GGUF would drop them. Export the merged model (safetensors) instead',
    );
  return arch;
}

const LAYER_NAMES: [RegExp, string][] = [
  [/^input_layernorm\.weight$/, 'attn_norm.weight'],
  [/^self_attn\.q_proj\.(weight|bias)$/, 'attn_q.$1'],
  [/^self_attn\.k_proj\.(weight|bias)$/, 'attn_k.$1'],
  [/^self_attn\.v_proj\.(weight|bias)$/, 'attn_v.$1'],
  [/^self_attn\.o_proj\.(weight|bias)$/, 'attn_output.$1'],
  [/^self_attn\.q_norm\.weight$/, 'attn_q_norm.weight'],
  [/^self_attn\.k_norm\.weight$/, 'attn_k_norm.weight'],
  [/^post_attention_layernorm\.weight$/, 'ffn_norm.weight'],
  [/^mlp\.gate_proj\.weight$/, 'ffn_gate.weight'],
  [/^mlp\.up_proj\.weight$/, 'ffn_up.weight'],
  [/^mlp\.down_proj\.weight$/, 'ffn_down.weight'],
];

/** llama.cpp's name for an HF tensor name; `sandwich`: Gemma 3's four norms per layer (gemma3.ts). */
export function ggufTensorName(hf: string, sandwich = false): string {
  if (hf === 'model.embed_tokens.weight') return 'token_embd.weight';
  if (hf === 'model.norm.weight') return 'output_norm.weight';
  if (hf === 'lm_head.weight') return 'output.weight';
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(hf);
  const names = sandwich ? [...GEMMA3_NORM_NAMES, ...LAYER_NAMES] : LAYER_NAMES;
  if (m) for (const [re, to] of names) if (re.test(m[2])) return `blk.${m[1]}.${m[2].replace(re, to)}`;
  throw new ExportError(`tensor "${hf}" has no GGUF name webtune knows`);
}

/**
 * LlamaModel.permute: rows viewed as [heads, 2, hd/2] are reordered to [heads, hd/2, 2], so output row
 * h·hd + 2i + j is input row h·hd + j·hd/2 + i. Works for a weight [heads·hd, in] and a bias [heads·hd].
 */
export function permuteRope(data: Float32Array, heads: number, rowLen: number): Float32Array {
  const hd = data.length / rowLen / heads;
  const out = new Float32Array(data.length);
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < hd / 2; i++)
      for (let j = 0; j < 2; j++) {
        const from = (h * hd + j * (hd / 2) + i) * rowLen;
        out.set(data.subarray(from, from + rowLen), (h * hd + 2 * i + j) * rowLen);
      }
  return out;
}

/** The per-architecture hyper-parameters (the `<arch>.*` keys). */
function hyperParameters(arch: string, c: ModelConfig): [string, GgufValue][] {
  const u32 = (value: number): GgufValue => ({ type: 'u32', value });
  const meta: [string, GgufValue][] = [
    [`${arch}.block_count`, u32(c.numLayers)],
    [`${arch}.context_length`, u32(c.maxPositionEmbeddings)],
    [`${arch}.embedding_length`, u32(c.hiddenSize)],
    [`${arch}.feed_forward_length`, u32(c.intermediateSize)],
    [`${arch}.attention.head_count`, u32(c.numHeads)],
    [`${arch}.attention.head_count_kv`, u32(c.numKvHeads)],
    [`${arch}.rope.freq_base`, { type: 'f32', value: c.ropeTheta }],
    [`${arch}.attention.layer_norm_rms_epsilon`, { type: 'f32', value: c.rmsNormEps }],
  ];
  if (c.headDim !== c.hiddenSize / c.numHeads && arch !== 'gemma3') {
    meta.push([`${arch}.attention.key_length`, u32(c.headDim)], [`${arch}.attention.value_length`, u32(c.headDim)]);
  }
  if (arch === 'llama' || arch === 'smollm3')
    meta.push([`${arch}.vocab_size`, u32(c.vocabSize)], [`${arch}.rope.dimension_count`, u32(c.headDim)]);
  if (arch === 'gemma3') meta.push(...gemma3HyperParameters(c));
  const s = c.ropeScaling;
  if (s?.type === 'linear') {
    meta.push(
      [`${arch}.rope.scaling.type`, { type: 'string', value: 'linear' }],
      [`${arch}.rope.scaling.factor`, { type: 'f32', value: s.factor }],
    );
  }
  // "llama3" scaling has no metadata: llama.cpp reads it from the rope_freqs tensor (ropeFreqsTensor).
  return meta;
}

/**
 * llama.cpp's rope_freqs.weight for a "llama3" rope_scaling (Llama 3.1 and 3.2): one divisor per rotated pair, by
 * which llama.cpp divides that pair's base frequency. Written as convert_hf_to_gguf.py's
 * LlamaModel.generate_extra_tensors does (llama.cpp 0b03adaa): the base frequencies in float32 as torch computes
 * them, the factors in Python floats (1 for high frequencies, `factor` for low ones, the smooth blend between),
 * stored as float32. ropeInvFreq is transformers' side of the same scaling, which the reference forward uses.
 */
export function ropeFreqsTensor(c: ModelConfig): GgufTensor | null {
  const s = c.ropeScaling;
  if (s?.type !== 'llama3') return null;
  const base = ropeInvFreq({ ...c, ropeScaling: null });
  const lowFreqWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highFreqWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  const factors = Float32Array.from(base, (freq) => {
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highFreqWavelen) return 1;
    if (wavelen > lowFreqWavelen) return s.factor;
    const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    return 1 / ((1 - smooth) / s.factor + smooth);
  });
  return { name: 'rope_freqs.weight', shape: [factors.length], type: 'F32', data: () => once(encodeFloats(factors, 'F32')) };
}

export interface GgufModelOptions {
  type: GgufModelType;
  /** general.name */
  name: string;
  /** tokenizer.json and tokenizer_config.json, parsed. */
  tokenizer: { json: Record<string, unknown>; config: Record<string, unknown> };
  fileName?: string;
}

/** The GGUF file of a (merged) model. */
export function ggufModelFile(model: Checkpoint, o: GgufModelOptions): ExportFile {
  const c = model.config;
  const arch = ggufArchitecture(c);
  const metadata: [string, GgufValue][] = [
    ['general.architecture', { type: 'string', value: arch.name }],
    ['general.type', { type: 'string', value: 'model' }],
    ['general.name', { type: 'string', value: o.name }],
    ...hyperParameters(arch.name, c),
    ['general.file_type', { type: 'u32', value: FILE_TYPE[o.type] }],
    ...tokenizerMetadata(o.tokenizer.json, o.tokenizer.config, c.vocabSize),
    ['general.quantization_version', { type: 'u32', value: 2 }],
  ];
  const gemma = arch.name === 'gemma3';
  const read = async (name: string, rows?: [number, number]) => {
    const data = await model.read(name, rows);
    return gemma ? gemma3Stored(name, data) : data;
  };
  const tensors: GgufTensor[] = model.tensors.map(({ name, shape }) => {
    const ggufName = ggufTensorName(name, gemma);
    const matrix = shape.length === 2;
    const type: GgmlType = matrix ? matrixType(o.type, shape[1]) : 'F32';
    const heads = /\.q_proj\./.test(name) ? c.numHeads : /\.k_proj\./.test(name) ? c.numKvHeads : 0;
    const rowLen = matrix ? shape[1] : 1;
    const permute = arch.permuteQK && heads > 0;
    return {
      name: ggufName,
      shape,
      type,
      // A block of rows at a time; q/k of a "llama" GGUF whole, as the permutation mixes rows within each head.
      async *data() {
        if (permute) yield encodeTensor(permuteRope(await read(name), heads, rowLen), type, rowLen);
        else for (const rows of rowBlocks(shape)) yield encodeTensor(await read(name, rows), type, rowLen);
      },
    };
  });
  const ropeFreqs = ropeFreqsTensor(c);
  return ggufFile(o.fileName ?? 'model.gguf', metadata, ropeFreqs ? [...tensors, ropeFreqs] : tensors);
}
