// Base checkpoint + LoRA adapter(s) -> the merged model's weights, one tensor at a time (DESIGN.md, "Two stages").
// For every targeted projection W [out, in]:  W' = W + Σ_i s_i · B_i · A_i, computed in float64 from the stored
// float32 A_i and B_i and rounded to float32 once, so the merge adds no error beyond that one rounding (and the
// cast to the checkpoint dtype the writer then applies). Every other tensor passes through bit for bit.
import { expectedTensors, type ModelConfig, parseModelConfig } from '../model/config.ts';
import { LoraError, loraScale, targetShape } from '../model/lora.ts';
import { type TensorInfo, tensorToFloat32 } from '../model/safetensors.ts';
import { bytesWeightFiles, readSafetensorsHeader, readTensorBytes, type WeightFile } from '../model/weight-file.ts';
import { adapterModules, type StackInput } from '../store/stack.ts';
import { ExportError } from './files.ts';

/** A checkpoint's tensors, read one at a time (or a block of rows at a time) from its safetensors files. */
export interface Checkpoint {
  config: ModelConfig;
  /** config.json as parsed JSON, to write back with changes. */
  configJson: Record<string, unknown>;
  /** Every tensor the decoder uses, in HF order, with its stored dtype. */
  tensors: { name: string; shape: number[]; dtype: TensorInfo['dtype'] }[];
  /**
   * Rows [begin, end) of a tensor (its first dimension; all of it by default) as float32, read from the file then and
   * there: a writer holds one block of one tensor at a time, never the checkpoint.
   */
  read(name: string, rows?: [number, number]): Promise<Float32Array>;
}

/** Values in one row of a tensor of `shape` (1 for a vector: its rows are its elements). */
export const rowLength = (shape: number[]) => shape.slice(1).reduce((n, d) => n * d, 1);

/** A block of rows holds at most this many values (16 MiB as float32), so an embedding matrix is never whole in memory. */
export const BLOCK_VALUES = 2 ** 22;

/** The row ranges a tensor of `shape` is read in, in order: blocks of at most `maxValues` values (at least a row). */
export function rowBlocks(shape: number[], maxValues = BLOCK_VALUES): [number, number][] {
  const rows = shape[0] ?? 1;
  const step = Math.max(1, Math.floor(maxValues / rowLength(shape)));
  const out: [number, number][] = [];
  for (let r = 0; r < rows; r += step) out.push([r, Math.min(rows, r + step)]);
  return out;
}

const DTYPE_BYTES: Record<TensorInfo['dtype'], number> = { F32: 4, F16: 2, BF16: 2 };

/**
 * Indexes the safetensors files (a single model.safetensors or its shards, by name) of a checkpoint whose config is
 * given: their headers are read now, their tensors when asked for.
 */
export async function openCheckpoint(configText: string, files: Map<string, WeightFile>): Promise<Checkpoint> {
  const configJson = JSON.parse(configText) as Record<string, unknown>;
  const config = parseModelConfig(configJson);
  const index = new Map<string, { file: string; source: WeightFile; dataOffset: number; info: TensorInfo }>();
  for (const [file, source] of files) {
    const parsed = await readSafetensorsHeader(file, source);
    for (const [name, info] of parsed.tensors) index.set(name, { file, source, dataOffset: parsed.dataOffset, info });
  }
  const tensors: Checkpoint['tensors'] = [];
  const missing: string[] = [];
  for (const [name, shape] of expectedTensors(config)) {
    const e = index.get(name);
    if (!e) missing.push(name);
    else if (e.info.shape.join() !== shape.join())
      throw new ExportError(`${e.file}: tensor "${name}" has shape [${e.info.shape}], config.json implies [${shape}]`);
    else tensors.push({ name, shape, dtype: e.info.dtype });
  }
  if (missing.length > 0)
    throw new ExportError(
      `${[...files.keys()].join(', ')}: missing ${missing.length} tensor(s) the config calls for: ${missing.slice(0, 4).join(', ')}`,
    );
  return {
    config,
    configJson,
    tensors,
    async read(name, rows) {
      const e = index.get(name);
      if (!e) throw new ExportError(`the checkpoint has no tensor "${name}"`);
      const { info } = e;
      const [begin, end] = rows ?? [0, info.shape[0] ?? 1];
      const rowBytes = rowLength(info.shape) * DTYPE_BYTES[info.dtype];
      const block: TensorInfo = {
        ...info,
        shape: info.shape.length === 0 ? [] : [end - begin, ...info.shape.slice(1)],
        begin: info.begin + begin * rowBytes,
        end: info.begin + end * rowBytes,
      };
      const read = await readTensorBytes(e.file, e.source, e.dataOffset, block);
      return tensorToFloat32(e.file, read.bytes, 0, read.info);
    },
  };
}

