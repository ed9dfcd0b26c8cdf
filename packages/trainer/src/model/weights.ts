// A checkpoint's tensors on the GPU in the shapes the decoder uses. Matrices (projections, the
// embedding, lm_head) stay in the checkpoint's dtype: BF16 and F16 are kept packed, two to a word,
// and widened exactly where the kernels read them (matmul's B, the embedding gather), so they
// take half the memory of float32 and compute the same numbers. Vectors (norms, biases) are float32.
import { BINDING_ALIGN, bytesPerElement, type DType, type Gpu, numel, ropeTables, Tensor } from '@webtune/kernels';
import { checkCheckpointTensors, type ModelConfig, ropeInvFreq } from './config.ts';
import { SLOTS_BUFFER_BYTES } from './pool.ts';
import { DTYPE_BYTES, SafetensorsError, type TensorInfo, weightHalves, weightToFloat32 } from './safetensors.ts';
import { unusedTensors } from './unused-weights.ts';
import { readSafetensorsHeader, readTensorBytes, type WeightFile } from './weight-file.ts';

export interface LayerWeights {
  inputNorm: Tensor; // [C]
  postAttentionNorm: Tensor; // [C]
  q: Tensor; // [nh*hd, C]
  k: Tensor; // [nkv*hd, C]
  v: Tensor; // [nkv*hd, C]
  o: Tensor; // [C, nh*hd]
  gate: Tensor; // [I, C]
  up: Tensor; // [I, C]
  down: Tensor; // [C, I]
  qBias?: Tensor; // [nh*hd]
  kBias?: Tensor; // [nkv*hd]
  vBias?: Tensor; // [nkv*hd]
  oBias?: Tensor; // [C]
  qNorm?: Tensor; // [hd] (qkNorm)
  kNorm?: Tensor; // [hd] (qkNorm)
  preFeedforwardNorm?: Tensor; // [C] (sandwichNorms)
  postFeedforwardNorm?: Tensor; // [C] (sandwichNorms)
}

export interface ModelWeights {
  embed: Tensor; // [V, C]
  layers: LayerWeights[];
  norm: Tensor; // [C]
  /** [V, C]; the embedding itself when tied. */
  lmHead: Tensor;
  /** RoPE tables [P, hd/2]: angles computed on the host (GPU sin/cos are inexact for large angles). */
  ropeCos: Tensor;
  ropeSin: Tensor;
  /** The same for the layers with localRope (Gemma 3's sliding layers, base ropeLocalTheta); absent without them. */
  ropeLocalCos?: Tensor;
  ropeLocalSin?: Tensor;
  /** Positions the tables cover (P); Model.coverPositions grows them. */
  ropePositions: number;
  /** Checkpoint tensors the model does not use (unusedTensors), for the load's warning; not uploaded. */
  unused: string[];
}

/** A checkpoint's safetensors files by name (a single model.safetensors, or the shards), read a range at a time. */
/** Bytes of a matrix read and uploaded at once while loading (uploadWeights), at most (one row at least). */
export const UPLOAD_BLOCK_BYTES = 16 << 20;

/** Bytes uploaded between waits for the GPU's queue while loading (uploadWeights). */
const LOAD_SYNC_BYTES = 64 << 20;

export type CheckpointFiles = Map<string, WeightFile>;

/**
 * Positions the RoPE tables cover at load, at most: max_position_embeddings can be 128k, and tables that long would
 * cost memory most runs never use. A longer sequence grows them (Model.coverPositions).
 */
export const INITIAL_ROPE_POSITIONS = 16384;

/**
 * Read and check every file's header, check the tensors against the config (missing ones named), then upload what the
 * decoder needs one tensor at a time: its bytes read, converted (BF16/F16 matrices stay packed as they are, everything
 * else becomes float32, exactly), uploaded, and let go before the next is read. A matrix is read and uploaded a block
 * of rows (at most `blockBytes` of the file, UPLOAD_BLOCK_BYTES by default) at a time, so the host never holds more
 * than one block of a large tensor (a 151,936 x 896 embedding is 272 MB). If anything fails (a read, a NaN, the GPU),
 * the tensors uploaded so far are destroyed: nothing half-loaded.
 * With normPlusOne (Gemma 3) every RMSNorm weight is uploaded as 1 + w, added in float32 as transformers does
 * (`1.0 + self.weight.float()`).
 */
