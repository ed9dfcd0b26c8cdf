// Streaming safetensors writer for a whole model: the header is built from shapes alone, then each tensor is read,
// cast and written in turn, a block of rows at a time. Past `maxShardBytes` the model is split as transformers' save_pretrained splits it
// (model-00001-of-0000N.safetensors + model.safetensors.index.json with metadata.total_size and weight_map): tensors
// in order, a new shard when the next tensor would overflow the current one, a tensor larger than the limit alone.
import { DEFAULT_MAX_SHARD_BYTES } from '../api.ts';
import { encodeFloats, FLOAT_BYTES, type FloatDType } from './dtype.ts';
import { bytesFile, type ExportFile } from './files.ts';
import { rowBlocks, rowLength } from './merge.ts';

export interface TensorSource {
  tensors: { name: string; shape: number[] }[];
  /** Rows [begin, end) of a tensor (all of it without `rows`), as Checkpoint.read gives them. */
  read(name: string, rows?: [number, number]): Promise<Float32Array>;
}

/** Tensors already in memory (synthetic models, tests) as a source the writer reads a block of rows at a time. */
export function memoryTensors(tensors: { name: string; shape: number[]; data: Float32Array }[]): TensorSource {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  return {
    tensors,
    async read(name, rows) {
      const t = byName.get(name);
      if (!t) throw new Error(`no tensor "${name}"`);
      const row = rowLength(t.shape);
      return rows ? t.data.subarray(rows[0] * row, rows[1] * row) : t.data;
    },
  };
}

const count = (shape: number[]) => shape.reduce((n, d) => n * d, 1);

function shardFile(name: string, src: TensorSource, names: { name: string; shape: number[] }[], dtype: FloatDType): ExportFile {
  const entries = ['"__metadata__":{"format":"pt"}'];
  let offset = 0;
  for (const { name: t, shape } of names) {
    const bytes = count(shape) * FLOAT_BYTES[dtype];
    entries.push(`${JSON.stringify(t)}:${JSON.stringify({ dtype, shape, data_offsets: [offset, offset + bytes] })}`);
    offset += bytes;
  }
  const json = new TextEncoder().encode(`{${entries.join(',')}}`);
  const headerLen = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + headerLen).fill(0x20, 8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(headerLen), true);
  head.set(json, 8);
  return {
    name,
    size: head.length + offset,
    async write(sink) {
      await sink.write(head);
      for (const t of names) for (const rows of rowBlocks(t.shape)) await sink.write(encodeFloats(await src.read(t.name, rows), dtype));
    },
  };
}

/** model.safetensors, or its shards and index when the weights exceed `maxShardBytes`. */
export function safetensorsFiles(src: TensorSource, dtype: FloatDType, maxShardBytes = DEFAULT_MAX_SHARD_BYTES): ExportFile[] {
  const groups: { name: string; shape: number[] }[][] = [[]];
  let current = 0;
  let total = 0;
  for (const t of src.tensors) {
    const bytes = count(t.shape) * FLOAT_BYTES[dtype];
    if (current > 0 && current + bytes > maxShardBytes) {
      groups.push([]);
      current = 0;
    }
    groups[groups.length - 1].push(t);
    current += bytes;
    total += bytes;
  }
  if (groups.length === 1) return [shardFile('model.safetensors', src, groups[0], dtype)];
  const pad = (n: number) => String(n).padStart(5, '0');
  const files = groups.map((g, i) => shardFile(`model-${pad(i + 1)}-of-${pad(groups.length)}.safetensors`, src, g, dtype));
  const weightMap: Record<string, string> = {};
  for (const [i, g] of groups.entries()) for (const t of g) weightMap[t.name] = files[i].name;
  const index = { metadata: { total_size: total }, weight_map: weightMap };
  return [...files, bytesFile('model.safetensors.index.json', `${JSON.stringify(index, null, 2)}\n`)];
}
