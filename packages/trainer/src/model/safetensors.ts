// Safetensors in and out, environment-neutral (bytes in, bytes out: no DOM, no Node APIs).
// Reading follows the reference `safetensors` crate (read_metadata + Metadata::validate): an 8-byte little-endian
// header length, checked before it is used; a UTF-8 JSON header; and tensors whose byte ranges, sorted, tile the data
// section exactly, from 0 to its last byte. Anything else is a corrupt or truncated file, and we say so, because a
// half-loaded checkpoint trains silently wrong.

/** The float dtypes webtune reads; safetensors has more (I64, U8, F64, ...), which are refused by name. */
export type SafetensorsDType = 'F32' | 'F16' | 'BF16';

export const DTYPE_BYTES: Record<SafetensorsDType, number> = { F32: 4, F16: 2, BF16: 2 };

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /**
   * The tensor's bytes, [begin, end), exactly as the file's `data_offsets`: relative to the data section, which starts
   * at `dataOffset` (8 + header length). In the file they are `dataOffset + begin` .. `dataOffset + end`.
   */
  begin: number;
  end: number;
}

export interface ParsedSafetensors {
  /** In on-disk order. */
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
  /** Where the data section starts in the file. */
  dataOffset: number;
}

/** A file that is not valid safetensors, or one webtune cannot read: names the file, the tensor and the problem. */
export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
  constructor(
    readonly file: string,
    readonly tensor: string | null,
    problem: string,
  ) {
    super(`${file}: ${tensor === null ? '' : `tensor "${tensor}": `}${problem}`);
  }
}

/** The reference crate's limit: a larger header is a corrupt file, not a model. */
export const DEFAULT_MAX_HEADER_BYTES = 100_000_000;

const CORRUPT = 'the file is corrupt or was not written by a safetensors library';
const TRUNCATED = 'the file looks truncated: download it again';
const CONVERT =
  'convert the checkpoint to float32, float16 or bfloat16 first, e.g. `model.to(torch.bfloat16).save_pretrained(dir)` in transformers';

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Parses and checks a file's header. `bytes` is the whole file, or with `fileSize` (the whole file's size) only its
 * start, at least up to the end of the header: a streaming load reads the tensors later, one at a time.
 */