export async function uploadWeights(
  gpu: Gpu,
  config: ModelConfig,
  files: CheckpointFiles,
  blockBytes = UPLOAD_BLOCK_BYTES,
): Promise<ModelWeights> {
  const index = new Map<string, { file: string; source: WeightFile; dataOffset: number; info: TensorInfo }>();
  for (const [file, source] of files) {
    const parsed = await readSafetensorsHeader(file, source);
    for (const [name, info] of parsed.tensors) {
      const other = index.get(name)?.file;
      if (other)
        throw new SafetensorsError(
          file,
          name,
          `is in ${other} too: a tensor belongs to one shard; the checkpoint is corrupt: download the model again, or remove the stray shard`,
        );
      index.set(name, { file, source, dataOffset: parsed.dataOffset, info });
    }
  }
  const names = [...files.keys()].join(', ');
  checkCheckpointTensors(config, new Map([...index].map(([n, e]) => [n, { shape: e.info.shape }])), names);
  const unused = unusedTensors(config, index.keys());

  const uploaded: Tensor[] = [];
  let unsynced = 0;
  const entry = (name: string) => {
    const e = index.get(name);
    if (!e) throw new SafetensorsError(names, name, 'is missing');
    return e;
  };
  /** How `name` is held: a matrix in its dtype (BF16/F16 packed), anything else float32. */
  const heldAs = (name: string): DType => {
    const { dtype, shape } = entry(name).info;
    return shape.length !== 2 ? 'f32' : dtype === 'BF16' ? 'bf16' : dtype === 'F16' ? 'f16' : 'f32';
  };
  /** Upload `name` into `into` (a view laid out for it), or into a buffer of its own. */
  const load = async (name: string, into?: Tensor): Promise<Tensor> => {
    const e = entry(name);
    const { dtype, shape } = e.info;
    let t: Tensor;
    if (shape.length === 2) {
      const half = dtype === 'BF16' || dtype === 'F16';
      t = into ?? gpu.tensor(shape, name, heldAs(name), 'weights');
      if (!into) uploaded.push(t);
      for (const rows of rowBlocks(shape, DTYPE_BYTES[dtype], blockBytes)) {
        const block = await readRows(e.file, e.source, e.dataOffset, e.info, rows);
        const at = rows[0] * shape[1];
        if (half) gpu.writeHalves(t, await decodeBlock(weightHalves, e.file, e.source, e.dataOffset, e.info, block), at);
        else gpu.write(t, await decodeBlock(weightToFloat32, e.file, e.source, e.dataOffset, e.info, block), at);
        unsynced += block.bytes.length;
        // The queue copies uploads from staging memory (the browser's GPU process) when it gets to them: waiting for
        // it every LOAD_SYNC_BYTES keeps that staging small instead of a whole checkpoint in flight.
        if (unsynced >= LOAD_SYNC_BYTES) {
          unsynced = 0;
          await gpu.sync();
        }
      }
      return t;
    }
    const { bytes, info } = await readTensorBytes(e.file, e.source, e.dataOffset, e.info);
    const data = weightToFloat32(e.file, bytes, 0, info);
    if (config.normPlusOne && /norm\.weight$/.test(name)) for (let i = 0; i < data.length; i++) data[i] += 1;
    if (into) {
      gpu.write(into, data);
      return into;
    }
    t = gpu.upload(data, shape, name, 'weights');
    uploaded.push(t);
    return t;
  };
  try {
    const layers: LayerWeights[] = [];
    for (let i = 0; i < config.numLayers; i++) {
      const wanted = layerTensorNames(config, i);
      const views = packedViews(
        gpu,
        `model.layers.${i}`,
        wanted.map(([, name]) => ({ name, shape: entry(name).info.shape, dtype: heldAs(name) })),
      );
      uploaded.push(...views.buffers);
      const layer: Partial<LayerWeights> = {};
      for (const [k, [key, name]] of wanted.entries()) layer[key] = await load(name, views.tensors[k]);
      layers.push(layer as LayerWeights);
    }
    const embed = await load('model.embed_tokens.weight');
    const weights: ModelWeights = {
      embed,
      layers,
      norm: await load('model.norm.weight'),
      lmHead: config.tieWordEmbeddings ? embed : await load('lm_head.weight'),
      ...uploadRope(gpu, config, Math.min(config.maxPositionEmbeddings, INITIAL_ROPE_POSITIONS)),
      unused,
    };
    await gpu.sync(); // loaded means on the GPU, its staging let go
    return weights;
  } catch (err) {
    for (const t of uploaded) t.buffer.destroy();
    throw err;
  }
}

