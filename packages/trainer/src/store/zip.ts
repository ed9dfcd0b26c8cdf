// A tiny ZIP writer and reader for adapter folders and exports. The writer stores (no compression: safetensors and
// GGUF barely compress), from bytes in memory (zip) or as a stream whose entries come a chunk at a time (zipStream);
// the reader also inflates deflated entries, which is what ordinary zip tools write. CRC-32 checked, UTF-8 names, no
// ZIP64 (archives and entries under 4 GiB, under 65535 entries).
// The writer is deterministic: every entry carries the same DOS timestamp (1980-01-01 00:00), so the same files
// always give the same bytes.

/** A ZIP archive webtune cannot read or write, with the reason. */
export class ZipError extends Error {
  override name = 'ZipError';
}

let CRC_TABLE: Uint32Array | null = null;

function crcTable(): Uint32Array {
  if (CRC_TABLE) return CRC_TABLE;
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  CRC_TABLE = t;
  return t;
}

/** CRC-32 a chunk at a time: crc32Final(crc32Update(crc32Update(CRC_START, a), b)) is crc32(a then b). */
const CRC_START = 0xffffffff;
function crc32Update(crc: number, data: Uint8Array): number {
  const t = crcTable();
  let c = crc;
  for (let i = 0; i < data.length; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return c;
}
const crc32Final = (crc: number) => (crc ^ 0xffffffff) >>> 0;

/** CRC-32 (ISO-HDLC, as ZIP and gzip use), unsigned. */
export function crc32(data: Uint8Array): number {
  return crc32Final(crc32Update(CRC_START, data));
}

const LOCAL_SIG = 0x04034b50;
const CENTRAL_SIG = 0x02014b50;
const END_SIG = 0x06054b50;
const DESCRIPTOR_SIG = 0x08074b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const LOCAL_LEN = 30;
const CENTRAL_LEN = 46;
const END_LEN = 22;
const DESCRIPTOR_LEN = 16;
const FLAG_UTF8 = 0x0800;
/** General purpose bit 3: the CRC-32 (and sizes) follow the entry's data in a data descriptor. */
const FLAG_DESCRIPTOR = 0x0008;
const VERSION = 20; // 2.0: what unzip, Python and Windows expect of a plain archive
const DOS_TIME = 0; // 00:00:00
const DOS_DATE = (0 << 9) | (1 << 5) | 1; // 1980-01-01
const MAX_U32 = 0xffffffff;

const METHODS: Record<number, string> = {
  1: 'shrink',
  6: 'implode',
  9: 'deflate64',
  12: 'bzip2',
  14: 'LZMA',
  93: 'Zstandard',
  95: 'XZ',
  98: 'PPMd',
};

/** One stored entry as its headers describe it. */
interface EntryHead {
  nameBytes: Uint8Array;
  size: number;
  crc: number;
  flags: number;
  offset: number;
}

/** The entry's name as bytes, once it is a usable, unique, relative path and its size fits. */
function entryHead(name: string, size: number, seen: Set<string>, flags: number): EntryHead {
  checkName(name);
  if (seen.has(name)) throw new ZipError(`"${name}" appears twice`);
  seen.add(name);
  if (size >= MAX_U32) throw new ZipError(`"${name}" is ${size} bytes; entries must be under 4 GiB`);
  const nameBytes = new TextEncoder().encode(name);
  if (nameBytes.length > 0xffff) throw new ZipError(`"${name.slice(0, 40)}..." is too long a name`);
  return { nameBytes, size, crc: 0, flags, offset: 0 };
}

/** The archive's size for entries `heads`, refused past what a ZIP without ZIP64 holds. */
function archiveSize(heads: EntryHead[]): { localSize: number; centralSize: number; total: number } {
  if (heads.length > 0xffff) throw new ZipError(`${heads.length} files are too many for one archive (at most 65535)`);
  const descriptor = (e: EntryHead) => (e.flags & FLAG_DESCRIPTOR ? DESCRIPTOR_LEN : 0);
  const localSize = heads.reduce((n, e) => n + LOCAL_LEN + e.nameBytes.length + e.size + descriptor(e), 0);
  const centralSize = heads.reduce((n, e) => n + CENTRAL_LEN + e.nameBytes.length, 0);
  const total = localSize + centralSize + END_LEN;
  if (total >= MAX_U32)
    throw new ZipError(`the archive would be ${(total / 2 ** 30).toFixed(2)} GiB; a ZIP without ZIP64 holds under 4 GiB`);
  return { localSize, centralSize, total };
}

/** The local file header (with a data descriptor, CRC-32 and sizes are zero here, as APPNOTE 4.4.4 says). */
function localHeader(e: EntryHead): Uint8Array {
  const out = new Uint8Array(LOCAL_LEN + e.nameBytes.length);
  const view = new DataView(out.buffer);
  const later = (e.flags & FLAG_DESCRIPTOR) !== 0;
  view.setUint32(0, LOCAL_SIG, true);
  view.setUint16(4, VERSION, true); // version needed
  view.setUint16(6, e.flags, true);
  view.setUint16(8, 0, true); // stored
  view.setUint16(10, DOS_TIME, true);
  view.setUint16(12, DOS_DATE, true);
  view.setUint32(14, later ? 0 : e.crc, true);
  view.setUint32(18, later ? 0 : e.size, true); // compressed size
  view.setUint32(22, later ? 0 : e.size, true); // uncompressed size
  view.setUint16(26, e.nameBytes.length, true);
  view.setUint16(28, 0, true); // extra length
  out.set(e.nameBytes, LOCAL_LEN);
  return out;
}

/** The data descriptor that follows a streamed entry's bytes: signature, CRC-32, compressed and uncompressed size. */
function dataDescriptor(e: EntryHead): Uint8Array {
  const out = new Uint8Array(DESCRIPTOR_LEN);
  const view = new DataView(out.buffer);
  view.setUint32(0, DESCRIPTOR_SIG, true);
  view.setUint32(4, e.crc, true);
  view.setUint32(8, e.size, true);
  view.setUint32(12, e.size, true);
  return out;
}

/** The central directory: one record per entry, then the end record. */
function centralDirectory(heads: EntryHead[], centralSize: number, centralOffset: number): Uint8Array {
  const out = new Uint8Array(centralSize + END_LEN);
  const view = new DataView(out.buffer);
  let pos = 0;
  for (const e of heads) {
    view.setUint32(pos, CENTRAL_SIG, true);
    view.setUint16(pos + 4, (3 << 8) | VERSION, true); // made by: Unix, so unzip honours the permissions below
    view.setUint16(pos + 6, VERSION, true);
    view.setUint16(pos + 8, e.flags, true);
    view.setUint16(pos + 10, 0, true);
    view.setUint16(pos + 12, DOS_TIME, true);
    view.setUint16(pos + 14, DOS_DATE, true);
    view.setUint32(pos + 16, e.crc, true);
    view.setUint32(pos + 20, e.size, true);
    view.setUint32(pos + 24, e.size, true);
    view.setUint16(pos + 28, e.nameBytes.length, true);
    view.setUint16(pos + 30, 0, true); // extra
    view.setUint16(pos + 32, 0, true); // comment
    view.setUint16(pos + 34, 0, true); // disk
    view.setUint16(pos + 36, 0, true); // internal attributes
    view.setUint32(pos + 38, (0o100644 << 16) >>> 0, true); // external: regular file, rw-r--r--
    view.setUint32(pos + 42, e.offset, true);
    out.set(e.nameBytes, pos + CENTRAL_LEN);
    pos += CENTRAL_LEN + e.nameBytes.length;
  }
  view.setUint32(pos, END_SIG, true);
  view.setUint16(pos + 4, 0, true); // this disk
  view.setUint16(pos + 6, 0, true); // disk with the central directory
  view.setUint16(pos + 8, heads.length, true);
  view.setUint16(pos + 10, heads.length, true);
  view.setUint32(pos + 12, centralSize, true);
  view.setUint32(pos + 16, centralOffset, true);
  view.setUint16(pos + 20, 0, true); // comment length
  return out;
}

/** A store-only ZIP of `files`, in the given order. Names are paths with '/' separators, relative, unique. */
export function zip(files: { name: string; data: Uint8Array }[]): Uint8Array {
  const seen = new Set<string>();
  const heads = files.map(({ name, data }) => {
    if (!(data instanceof Uint8Array)) throw new ZipError(`"${name}": data must be a Uint8Array`);
    const e = entryHead(name, data.length, seen, FLAG_UTF8);
    e.crc = crc32(data);
    return e;
  });
  const { localSize, centralSize, total } = archiveSize(heads);
  const out = new Uint8Array(total);
  let pos = 0;
  for (const [i, e] of heads.entries()) {
    e.offset = pos;
    const head = localHeader(e);
    out.set(head, pos);
    out.set(files[i].data, pos + head.length);
    pos += head.length + e.size;
  }
  out.set(centralDirectory(heads, centralSize, localSize), pos);
  return out;
}

/** Where a streamed archive's bytes go, in order. */
export interface ZipSink {
  write(chunk: Uint8Array): Promise<void> | void;
}

/** An entry of a streamed archive: its size known before its bytes, which it writes into a sink when asked. */
export interface ZipStreamEntry {
  name: string;
  size: number;
  write(sink: ZipSink): Promise<void>;
}

/**
 * A store-only ZIP written as a stream, for entries too big to hold (a model): its exact size is known before a byte
 * is written, and each entry's bytes pass through once. The CRC-32 of an entry is known only after its bytes, so it
 * goes in a data descriptor after them (general purpose bit 3, what streaming zip writers do; unzip, Python's
 * zipfile, Windows and macOS read it) and in the central directory. An entry that writes another byte count than it
 * announced is refused.
 */
export function zipStream(entries: ZipStreamEntry[]): { size: number; write(sink: ZipSink): Promise<void> } {
  const seen = new Set<string>();
  const heads = entries.map((f) => entryHead(f.name, f.size, seen, FLAG_UTF8 | FLAG_DESCRIPTOR));
  const { localSize, centralSize, total } = archiveSize(heads);
  return {
    size: total,
    async write(sink) {
      let pos = 0;
      for (const [i, e] of heads.entries()) {
        e.offset = pos;
        const head = localHeader(e);
        await sink.write(head);
        let crc = CRC_START;
        let written = 0;
        await entries[i].write({
          write(chunk) {
            crc = crc32Update(crc, chunk);
            written += chunk.length;
            if (written > e.size) throw new ZipError(`"${entries[i].name}" wrote more than the ${e.size} bytes it announced`);
            return sink.write(chunk);
          },
        });
        if (written !== e.size) throw new ZipError(`"${entries[i].name}" wrote ${written} bytes, announced ${e.size}`);
        e.crc = crc32Final(crc);
        await sink.write(dataDescriptor(e));
        pos += head.length + e.size + DESCRIPTOR_LEN;
      }
      await sink.write(centralDirectory(heads, centralSize, localSize));
    },
  };
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name === '') throw new ZipError('a file name is empty');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name) || name.includes('\\') || name.includes('\0')) {
    throw new ZipError(`"${name}" is not a relative path with '/' separators`);
  }
  if (name.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new ZipError(`"${name}" has an empty, "." or ".." path segment`);
  }
}

