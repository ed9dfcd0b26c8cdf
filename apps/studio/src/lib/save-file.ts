// Where a large export's bytes go as they arrive: straight to a file the user picks (the File System Access API, so a
// model never has to fit in the page's memory), or, where the browser has no such API, into a Blob offered as a
// download once every byte is there. Either way nothing is presented as a saved file until close(): abort() after a
// failure or a cancel discards what was written (a FileSystemWritableFileStream writes to a swap file that only
// replaces the picked file on close).
import { download } from './files.ts';

export interface FileSink {
  /** Where the bytes go, in words ("a file you picked", "your downloads"). */
  readonly where: string;
  write(chunk: Uint8Array): Promise<void>;
  /** Every byte is written: the file is saved (or offered as a download). */
  close(): Promise<void>;
  /** Something failed or the user cancelled: what was written is discarded. */
  abort(): Promise<void>;
}

interface SavePickerWindow {
  showSaveFilePicker?: (options?: {
    suggestedName?: string;
    types?: { description: string; accept: Record<string, string[]> }[];
  }) => Promise<FileSystemFileHandle>;
}

export const canSaveFile = () => typeof (globalThis as SavePickerWindow).showSaveFilePicker === 'function';

/**
 * A file the user picks, written as the bytes come; null if they closed the picker. Call it straight from the click
 * (the browser shows the picker only in answer to one).
 */
export async function pickFileSink(name: string, description: string): Promise<FileSink | null> {
  const picker = (globalThis as SavePickerWindow).showSaveFilePicker;
  if (!picker) throw new Error('This browser cannot write files as they come: the export is downloaded instead.');
  const ext = name.slice(name.lastIndexOf('.'));
  let handle: FileSystemFileHandle;
  try {
    handle = await picker({ suggestedName: name, types: [{ description, accept: { 'application/octet-stream': [ext] } }] });
  } catch (e) {
    if ((e as { name?: string }).name === 'AbortError') return null;
    throw e;
  }
  return fileHandleSink(handle, 'the file you picked');
}

/** A sink into a file handle (a picked file, or one in the origin-private file system). */
export async function fileHandleSink(handle: FileSystemFileHandle, where: string): Promise<FileSink> {
  const writable = await handle.createWritable();
  return {
    where,
    write: (chunk) => writable.write(chunk as Uint8Array<ArrayBuffer>),
    close: () => writable.close(),
    async abort() {
      await writable.abort().catch(() => {});
      // The picker made the file to write into: left empty, it would look like an export. A file that held something
      // before keeps it (the aborted stream never replaced it).
      const file = await handle.getFile().catch(() => null);
      if (file?.size === 0) await (handle as RemovableHandle).remove?.().catch(() => {});
    },
  };
}

/** Chromium's FileSystemHandle.remove(), not yet in TypeScript's DOM types. */
type RemovableHandle = FileSystemFileHandle & { remove?: () => Promise<void> };

/** A Blob built from the chunks (the browser may keep a large one on disk), downloaded as `name` on close. */
export function downloadSink(name: string, type: string): FileSink {
  let parts: BlobPart[] = [];
  return {
    where: 'your downloads',
    async write(chunk) {
      parts.push(chunk as Uint8Array<ArrayBuffer>);
    },
    async close() {
      download(new Blob(parts, { type }), name, type);
      parts = [];
    },
    async abort() {
      parts = [];
    },
  };
}