export function parseSafetensors(
  file: string,
  bytes: Uint8Array,
  options: { maxHeaderBytes?: number; fileSize?: number } = {},
): ParsedSafetensors {
  const fail = (problem: string, tensor: string | null = null) => new SafetensorsError(file, tensor, problem);
  const maxHeader = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  const size = options.fileSize ?? bytes.length;
  if (size < 8) {
    throw fail(`the file is ${size} bytes, shorter than the 8-byte header length that starts every safetensors file: ${TRUNCATED}`);
  }
  // A u64 can exceed 2^53: compare as BigInt before it becomes a Number or an index.
  const headerLen64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLen64 > BigInt(maxHeader)) {
    throw fail(`the header length field says ${headerLen64} bytes, more than the ${maxHeader}-byte limit: ${CORRUPT}`);
  }
  const headerLen = Number(headerLen64);
  if (8 + headerLen > size) {
    throw fail(`the header length field says ${headerLen} bytes, but only ${size - 8} follow it: ${TRUNCATED}`);
  }
  if (8 + headerLen > bytes.length)
    throw fail(`only ${bytes.length} of the ${8 + headerLen} bytes up to the header's end were read: ${TRUNCATED}`);

  let text: string;
  try {
    // ignoreBOM keeps a BOM in the text, so JSON.parse refuses it as the reference crate does.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    throw fail(`the header is not valid UTF-8: ${CORRUPT}`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw fail(`the header is not valid JSON (${(e as Error).message}): ${CORRUPT}`);
  }
  if (!isObject(header)) throw fail(`the header is ${describe(header)}, not a JSON object: ${CORRUPT}`);
  checkHeaderText(text, fail);

  const metadata: Record<string, string> = {};
  const rawMeta = header.__metadata__;
  if (rawMeta !== undefined && rawMeta !== null) {
    if (!isObject(rawMeta)) throw fail(`"__metadata__" is ${describe(rawMeta)}; it must map strings to strings`);
    for (const [k, v] of Object.entries(rawMeta)) {
      if (typeof v !== 'string') throw fail(`"__metadata__"."${k}" is ${describe(v)}; metadata values must be strings`);
      metadata[k] = v;
    }
  }

  const dataOffset = 8 + headerLen;
  const dataLen = size - dataOffset;
  const infos: TensorInfo[] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    infos.push(readEntry(name, entry, dataLen, fail));
  }

  // The crate sorts by offsets, then requires each tensor to start where the previous one ended.
  infos.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: string | null = null;
  for (const info of infos) {
    if (info.begin < cursor) {
      throw fail(
        `its bytes ${info.begin}..${info.end} overlap those of tensor "${previous}" (which end at ${cursor}): ${CORRUPT}`,
        info.name,
      );
    }
    if (info.begin > cursor) {
      throw fail(`there is a gap of ${info.begin - cursor} unused bytes before it (at ${cursor}..${info.begin}): ${CORRUPT}`, info.name);
    }
    cursor = info.end;
    previous = info.name;
  }
  if (cursor !== dataLen) {
    throw fail(`${dataLen - cursor} bytes trail after the last tensor's data (which ends at ${cursor} of ${dataLen}): ${CORRUPT}`);
  }
  return { tensors: new Map(infos.map((i) => [i.name, i])), metadata, dataOffset };
}

/**
 * What JSON.parse lets through and the reference crate (serde into typed fields) does not: a tensor named twice in the
 * header (JSON.parse keeps the last one silently) and a shape or offset written as a float (`2.0`, `1e3`). Walks the
 * header's text once, tracking strings and nesting.
 */
function checkHeaderText(text: string, fail: (p: string, t?: string | null) => SafetensorsError): void {
  const seen = new Set<string>();
  let depth = 0;
  let tensor: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && /^\s*:/.test(text.slice(j + 1, j + 40))) {
        const name = JSON.parse(text.slice(i, j + 1)) as string;
        if (seen.has(name)) throw fail(`the header names it twice: ${CORRUPT}`, name);
        seen.add(name);
        tensor = name === '__metadata__' ? null : name;
      }
      i = j;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (depth >= 2 && tensor !== null && /[-\d]/.test(c)) {
      const number = /^-?[\d.eE+-]+/.exec(text.slice(i))?.[0] ?? c;
      // Negative or fractional values are readEntry's to name; here, the whole numbers written as floats.
      if (!/^\d+$/.test(number) && isIndex(Number(number)))
        throw fail(
          `its header writes ${number} where shape and data_offsets take integers (${Number(number)}, no point or exponent): ${CORRUPT}`,
          tensor,
        );
      i += number.length - 1;
    }
  }
}

