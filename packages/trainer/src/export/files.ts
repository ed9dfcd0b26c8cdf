// What every export writes: a list of files whose sizes are known before a byte is written (so a size estimate is
// exact and a writer can refuse early), each written as a stream of chunks into a sink (a file on disk, a
// FileSystemWritableFileStream, a Blob being built). One tensor is in memory at a time, never the whole output.

/** Where an export's bytes go, in order. */
export interface ByteSink {
  write(chunk: Uint8Array): Promise<void> | void;
}

export interface ExportFile {
  /** Relative path inside the export (a folder's file, or the single file's name). */
  name: string;
  /** Exact byte count the writer will produce. */
  size: number;
  /** Writes exactly `size` bytes into `sink`. */
  write(sink: ByteSink): Promise<void>;
}

/** An export step that cannot be done, with the reason and what to do. */
export class ExportError extends Error {
  override name = 'ExportError';
}

/** A file whose bytes are already in memory (configs, tokenizer files, cards). */
export function bytesFile(name: string, data: Uint8Array | string): ExportFile {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  return {
    name,
    size: bytes.length,
    async write(sink) {
      await sink.write(bytes);
    },
  };
}

/** A sink that counts and checks: a writer that produces another byte count than it announced is a bug. */
export async function writeChecked(file: ExportFile, sink: ByteSink): Promise<void> {
  let written = 0;
  await file.write({
    write(chunk) {
      written += chunk.length;
      return sink.write(chunk);
    },
  });
  if (written !== file.size) throw new ExportError(`${file.name}: wrote ${written} bytes, announced ${file.size} (an export bug)`);
}

/** The whole file in memory: for small files and tests. */
export async function fileBytes(file: ExportFile): Promise<Uint8Array> {
  const out = new Uint8Array(file.size);
  let pos = 0;
  await writeChecked(file, {
    write(chunk) {
      out.set(chunk, pos);
      pos += chunk.length;
    },
  });
  return out;
}

export const totalSize = (files: ExportFile[]) => files.reduce((n, f) => n + f.size, 0);
