// A tiny ZIP writer and reader for adapter folders: stored entries only (no compression; safetensors barely
// compress), CRC-32 checked, UTF-8 names, no ZIP64 (archives and entries under 4 GiB, under 65535 entries).
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

/** CRC-32 (ISO-HDLC, as ZIP and gzip use), unsigned. */
export function crc32(data: Uint8Array): number {
  const t = crcTable();
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const LOCAL_SIG = 0x04034b50;
const CENTRAL_SIG = 0x02014b50;
const END_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const LOCAL_LEN = 30;
const CENTRAL_LEN = 46;
const END_LEN = 22;
const FLAG_UTF8 = 0x0800;
const VERSION = 20; // 2.0: what unzip, Python and Windows expect of a plain archive
const DOS_TIME = 0; // 00:00:00
const DOS_DATE = (0 << 9) | (1 << 5) | 1; // 1980-01-01
const MAX_U32 = 0xffffffff;

const METHODS: Record<number, string> = {
  1: 'shrink',
  6: 'implode',
  8: 'deflate',
  9: 'deflate64',
  12: 'bzip2',
  14: 'LZMA',
  93: 'Zstandard',
  95: 'XZ',
  98: 'PPMd',
};

/** A store-only ZIP of `files`, in the given order. Names are paths with '/' separators, relative, unique. */
export function zip(files: { name: string; data: Uint8Array }[]): Uint8Array {
  if (files.length > 0xffff) throw new ZipError(`${files.length} files are too many for one archive (at most 65535)`);
  const encoder = new TextEncoder();
  const seen = new Set<string>();
  const entries = files.map(({ name, data }) => {
    checkName(name);
    if (seen.has(name)) throw new ZipError(`"${name}" appears twice`);
    seen.add(name);
    if (!(data instanceof Uint8Array)) throw new ZipError(`"${name}": data must be a Uint8Array`);
    if (data.length >= MAX_U32) throw new ZipError(`"${name}" is ${data.length} bytes; entries must be under 4 GiB`);
    const nameBytes = encoder.encode(name);
    if (nameBytes.length > 0xffff) throw new ZipError(`"${name.slice(0, 40)}..." is too long a name`);
    return { nameBytes, data, crc: crc32(data), offset: 0 };
  });
  const localSize = entries.reduce((n, e) => n + LOCAL_LEN + e.nameBytes.length + e.data.length, 0);
  const centralSize = entries.reduce((n, e) => n + CENTRAL_LEN + e.nameBytes.length, 0);
  if (localSize + centralSize + END_LEN >= MAX_U32) throw new ZipError('the archive would exceed 4 GiB');
  const out = new Uint8Array(localSize + centralSize + END_LEN);
  const view = new DataView(out.buffer);
  let pos = 0;
  for (const e of entries) {
    e.offset = pos;
    view.setUint32(pos, LOCAL_SIG, true);
    view.setUint16(pos + 4, VERSION, true); // version needed
    view.setUint16(pos + 6, FLAG_UTF8, true);
    view.setUint16(pos + 8, 0, true); // stored
    view.setUint16(pos + 10, DOS_TIME, true);
    view.setUint16(pos + 12, DOS_DATE, true);
    view.setUint32(pos + 14, e.crc, true);
    view.setUint32(pos + 18, e.data.length, true); // compressed size
    view.setUint32(pos + 22, e.data.length, true); // uncompressed size
    view.setUint16(pos + 26, e.nameBytes.length, true);
    view.setUint16(pos + 28, 0, true); // extra length
    out.set(e.nameBytes, pos + LOCAL_LEN);
    out.set(e.data, pos + LOCAL_LEN + e.nameBytes.length);
    pos += LOCAL_LEN + e.nameBytes.length + e.data.length;
  }
  const centralOffset = pos;
  for (const e of entries) {
    view.setUint32(pos, CENTRAL_SIG, true);
    view.setUint16(pos + 4, (3 << 8) | VERSION, true); // made by: Unix, so unzip honours the permissions below
    view.setUint16(pos + 6, VERSION, true);
    view.setUint16(pos + 8, FLAG_UTF8, true);
    view.setUint16(pos + 10, 0, true);
    view.setUint16(pos + 12, DOS_TIME, true);
    view.setUint16(pos + 14, DOS_DATE, true);
    view.setUint32(pos + 16, e.crc, true);
    view.setUint32(pos + 20, e.data.length, true);
    view.setUint32(pos + 24, e.data.length, true);
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
  view.setUint16(pos + 8, entries.length, true);
  view.setUint16(pos + 10, entries.length, true);
  view.setUint32(pos + 12, centralSize, true);
  view.setUint32(pos + 16, centralOffset, true);
  view.setUint16(pos + 20, 0, true); // comment length
  return out;
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

/**
 * The files of a store-only ZIP, by name (directories are skipped). Values are views into `bytes`. Compressed,
 * encrypted, multi-disk and ZIP64 archives are refused with the reason; every entry's CRC-32 is checked.
 */
export function unzip(bytes: Uint8Array): Map<string, Uint8Array> {
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
    throw new ZipError(
      `the central directory (${cdOffset}..${cdOffset + cdSize}) runs past its end record: the archive is truncated or corrupt`,
    );

  const decoderUtf8 = new TextDecoder('utf-8', { fatal: false });
  const files = new Map<string, Uint8Array>();
  let pos = cdOffset;
  for (let i = 0; i < count; i++) {
    if (pos + CENTRAL_LEN > cdOffset + cdSize || u32(pos) !== CENTRAL_SIG) {
      throw new ZipError(`central directory entry ${i + 1} of ${count} is missing or corrupt: the archive is truncated or corrupt`);
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
    if (pos + CENTRAL_LEN + nameLen > bytes.length) throw new ZipError(`central directory entry ${i + 1} runs past the end of the archive`);
    const name = decoderUtf8.decode(bytes.subarray(pos + CENTRAL_LEN, pos + CENTRAL_LEN + nameLen));
    pos += CENTRAL_LEN + nameLen + extraLen + commentLen;

    if (name.endsWith('/')) continue; // a directory entry: nothing to read
    if (flags & 0x1) throw new ZipError(`"${name}" is encrypted; webtune reads unencrypted archives only`);
    if (method !== 0) {
      const how = METHODS[method] ?? `method ${method}`;
      throw new ZipError(
        `"${name}" is compressed (${how}); webtune reads uncompressed (stored) ZIP archives only. ` +
          'Re-zip without compression (e.g. `zip -0 -r adapter.zip adapter/`), or import the folder’s files instead.',
      );
    }
    if (compressed !== size || size === MAX_U32 || localOffset === MAX_U32) {
      throw new ZipError(
        `"${name}": its stored size ${compressed} differs from its size ${size}, or it uses ZIP64: the archive is corrupt or unsupported`,
      );
    }
    if (localOffset + LOCAL_LEN > cdOffset || u32(localOffset) !== LOCAL_SIG) {
      throw new ZipError(`"${name}": its local header at byte ${localOffset} is missing: the archive is truncated or corrupt`);
    }
    const dataStart = localOffset + LOCAL_LEN + u16(localOffset + 26) + u16(localOffset + 28);
    if (dataStart + size > cdOffset) {
      throw new ZipError(
        `"${name}": its ${size} bytes at ${dataStart} run into the central directory: the archive is truncated or corrupt`,
      );
    }
    const data = bytes.subarray(dataStart, dataStart + size);
    if (crc32(data) !== crc) throw new ZipError(`"${name}" fails its CRC-32 check: the archive is corrupt (download or copy it again)`);
    if (files.has(name)) throw new ZipError(`"${name}" appears twice in the archive`);
    files.set(name, data);
  }
  return files;
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