function readEntry(name: string, entry: unknown, dataLen: number, fail: (p: string, t: string) => SafetensorsError): TensorInfo {
  if (!isObject(entry)) throw fail(`its header entry is ${describe(entry)}, not an object with dtype, shape and data_offsets`, name);
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== 'string') throw fail(`"dtype" is ${describe(dtype)}, not a string such as "F32"`, name);
  if (!(dtype in DTYPE_BYTES)) {
    throw fail(`dtype "${dtype}" is not supported (webtune reads F32, F16 and BF16): ${CONVERT}`, name);
  }
  if (!Array.isArray(shape) || !shape.every(isIndex)) {
    throw fail(`"shape" is ${JSON.stringify(shape)}; it must be a list of non-negative integers`, name);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex)) {
    throw fail(`"data_offsets" is ${JSON.stringify(offsets)}; it must be [begin, end], two non-negative integers`, name);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw fail(`"data_offsets" [${begin}, ${end}] ends before it begins: ${CORRUPT}`, name);
  const size = DTYPE_BYTES[dtype as SafetensorsDType];
  // BigInt: a hostile shape must not overflow into a plausible byte count.
  const expected = shape.reduce((n: bigint, d: number) => n * BigInt(d), 1n) * BigInt(size);
  if (expected !== BigInt(end - begin)) {
    throw fail(
      `shape [${shape.join(', ')}] of ${dtype} needs ${expected} bytes, but "data_offsets" [${begin}, ${end}] hold ${end - begin}: ${CORRUPT}`,
      name,
    );
  }
  if (end > dataLen) {
    throw fail(`its bytes ${begin}..${end} run past the end of the ${dataLen}-byte data section: ${TRUNCATED}`, name);
  }
  return { name, dtype: dtype as SafetensorsDType, shape: shape as number[], begin, end };
}

/** Decodes one tensor to float32. `bytes` is the whole file and `dataOffset` what parseSafetensors returned. */
export function tensorToFloat32(file: string, bytes: Uint8Array, dataOffset: number, info: TensorInfo): Float32Array {
  const { start, end, count } = tensorRange(file, bytes, dataOffset, info);
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, end - start);
  if (info.dtype === 'F32') {
    // Copying bytes (not viewing them) handles any alignment; the DataView path handles big-endian hosts.
    if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(bytes.subarray(start, end));
    else for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
    return out;
  }
  // Write bit patterns through a u32 view of the output, so NaN payloads and signed zeros survive.
  const bits = new Uint32Array(out.buffer);
  if (info.dtype === 'BF16') {
    for (let i = 0; i < count; i++) bits[i] = view.getUint16(2 * i, true) << 16;
  } else {
    const table = f16Table();
    for (let i = 0; i < count; i++) bits[i] = table[view.getUint16(2 * i, true)];
  }
  return out;
}

/**
 * tensorToFloat32 for weights to compute with (a checkpoint's, an adapter's): a NaN or infinity there is computed through
 * into every output (null metrics, NUL tokens), so it is refused at load, naming the tensor and its first such element.
 * One pass over the floats: cheap beside the decoding.
 */
export function weightToFloat32(file: string, bytes: Uint8Array, dataOffset: number, info: TensorInfo): Float32Array {
  const values = tensorToFloat32(file, bytes, dataOffset, info);
  refuseNonFinite(
    file,
    info,
    values.length,
    (i) => Number.isFinite(values[i]),
    (i) => values[i],
  );
  return values;
}

/**
 * One BF16 or F16 weight's 16-bit patterns as they are (a view of `bytes` when aligned), for the GPU to keep packed and widen as it reads;
 * `bytes` and `dataOffset` as for tensorToFloat32. NaN and infinities are refused as weightToFloat32 refuses them.
 */
export function weightHalves(file: string, bytes: Uint8Array, dataOffset: number, info: TensorInfo): Uint16Array {
  if (info.dtype !== 'BF16' && info.dtype !== 'F16') throw new SafetensorsError(file, info.name, `is ${info.dtype}, not BF16 or F16`);
  const { start, end, count } = tensorRange(file, bytes, dataOffset, info);
  const aligned = LITTLE_ENDIAN && (bytes.byteOffset + start) % 2 === 0;
  // Aligned, the patterns are viewed where they lie (a load reads each tensor into its own buffer): no second copy.
  const out = aligned ? new Uint16Array(bytes.buffer, bytes.byteOffset + start, count) : new Uint16Array(count);
  if (!aligned && LITTLE_ENDIAN) new Uint8Array(out.buffer).set(bytes.subarray(start, end));
  else if (!aligned) {
    const view = new DataView(bytes.buffer, bytes.byteOffset + start, end - start);
    for (let i = 0; i < count; i++) out[i] = view.getUint16(2 * i, true);
  }
  // A half is NaN or infinite when its exponent bits are all ones: 8 of them in bf16, 5 in f16.
  const exponent = info.dtype === 'BF16' ? 0x7f80 : 0x7c00;
  const value = (i: number) => new Float32Array(new Uint32Array([info.dtype === 'BF16' ? out[i] << 16 : f16Table()[out[i]]]).buffer)[0];
  refuseNonFinite(file, info, count, (i) => (out[i] & exponent) !== exponent, value);
  return out;
}