/** Checkpoint names of the tensors layer `i` uses, by field: the seven projections and two norms, and what the config adds. */
function layerTensorNames(config: ModelConfig, i: number): [keyof LayerWeights, string][] {
  const p = `model.layers.${i}`;
  const all: [keyof LayerWeights, string, boolean][] = [
    ['inputNorm', `${p}.input_layernorm.weight`, true],
    ['postAttentionNorm', `${p}.post_attention_layernorm.weight`, true],
    ['q', `${p}.self_attn.q_proj.weight`, true],
    ['k', `${p}.self_attn.k_proj.weight`, true],
    ['v', `${p}.self_attn.v_proj.weight`, true],
    ['o', `${p}.self_attn.o_proj.weight`, true],
    ['gate', `${p}.mlp.gate_proj.weight`, true],
    ['up', `${p}.mlp.up_proj.weight`, true],
    ['down', `${p}.mlp.down_proj.weight`, true],
    ['qBias', `${p}.self_attn.q_proj.bias`, config.attentionBias.qkv],
    ['kBias', `${p}.self_attn.k_proj.bias`, config.attentionBias.qkv],
    ['vBias', `${p}.self_attn.v_proj.bias`, config.attentionBias.qkv],
    ['oBias', `${p}.self_attn.o_proj.bias`, config.attentionBias.o],
    ['qNorm', `${p}.self_attn.q_norm.weight`, config.qkNorm],
    ['kNorm', `${p}.self_attn.k_norm.weight`, config.qkNorm],
    ['preFeedforwardNorm', `${p}.pre_feedforward_layernorm.weight`, config.sandwichNorms],
    ['postFeedforwardNorm', `${p}.post_feedforward_layernorm.weight`, config.sandwichNorms],
  ];
  return all.filter(([, , wanted]) => wanted).map(([key, name]) => [key, name]);
}

/**
 * Tensors of these shapes as views of as few weight buffers as fit in SLOTS_BUFFER_BYTES each, every one on a binding
 * boundary; a tensor larger than that alone in its own. Not a buffer each: WebGPU implementations suballocate small
 * buffers in power-of-two blocks (Dawn's Vulkan backend: every buffer under 4 MiB), so SmolLM2-135M's q and o (648 KiB
 * of bf16) held 1 MiB each and gate, up and down (1,728 KiB) 2 MiB: 55 MB of its 271 MB of weights was rounding.
 */
export function packedViews(
  gpu: Gpu,
  label: string,
  specs: { name: string; shape: readonly number[]; dtype: DType }[],
): { tensors: Tensor[]; buffers: Tensor[] } {
  const slot = (s: (typeof specs)[number]) => Math.ceil((numel(s.shape) * bytesPerElement(s.dtype)) / BINDING_ALIGN) * BINDING_ALIGN;
  const groups: (typeof specs)[] = [];
  let bytes = Infinity;
  for (const s of specs) {
    if (bytes + slot(s) > SLOTS_BUFFER_BYTES) {
      groups.push([]);
      bytes = 0;
    }
    groups.at(-1)!.push(s);
    bytes += slot(s);
  }
  const tensors: Tensor[] = [];
  const buffers: Tensor[] = [];
  for (const [g, group] of groups.entries()) {
    const total = group.reduce((n, s) => n + slot(s), 0);
    const buffer = gpu.tensor([total / 4], groups.length > 1 ? `${label} (${g + 1} of ${groups.length})` : label, 'f32', 'weights');
    buffers.push(buffer);
    let at = 0;
    for (const s of group) {
      tensors.push(new Tensor(buffer.buffer, s.shape, s.dtype, s.name, at));
      at += slot(s);
    }
  }
  return { tensors, buffers };
}

