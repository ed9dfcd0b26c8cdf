// Files the user gives the page: a picked folder (webkitdirectory), picked files, or a drop (files or whole
// folders, read recursively through the File System entries API). Paths keep the folder prefix.

import { checkDatasetSize, decodeDataset } from '@webtune/trainer';

export type PathedFiles = Map<string, File>;

/**
 * A text file the user picked (a dataset, an eval file, prompts), by the CLI's rules: at most MAX_DATASET_BYTES,
 * strictly UTF-8 (a Latin-1 file is named by line, never read as U+FFFD), no NUL. Throws a message naming the file.
 */
export async function readTextFile(name: string, file: Blob): Promise<string> {
  checkDatasetSize(name, file.size);
  const text = decodeDataset(name, new Uint8Array(await file.arrayBuffer()));
  if (text.includes('\u0000')) throw new Error(`${name} is not a text file: pick a .jsonl file, one JSON object per line.`);
  return text;
}

/** From an <input type=file> (with or without webkitdirectory). */
export function fromInput(list: FileList | null): PathedFiles {
  const out: PathedFiles = new Map();
  for (const f of list ?? []) out.set(f.webkitRelativePath || f.name, f);
  return out;
}

function readEntries(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  return new Promise((resolve, reject) => reader.readEntries(resolve, reject));
}

async function walk(entry: FileSystemEntry, out: PathedFiles): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    out.set(entry.fullPath.replace(/^\/+/, ''), file);
  } else if (entry.isDirectory) {
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    // readEntries returns at most ~100 entries per call: read until it returns none.
    for (;;) {
      const batch = await readEntries(reader);
      if (batch.length === 0) break;
      for (const e of batch) await walk(e, out);
    }
  }
}

/** Everything dropped, folders included. Must be called synchronously in the drop handler (before any await). */
export function fromDrop(data: DataTransfer | null): Promise<PathedFiles> {
  const out: PathedFiles = new Map();
  if (!data) return Promise.resolve(out);
  const entries: FileSystemEntry[] = [];
  const loose: File[] = [];
  for (const item of data.items ?? []) {
    if (item.kind !== 'file') continue;
    const entry = item.webkitGetAsEntry?.();
    if (entry) entries.push(entry);
    else {
      const f = item.getAsFile();
      if (f) loose.push(f);
    }
  }
  if (entries.length === 0 && loose.length === 0) for (const f of data.files) loose.push(f);
  for (const f of loose) out.set(f.name, f);
  return Promise.all(entries.map((e) => walk(e, out))).then(() => out);
}

/** The top folder name of picked files ("SmolLM2-135M/config.json" -> "SmolLM2-135M"), or a fallback. */
export function folderName(files: PathedFiles, fallback: string): string {
  const config = [...files.keys()].filter((p) => p.endsWith('config.json')).sort((a, b) => a.split('/').length - b.split('/').length)[0];
  const parts = (config ?? [...files.keys()][0] ?? '').split('/');
  return parts.length > 1 ? parts[parts.length - 2] : fallback;
}

/** Offer bytes (or a Blob already built) as a download. */
export function download(data: Uint8Array | string | Blob, name: string, type = 'application/octet-stream'): void {
  const blob = data instanceof Blob ? data : new Blob([data as BlobPart], { type });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

interface DirectoryPickerWindow {
  showDirectoryPicker?: (options?: { mode?: 'read' | 'readwrite'; suggestedName?: string }) => Promise<FileSystemDirectoryHandle>;
}

export const canSaveFolder = () => typeof (globalThis as DirectoryPickerWindow).showDirectoryPicker === 'function';

/** Write files into a folder the user picks (File System Access API); returns false if they cancelled. */
export async function saveToFolder(files: { name: string; data: Uint8Array }[], suggestedName: string): Promise<boolean> {
  const picker = (globalThis as DirectoryPickerWindow).showDirectoryPicker;
  if (!picker) throw new Error('This browser cannot write folders: use "Download .zip" instead.');
  let parent: FileSystemDirectoryHandle;
  try {
    parent = await picker({ mode: 'readwrite' });
  } catch (e) {
    if ((e as { name?: string }).name === 'AbortError') return false;
    throw e;
  }
  const dir = await parent.getDirectoryHandle(suggestedName, { create: true });
  for (const f of files) {
    const handle = await dir.getFileHandle(f.name, { create: true });
    const w = await handle.createWritable();
    await w.write(f.data as BlobPart);
    await w.close();
  }
  return true;
}

/** What the first readable line of a JSONL file is: preference pairs, KTO rows (with a "label") or SFT rows. */
export function detectMethod(text: string): 'sft' | 'dpo' | 'kto' | null {
  for (const line of text.split('\n', 50)) {
    if (line.trim() === '') continue;
    try {
      const row = JSON.parse(line) as Record<string, unknown>;
      if (row && typeof row === 'object') {
        if ('chosen' in row || 'rejected' in row || 'preferred_output' in row) return 'dpo';
        return 'label' in row ? 'kto' : 'sft';
      }
    } catch {
      // a bad line: look at the next one
    }
  }
  return null;
}

/**
 * A few prompts from a dataset's text, for the compare screen: the "prompt" field or the last user message, exactly
 * as written (a prompt such as "Question: ...\nAnswer:\n" needs its trailing newline).
 */
export function promptsOf(text: string, count: number): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (out.length >= count) break;
    try {
      const row = JSON.parse(line) as Record<string, unknown>;
      const p = row.prompt ?? row.messages;
      if (typeof p === 'string' && p.trim()) out.push(p);
      else if (Array.isArray(p)) {
        const user = p.filter((m) => m && typeof m === 'object' && (m as { role?: string }).role === 'user').at(-1) as
          | { content?: unknown }
          | undefined;
        if (typeof user?.content === 'string' && user.content.trim()) out.push(user.content);
      }
    } catch {
      // not a row
    }
  }
  return [...new Set(out)];
}