/** Throws naming the tensor, its first NaN or infinity and how many it holds, when `finite` is false anywhere. */
function refuseNonFinite(
  file: string,
  info: TensorInfo,
  count: number,
  finite: (i: number) => boolean,
  value: (i: number) => number,
): void {
  for (let i = 0; i < count; i++) {
    if (finite(i)) continue;
    let bad = 0;
    for (let k = i; k < count; k++) if (!finite(k)) bad++;
    throw new SafetensorsError(
      file,
      info.name,
      `holds ${value(i)} at element ${i} of ${count} (${bad} non-finite in all): the weights are damaged or come from a diverged run; use another checkpoint`,
    );
  }
}

/** Where one tensor's bytes are in the file's buffer, checked against its dtype, its shape and the buffer. */
function tensorRange(file: string, bytes: Uint8Array, dataOffset: number, info: TensorInfo): { start: number; end: number; count: number } {
  const size = DTYPE_BYTES[info.dtype];
  if (size === undefined) throw new SafetensorsError(file, info.name, `dtype "${info.dtype}" is not supported: ${CONVERT}`);
  const count = info.shape.reduce((n, d) => n * d, 1);
  const start = dataOffset + info.begin;
  const end = dataOffset + info.end;
  if (info.end - info.begin !== count * size) {
    throw new SafetensorsError(file, info.name, `shape [${info.shape.join(', ')}] does not match its ${info.end - info.begin} bytes`);
  }
  if (info.begin < 0 || dataOffset < 0 || end > bytes.length) {
    throw new SafetensorsError(
      file,
      info.name,
      `bytes ${start}..${end} are outside the ${bytes.length}-byte buffer: pass the whole file and the dataOffset parseSafetensors returned`,
    );
  }
  return { start, end, count };
}

let F16_TO_F32: Uint32Array | null = null;

/** f32 bit patterns for all 65536 f16 values, built on first use (256 KiB). */
function f16Table(): Uint32Array {
  if (F16_TO_F32) return F16_TO_F32;
  const t = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    let mant = h & 0x3ff;
    if (exp === 0x1f) {
      t[h] = sign | 0x7f800000 | (mant << 13); // inf, or NaN with its payload
    } else if (exp !== 0) {
      t[h] = sign | ((exp + 112) << 23) | (mant << 13); // rebias 15 -> 127
    } else if (mant === 0) {
      t[h] = sign; // signed zero
    } else {
      // Subnormal m * 2^-24: shift the leading 1 into the implicit bit; each shift lowers the exponent by one.
      let e = 113;
      while ((mant & 0x400) === 0) {
        mant <<= 1;
        e--;
      }
      t[h] = sign | (e << 23) | ((mant & 0x3ff) << 13);
    }
  }
  F16_TO_F32 = t;
  return t;
}

/** The value of f16 bits `h` (what ggml's GGML_FP16_TO_FP32 gives; the Q8_0 export's block scales are f16). */
export function f16BitsToFloat(h: number): number {
  return new Float32Array(f16Table().buffer, 4 * (h & 0xffff), 1)[0];
}

