// Base checkpoint + LoRA adapter(s) -> the merged model's weights, one tensor at a time (DESIGN.md, "Two stages").
// For every targeted projection W [out, in]:  W' = W + Σ_i s_i · B_i · A_i, computed in float64 from the stored
// float32 A_i and B_i and rounded to float32 once, so the merge adds no error beyond that one rounding (and the
// cast to the checkpoint dtype the writer then applies). Every other tensor passes through bit for bit.
import { expectedTensors, type ModelConfig, parseModelConfig } from '../model/config.ts';
import { LoraError, loraScale, targetShape } from '../model/lora.ts';
import { parseSafetensors, type TensorInfo, tensorToFloat32 } from '../model/safetensors.ts';
import { adapterModules, type StackInput } from '../store/stack.ts';
import { ExportError } from './files.ts';

/** A checkpoint's tensors, read one at a time from its safetensors files. */
export interface Checkpoint {
  config: ModelConfig;
  /** config.json as parsed JSON, to write back with changes. */
  configJson: Record<string, unknown>;
  /** Every tensor the decoder uses, in HF order, with its stored dtype. */
  tensors: { name: string; shape: number[]; dtype: TensorInfo['dtype'] }[];
  read(name: string): Float32Array;
}

/** Indexes the safetensors files (a single model.safetensors or its shards, by name) of a checkpoint whose config is given. */
export function openCheckpoint(configText: string, files: Map<string, Uint8Array>): Checkpoint {
  const configJson = JSON.parse(configText) as Record<string, unknown>;
  const config = parseModelConfig(configJson);
  const index = new Map<string, { file: string; bytes: Uint8Array; dataOffset: number; info: TensorInfo }>();
  for (const [file, bytes] of files) {
    const parsed = parseSafetensors(file, bytes);
    for (const [name, info] of parsed.tensors) index.set(name, { file, bytes, dataOffset: parsed.dataOffset, info });
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
    read(name) {
      const e = index.get(name);
      if (!e) throw new ExportError(`the checkpoint has no tensor "${name}"`);
      return tensorToFloat32(e.file, e.bytes, e.dataOffset, e.info);
    },
  };
}

/** Per targeted weight, the low-rank terms to add: s·B [out, r] and A [r, in]. */
type Deltas = Map<string, { sB: Float64Array; A: Float32Array; r: number }[]>;

function collectDeltas(config: ModelConfig, adapters: StackInput[]): Deltas {
  const deltas: Deltas = new Map();
  for (const rec of adapters) {
    const scale = loraScale(rec.lora);
    const r = rec.lora.r;
    for (const [path, { module, A, B }] of adapterModules(rec)) {
      if (module.layer >= config.numLayers)
        throw new LoraError(`adapter "${rec.name}": module ${path} is beyond the model's ${config.numLayers} layers`);
      const want = targetShape(config, module.target);
      if (want.inF !== module.inF || want.outF !== module.outF)
        throw new LoraError(
          `adapter "${rec.name}": module ${path} is [out ${module.outF}, in ${module.inF}], the base model's is ` +
            `[out ${want.outF}, in ${want.inF}]: the adapter is for another model`,
        );
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
 * one). Tensors are computed when read, so a writer holds one at a time.
 */
export function mergeAdapters(base: Checkpoint, adapters: StackInput[]): Checkpoint {
  const deltas = collectDeltas(base.config, adapters);
  return {
    ...base,
    read(name) {
      const W = base.read(name);
      const terms = deltas.get(name);
      if (!terms) return W;
      const [outF, inF] = base.tensors.find((t) => t.name === name)?.shape ?? [];
      const row = new Float64Array(inF);
      for (let o = 0; o < outF; o++) {
        for (let i = 0; i < inF; i++) row[i] = W[o * inF + i];
        for (const { sB, A, r } of terms) {
          for (let k = 0; k < r; k++) {
            const s = sB[o * r + k];
            if (s === 0) continue;
            const a = k * inF;
            for (let i = 0; i < inF; i++) row[i] += s * A[a + i];
          }
        }
        for (let i = 0; i < inF; i++) W[o * inF + i] = row[i];
      }
      return W;
    },
  };
}