/** One file of an archive as its central directory describes it, its bytes still as stored (maybe compressed). */
interface Entry {
  name: string;
  method: number;
  crc: number;
  size: number;
  raw: Uint8Array;
}

/**
 * The files of a ZIP archive, by name (directories are skipped). Stored entries are read as they are, deflated
 * ones (what the OS, `zip` and Python write) are inflated: that needs `DecompressionStream`, so pass
 * `{ inflate: true }` and await the result. Without it the call is synchronous, returns views into `bytes`, and
 * refuses a compressed entry. Every entry's size and CRC-32 are checked. Other compression methods, encryption,
 * multi-disk and ZIP64 archives are refused with the reason, naming the entry.
 */
export function unzip(bytes: Uint8Array): Map<string, Uint8Array>;
export function unzip(bytes: Uint8Array, options: { inflate: true }): Promise<Map<string, Uint8Array>>;
export function unzip(bytes: Uint8Array, options?: { inflate?: boolean }): Map<string, Uint8Array> | Promise<Map<string, Uint8Array>> {
  if (options?.inflate) return inflateAll(bytes);
  const files = new Map<string, Uint8Array>();
  for (const e of entries(bytes)) {
    if (e.method !== 0) throw new ZipError(`"${e.name}" is compressed (deflate); read the archive with unzip(bytes, { inflate: true })`);
    files.set(e.name, checked(e, e.raw));
  }
  return files;
}