/** A checkpoint whose files are bytes in memory (tests, Node tools). */
export const openCheckpointBytes = (configText: string, files: Map<string, Uint8Array>) =>
  openCheckpoint(configText, bytesWeightFiles(files));

/** Per targeted weight, the low-rank terms to add: s·B [out, r] and A [r, in]. */
type Deltas = Map<string, { sB: Float64Array; A: Float32Array; r: number }[]>;

/**
 * Refuses an adapter whose modules do not fit `config`: a layer past the model's, or a projection of another shape
 * (an adapter for another model). Every export that writes an adapter's weights checks this first.
 */
export function checkAdapterFits(config: ModelConfig, adapters: StackInput[]): void {
  for (const rec of adapters) {
    for (const [path, { module }] of adapterModules(rec)) {
      if (module.layer >= config.numLayers)
        throw new LoraError(`adapter "${rec.name}": module ${path} is beyond the model's ${config.numLayers} layers`);
      const want = targetShape(config, module.target);
      if (want.inF !== module.inF || want.outF !== module.outF)
        throw new LoraError(
          `adapter "${rec.name}": module ${path} is [out ${module.outF}, in ${module.inF}], the base model's is ` +
            `[out ${want.outF}, in ${want.inF}]: the adapter is for another model`,
        );
    }
  }
}

function collectDeltas(config: ModelConfig, adapters: StackInput[]): Deltas {
  checkAdapterFits(config, adapters);
  const deltas: Deltas = new Map();
  for (const rec of adapters) {
    const scale = loraScale(rec.lora);
    const r = rec.lora.r;
    for (const [path, { A, B }] of adapterModules(rec)) {
      const sB = Float64Array.from(B, (b) => scale * b);
      const list = deltas.get(`${path}.weight`) ?? [];
      list.push({ sB, A, r });
      deltas.set(`${path}.weight`, list);
    }
  }
  return deltas;
}

/**
 * The merged model: `base` with `adapters` applied in order (e.g. [sft, dpo] for a DPO adapter trained on an SFT
 * one). Tensors are computed when read, a block of rows at a time as the writer asks, so a writer holds one block.
 */
export function mergeAdapters(base: Checkpoint, adapters: StackInput[]): Checkpoint {
  const deltas = collectDeltas(base.config, adapters);
  return {
    ...base,
    async read(name, rows) {
      const W = await base.read(name, rows);
      const terms = deltas.get(name);
      if (!terms) return W;
      const [outF, inF] = base.tensors.find((t) => t.name === name)?.shape ?? [];
      const [begin, end] = rows ?? [0, outF];
      const row = new Float64Array(inF);
      for (let o = begin; o < end; o++) {
        const at = (o - begin) * inF;
        for (let i = 0; i < inF; i++) row[i] = W[at + i];
        for (const { sB, A, r } of terms) {
          for (let k = 0; k < r; k++) {
            const s = sB[o * r + k];
            if (s === 0) continue;
            const a = k * inF;
            for (let i = 0; i < inF; i++) row[i] += s * A[a + i];
          }
        }
        for (let i = 0; i < inF; i++) W[at + i] = row[i];
      }
      return W;
    },
  };
}