/**
 * [first, end) row ranges of a [rows, cols] matrix of `elementBytes`-byte elements, each at most `blockBytes` (one row
 * at least). With an odd row length a block holds an even number of rows, so that every block of halves starts on a
 * whole 32-bit word of the packed tensor.
 */
export function rowBlocks(shape: readonly number[], elementBytes: number, blockBytes: number): [number, number][] {
  const [rows, cols] = shape;
  let per = Math.max(1, Math.floor(blockBytes / (cols * elementBytes)));
  if (cols % 2 === 1 && per % 2 === 1) per = per === 1 ? 2 : per - 1;
  const out: [number, number][] = [];
  for (let r = 0; r < rows; r += per) out.push([r, Math.min(rows, r + per)]);
  return out;
}

/** Rows [first, end) of a matrix's bytes, alone: decode them with dataOffset 0 and the returned info. */
function readRows(file: string, source: WeightFile, dataOffset: number, info: TensorInfo, [first, end]: [number, number]) {
  const rowBytes = (info.end - info.begin) / info.shape[0];
  const block = { ...info, shape: [end - first, info.shape[1]], begin: info.begin + first * rowBytes, end: info.begin + end * rowBytes };
  return readTensorBytes(file, source, dataOffset, block);
}

/**
 * A block of a matrix decoded by `decode` (weightHalves, weightToFloat32). When the block holds a NaN or an infinity,
 * the whole tensor is read and decoded again, so that the error names the element's index in the tensor and how many
 * the tensor holds, not the block's.
 */
async function decodeBlock<T>(
  decode: (file: string, bytes: Uint8Array, dataOffset: number, info: TensorInfo) => T,
  file: string,
  source: WeightFile,
  dataOffset: number,
  tensor: TensorInfo,
  block: { bytes: Uint8Array; info: TensorInfo },
): Promise<T> {
  try {
    return decode(file, block.bytes, 0, block.info);
  } catch (err) {
    if (!(err instanceof SafetensorsError)) throw err;
    const whole = await readTensorBytes(file, source, dataOffset, tensor);
    decode(file, whole.bytes, 0, whole.info);
    throw err;
  }
}

export type RopeWeights = Pick<ModelWeights, 'ropeCos' | 'ropeSin' | 'ropeLocalCos' | 'ropeLocalSin' | 'ropePositions'>;

/**
 * RoPE cos/sin tables [positions, hd/2] for positions 0..positions-1, and the local ones when a layer rotates with
 * ropeLocalTheta (plain RoPE: Gemma 3 builds its local rotary embedding with rope_scaling "default"). Row p does not
 * depend on how many rows there are, so a longer table agrees with a shorter one bit for bit where both have rows.
 */
export function uploadRope(gpu: Gpu, config: ModelConfig, positions: number): RopeWeights {
  const shape = [positions, config.headDim / 2];
  const { cos, sin } = ropeTables(ropeInvFreq(config), positions);
  const out: RopeWeights = {
    ropeCos: gpu.upload(cos, shape, 'rope cos', 'weights'),
    ropeSin: gpu.upload(sin, shape, 'rope sin', 'weights'),
    ropePositions: positions,
  };
  if (config.ropeLocalTheta !== null && config.layers.some((l) => l.localRope)) {
    const local = ropeTables(ropeInvFreq({ ...config, ropeTheta: config.ropeLocalTheta, ropeScaling: null }), positions);
    out.ropeLocalCos = gpu.upload(local.cos, shape, 'rope local cos', 'weights');
    out.ropeLocalSin = gpu.upload(local.sin, shape, 'rope local sin', 'weights');
  }
  return out;
}

/** The RoPE tables (global, and local where uploaded), to destroy when they grow. */
export function ropeTensors(w: RopeWeights): Tensor[] {
  return [w.ropeCos, w.ropeSin, w.ropeLocalCos, w.ropeLocalSin].filter((t): t is Tensor => t !== undefined);
}

/** Every tensor of the model, once (the tied head is the embedding). */
export function allTensors(w: ModelWeights): Tensor[] {
  const out = new Set<Tensor>([w.embed, w.norm, w.lmHead, ...ropeTensors(w)]);
  for (const l of w.layers) for (const t of Object.values(l)) if (t) out.add(t);
  return [...out];
}

export function destroyWeights(w: ModelWeights): void {
  for (const t of allTensors(w)) t.buffer.destroy();
}