async function inflateAll(bytes: Uint8Array): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for (const e of entries(bytes)) files.set(e.name, checked(e, e.method === 0 ? e.raw : await inflateRaw(e)));
  return files;
}

/** A deflated entry's bytes, inflated; never more than the size the archive declares (a zip bomb stops there). */
async function inflateRaw(e: Entry): Promise<Uint8Array> {
  const out = new Uint8Array(e.size);
  let n = 0;
  try {
    const reader = new Blob([e.raw as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('deflate-raw')).getReader();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      if (n + chunk.value.length > e.size) {
        await reader.cancel();
        throw new ZipError(
          `"${e.name}" holds more than the ${e.size} bytes the archive says: the archive is corrupt (download or copy it again)`,
        );
      }
      out.set(chunk.value, n);
      n += chunk.value.length;
    }
  } catch (err) {
    if (err instanceof ZipError) throw err;
    throw new ZipError(
      `"${e.name}" cannot be decompressed (${(err as Error).message}): the archive is corrupt (download or copy it again)`,
    );
  }
  return out.subarray(0, n);
}

/** The entry's data once its size and CRC-32 match what the archive says. */
function checked(e: Entry, data: Uint8Array): Uint8Array {
  if (data.length !== e.size) {
    throw new ZipError(
      `"${e.name}" holds ${data.length} bytes where the archive says ${e.size}: the archive is corrupt (download or copy it again)`,
    );
  }
  if (crc32(data) !== e.crc) throw new ZipError(`"${e.name}" fails its CRC-32 check: the archive is corrupt (download or copy it again)`);
  return data;
}

