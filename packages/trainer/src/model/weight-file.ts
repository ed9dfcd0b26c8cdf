// A checkpoint's safetensors file read a byte range at a time, so that loading a model never holds a second copy of
// the whole file: the header first, then each tensor's bytes, converted, uploaded and dropped before the next.
// Where the bytes come from is the source's business (model/source.ts): a picked File (Blob slices), a Cache Storage
// entry (its Blob), a server that answers Range requests, or bytes already in memory (tests, Node).
import { type ParsedSafetensors, parseSafetensors, SafetensorsError, type TensorInfo } from './safetensors.ts';

export interface WeightFile {
  /** The file's size in bytes. */
  readonly size: number;
  /**
   * Bytes [begin, end) of the file. `what` says what they are for ("the header", 'tensor "lm_head.weight"'), so
   * that a read that fails names it; the source's own error (a ModelSourceError) is thrown.
   */
  read(begin: number, end: number, what: string): Promise<Uint8Array>;
}

/** A file already in memory (tests, Node tools, a server that ignores Range requests). */
export function bytesWeightFile(bytes: Uint8Array): WeightFile {
  return { size: bytes.length, read: async (begin, end) => bytes.subarray(begin, end) };
}

/** Every file of a checkpoint given as bytes, by name. */
export function bytesWeightFiles(files: Map<string, Uint8Array>): Map<string, WeightFile> {
  return new Map([...files].map(([name, bytes]) => [name, bytesWeightFile(bytes)]));
}

/** A Blob (a picked File, a cached Response's body) read by slices; `fail` turns a failed read into the source's error. */
export function blobWeightFile(blob: Blob, fail: (what: string, e: unknown) => Error): WeightFile {
  return {
    size: blob.size,
    async read(begin, end, what) {
      try {
        return new Uint8Array(await blob.slice(begin, end).arrayBuffer());
      } catch (e) {
        throw fail(what, e);
      }
    },
  };
}

/**
 * Reads and checks a file's header (the 8-byte length, then the JSON), not its tensors: parseSafetensors' checks,
 * against the file's size. Returns what parseSafetensors returns.
 */
export async function readSafetensorsHeader(file: string, source: WeightFile): Promise<ParsedSafetensors> {
  const head = await source.read(0, Math.min(8, source.size), 'the header');
  if (head.length < 8) return parseSafetensors(file, head, { fileSize: source.size }); // too short: its error
  const headerLen = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
  // Past the file's end: parseSafetensors names the problem from the 8 bytes alone.
  if (headerLen > BigInt(source.size - 8)) return parseSafetensors(file, head, { fileSize: source.size });
  const bytes = await source.read(0, 8 + Number(headerLen), 'the header');
  return parseSafetensors(file, bytes, { fileSize: source.size });
}

/** One tensor's bytes, alone: decode them with dataOffset 0 and the returned info (begin 0). */
export async function readTensorBytes(
  file: string,
  source: WeightFile,
  dataOffset: number,
  info: TensorInfo,
): Promise<{ bytes: Uint8Array; info: TensorInfo }> {
  const bytes = await source.read(dataOffset + info.begin, dataOffset + info.end, `tensor "${info.name}"`);
  if (bytes.length !== info.end - info.begin) {
    throw new SafetensorsError(
      file,
      info.name,
      `${bytes.length} of its ${info.end - info.begin} bytes could be read: the file changed or is truncated`,
    );
  }
  return { bytes, info: { ...info, begin: 0, end: info.end - info.begin } };
}

/** The whole file in one buffer: only for small files and tests (a load reads tensor by tensor). */
export async function readWhole(source: WeightFile, what = 'the file'): Promise<Uint8Array> {
  return source.read(0, source.size, what);
}
