// The GGUF v3 container, as ggml's gguf.cpp reads it and gguf-py's GGUFWriter writes it (ggml-org/llama.cpp at
// 0024aa7417efd50a7c2a79e049dfbbbceb0beaaf, gguf-py/gguf/constants.py and gguf_writer.py): "GGUF", version 3,
// tensor count, key-value count, the key-values, the tensor infos (name, dims innermost first, ggml type, offset in
// the data section), padding to general.alignment (32), then each tensor's data, each padded to the alignment.
// Little-endian throughout. The header is built from shapes alone, so the tensors stream after it one at a time.
import type { ByteSink, ExportFile } from '../files.ts';
import { Q8_0_BLOCK, Q8_0_BLOCK_BYTES } from './q8.ts';

export const GGUF_ALIGNMENT = 32;

/** ggml tensor types webtune writes (ggml.h enum ggml_type). */
export const GGML_TYPE = { F32: 0, F16: 1, Q8_0: 8, BF16: 30 } as const;
export type GgmlType = keyof typeof GGML_TYPE;

/** Bytes of a row of `n` elements (Q8_0: n/32 blocks of 34 bytes, q8.ts). */
export function rowBytes(type: GgmlType, n: number): number {
  if (type === 'Q8_0') return (n / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES;
  return n * (type === 'F32' ? 4 : 2);
}

/** A metadata value with its GGUF type (gguf_type). */
export type GgufValue =
  | { type: 'u32'; value: number }
  | { type: 'i32'; value: number }
  | { type: 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'bool[]'; value: boolean[] }
  | { type: 'string'; value: string }
  | { type: 'string[]'; value: string[] }
  | { type: 'i32[]'; value: ArrayLike<number> }
  | { type: 'f32[]'; value: ArrayLike<number> };

const T_UINT32 = 4;
const T_INT32 = 5;
const T_FLOAT32 = 6;
const T_BOOL = 7;
const T_STRING = 8;
const T_ARRAY = 9;

export interface GgufTensor {
  name: string;
  /** HF order, outermost first ([out, in] for a linear): written reversed, as ggml's ne[] is innermost first. */
  shape: number[];
  type: GgmlType;
  /** The encoded bytes of the tensor in order, a block at a time (exactly rowBytes(type, shape.at(-1)) × rows in all). */
  data(): AsyncIterable<Uint8Array>;
}

/** A tensor's bytes already in memory (an adapter's), as GgufTensor.data gives them. */
export async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

/** Grows a byte buffer as values are appended. */
class Bytes {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private room(n: number) {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf);
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u32(v: number) {
    this.room(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  i32(v: number) {
    this.room(4);
    this.view.setInt32(this.length, v, true);
    this.length += 4;
  }
  f32(v: number) {
    this.room(4);
    this.view.setFloat32(this.length, v, true);
    this.length += 4;
  }
  u64(v: number) {
    this.room(8);
    this.view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  u8(v: number) {
    this.room(1);
    this.buf[this.length++] = v;
  }
  string(s: string) {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  pad(align: number) {
    while (this.length % align !== 0) this.u8(0);
  }
  bytes() {
    return this.buf.slice(0, this.length);
  }
}

function writeValue(out: Bytes, v: GgufValue) {
  switch (v.type) {
    case 'u32':
      out.u32(T_UINT32);
      return out.u32(v.value);
    case 'i32':
      out.u32(T_INT32);
      return out.i32(v.value);
    case 'f32':
      out.u32(T_FLOAT32);
      return out.f32(v.value);
    case 'bool':
      out.u32(T_BOOL);
      return out.u8(v.value ? 1 : 0);
    case 'string':
      out.u32(T_STRING);
      return out.string(v.value);
    case 'bool[]':
      out.u32(T_ARRAY);
      out.u32(T_BOOL);
      out.u64(v.value.length);
      for (const b of v.value) out.u8(b ? 1 : 0);
      return;
    case 'string[]':
      out.u32(T_ARRAY);
      out.u32(T_STRING);
      out.u64(v.value.length);
      for (const s of v.value) out.string(s);
      return;
    case 'i32[]':
    case 'f32[]':
      out.u32(T_ARRAY);
      out.u32(v.type === 'i32[]' ? T_INT32 : T_FLOAT32);
      out.u64(v.value.length);
      for (let i = 0; i < v.value.length; i++) (v.type === 'i32[]' ? out.i32 : out.f32).call(out, v.value[i]);
  }
}

const align = (n: number) => Math.ceil(n / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;

export function tensorBytes(t: Pick<GgufTensor, 'shape' | 'type'>): number {
  const rows = t.shape.slice(0, -1).reduce((n, d) => n * d, 1);
  return rows * rowBytes(t.type, t.shape[t.shape.length - 1]);
}

/** A GGUF file: metadata in the given order, then tensors in the given order. */
export function ggufFile(name: string, metadata: [string, GgufValue][], tensors: GgufTensor[]): ExportFile {
  const head = new Bytes();
  head.u32(0x46554747); // "GGUF" read as a little-endian u32
  head.u32(3);
  head.u64(tensors.length);
  head.u64(metadata.length);
  for (const [key, value] of metadata) {
    head.string(key);
    writeValue(head, value);
  }
  let offset = 0;
  for (const t of tensors) {
    head.string(t.name);
    head.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) head.u64(d);
    head.u32(GGML_TYPE[t.type]);
    head.u64(offset);
    offset = align(offset + tensorBytes(t));
  }
  head.pad(GGUF_ALIGNMENT);
  const header = head.bytes();
  return {
    name,
    size: header.length + offset,
    async write(sink: ByteSink) {
      await sink.write(header);
      for (const t of tensors) {
        let length = 0;
        for await (const block of t.data()) {
          length += block.length;
          await sink.write(block);
        }
        if (length !== tensorBytes(t)) throw new Error(`GGUF tensor ${t.name}: ${length} bytes, expected ${tensorBytes(t)}`);
        const pad = align(length) - length;
        if (pad > 0) await sink.write(new Uint8Array(pad));
      }
    },
  };
}