/** F32 safetensors, tensors in the given order, header space-padded to 8 bytes so the data is aligned. */
export function writeSafetensors(
  tensors: { name: string; shape: number[]; data: Float32Array }[],
  metadata?: Record<string, string>,
): Uint8Array {
  const file = 'writeSafetensors';
  // Built by hand, not via an object: JS objects move integer-like keys first, and the order is part of the contract.
  const entries: string[] = [];
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string')
        throw new SafetensorsError(file, null, `metadata "${k}" is ${describe(v)}; metadata values must be strings`);
    }
    entries.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  const seen = new Set<string>();
  let offset = 0;
  for (const { name, shape, data } of tensors) {
    if (name === '__metadata__') throw new SafetensorsError(file, name, 'the name "__metadata__" is reserved by the format');
    if (seen.has(name)) throw new SafetensorsError(file, name, 'the name appears twice');
    seen.add(name);
    if (!shape.every(isIndex))
      throw new SafetensorsError(file, name, `shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    const count = shape.reduce((n, d) => n * d, 1);
    if (count !== data.length)
      throw new SafetensorsError(file, name, `shape [${shape.join(', ')}] has ${count} elements but data has ${data.length}`);
    entries.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype: 'F32', shape, data_offsets: [offset, offset + 4 * count] })}`);
    offset += 4 * count;
  }
  const json = new TextEncoder().encode(`{${entries.join(',')}}`);
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let pos = 8 + headerLen;
  for (const { data } of tensors) {
    if (LITTLE_ENDIAN) out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), pos);
    else for (let i = 0; i < data.length; i++) view.setFloat32(pos + 4 * i, data[i], true);
    pos += data.byteLength;
  }
  return out;
}

/** `model.safetensors.index.json` of a sharded checkpoint: which shard file holds each tensor. */
export function parseShardIndex(file: string, json: string): { weightMap: Map<string, string>; shards: string[] } {
  const fail = (problem: string, tensor: string | null = null) => new SafetensorsError(file, tensor, problem);
  let index: unknown;
  try {
    index = JSON.parse(json);
  } catch (e) {
    throw fail(`not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(index)) throw fail(`the index is ${describe(index)}, not a JSON object with "weight_map"`);
  if (index.metadata !== undefined && index.metadata !== null && !isObject(index.metadata)) {
    throw fail(`"metadata" is ${describe(index.metadata)}, not an object`);
  }
  const map = index.weight_map;
  if (!isObject(map)) throw fail(`"weight_map" is ${describe(map)}; it must map each tensor name to its shard file`);
  const weightMap = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || shard === '') throw fail(`its shard is ${describe(shard)}, not a file name`, tensor);
    // Shards live beside the index; a path that climbs out or is absolute is not a checkpoint we should follow.
    if (shard.startsWith('/') || shard.split(/[/\\]/).includes('..')) {
      throw fail(`its shard "${shard}" is not a file beside the index`, tensor);
    }
    weightMap.set(tensor, shard);
  }
  if (weightMap.size === 0) throw fail('"weight_map" is empty: the index lists no tensors');
  return { weightMap, shards: [...new Set(weightMap.values())].sort() };
}

/**
 * Each tensor the index maps to a shard is in that shard (transformers reads each tensor from the shard the index
 * names): an index that points elsewhere is refused, naming the tensor, the shard it names and where the tensor is.
 */
export function checkShardIndex(file: string, weightMap: Map<string, string>, shards: Map<string, ParsedSafetensors>): void {
  const holder = new Map<string, string>();
  for (const [shard, parsed] of shards) for (const name of parsed.tensors.keys()) holder.set(name, shard);
  for (const [tensor, shard] of weightMap) {
    const actual = holder.get(tensor);
    if (actual === shard) continue;
    throw new SafetensorsError(
      file,
      tensor,
      actual
        ? `the index maps it to ${shard}, but it is in ${actual}: the index does not match its shards`
        : `the index maps it to ${shard}, which does not hold it`,
    );
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  const s = JSON.stringify(v);
  return `${typeof v} ${s.length > 40 ? `${s.slice(0, 40)}...` : s}`;
}