/** What to do about an archive whose structure does not hold together. */
const DAMAGED = 'the archive is truncated or corrupt (download or copy it again, or zip the folder again)';

/** The archive's files from its central directory, validated: readable methods, no encryption, no ZIP64, in bounds. */
function entries(bytes: Uint8Array): Entry[] {
  if (!(bytes instanceof Uint8Array)) throw new ZipError('expected the archive as a Uint8Array');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = findEnd(bytes, view);
  const u16 = (at: number) => view.getUint16(at, true);
  const u32 = (at: number) => view.getUint32(at, true);
  const diskNo = u16(end + 4);
  const cdDisk = u16(end + 6);
  const onDisk = u16(end + 8);
  const count = u16(end + 10);
  const cdSize = u32(end + 12);
  const cdOffset = u32(end + 16);
  if (diskNo !== 0 || cdDisk !== 0 || onDisk !== count)
    throw new ZipError('the archive is split over several files (multi-disk); join it into one first');
  if (count === 0xffff || cdSize === MAX_U32 || cdOffset === MAX_U32 || (end >= 20 && u32(end - 20) === ZIP64_LOCATOR_SIG)) {
    throw new ZipError('the archive uses ZIP64 (for archives over 4 GiB), which webtune does not read; import the folder’s files instead');
  }
  if (cdOffset + cdSize > end)
    throw new ZipError(`the central directory (${cdOffset}..${cdOffset + cdSize}) runs past its end record: ${DAMAGED}`);

  const decoderUtf8 = new TextDecoder('utf-8', { fatal: false });
  const out: Entry[] = [];
  const seen = new Set<string>();
  let pos = cdOffset;
  for (let i = 0; i < count; i++) {
    if (pos + CENTRAL_LEN > cdOffset + cdSize || u32(pos) !== CENTRAL_SIG) {
      throw new ZipError(`central directory entry ${i + 1} of ${count} is missing or corrupt: ${DAMAGED}`);
    }
    const flags = u16(pos + 8);
    const method = u16(pos + 10);
    const crc = u32(pos + 16);
    const compressed = u32(pos + 20);
    const size = u32(pos + 24);
    const nameLen = u16(pos + 28);
    const extraLen = u16(pos + 30);
    const commentLen = u16(pos + 32);
    const localOffset = u32(pos + 42);
    if (pos + CENTRAL_LEN + nameLen > bytes.length)
      throw new ZipError(`central directory entry ${i + 1} runs past the end of the archive: ${DAMAGED}`);
    const name = decoderUtf8.decode(bytes.subarray(pos + CENTRAL_LEN, pos + CENTRAL_LEN + nameLen));
    pos += CENTRAL_LEN + nameLen + extraLen + commentLen;

    if (name.endsWith('/')) continue; // a directory entry: nothing to read
    if (flags & 0x41) {
      throw new ZipError(
        `"${name}" is encrypted; webtune reads archives without a password only. Zip the folder again without one, or import its files instead.`,
      );
    }
    if (method !== 0 && method !== 8) {
      const how = METHODS[method] ?? `method ${method}`;
      throw new ZipError(
        `"${name}" is compressed with ${how}, which webtune cannot read. Zip the folder again with ordinary compression ` +
          '(deflate, what the system’s “Compress” and `zip -r` use), or import the folder’s files instead.',
      );
    }
    if (compressed === MAX_U32 || size === MAX_U32 || localOffset === MAX_U32) {
      throw new ZipError(`"${name}" uses ZIP64 (for files over 4 GiB), which webtune does not read; import the folder’s files instead`);
    }
    if (method === 0 && compressed !== size) {
      throw new ZipError(`"${name}": its stored size ${compressed} differs from its size ${size}: ${DAMAGED}`);
    }
    if (localOffset + LOCAL_LEN > cdOffset || u32(localOffset) !== LOCAL_SIG) {
      throw new ZipError(`"${name}": its local header at byte ${localOffset} is missing: ${DAMAGED}`);
    }
    const dataStart = localOffset + LOCAL_LEN + u16(localOffset + 26) + u16(localOffset + 28);
    if (dataStart + compressed > cdOffset) {
      throw new ZipError(`"${name}": its ${compressed} bytes at ${dataStart} run into the central directory: ${DAMAGED}`);
    }
    if (seen.has(name)) throw new ZipError(`"${name}" appears twice in the archive, so which one to read is unclear: zip the folder again`);
    seen.add(name);
    out.push({ name, method, crc, size, raw: bytes.subarray(dataStart, dataStart + compressed) });
  }
  return out;
}

/** Offset of the end-of-central-directory record: the last signature that leaves exactly its comment after it. */
function findEnd(bytes: Uint8Array, view: DataView): number {
  if (bytes.length < END_LEN) throw new ZipError(`${bytes.length} bytes are too few for a ZIP archive: it is empty or truncated`);
  const lowest = Math.max(0, bytes.length - END_LEN - 0xffff);
  for (let at = bytes.length - END_LEN; at >= lowest; at--) {
    if (view.getUint32(at, true) === END_SIG && at + END_LEN + view.getUint16(at + 20, true) === bytes.length) return at;
  }
  throw new ZipError('this is not a ZIP archive (no end of central directory record): it may be truncated or another kind of file');
}
