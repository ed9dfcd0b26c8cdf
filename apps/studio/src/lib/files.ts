// Files the user gives the page: a picked folder (webkitdirectory), picked files, or a drop (files or whole
// folders, read recursively through the File System entries API). Paths keep the folder prefix.

import { checkDatasetSize, decodeDataset } from '@webtune/trainer';
import { errText } from './errors.ts';

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

/** Why a dropped entry could not be read, naming it (the entries API rejects with a bare DOMException). */
function unreadable(path: string, e: unknown): Error {
  return new Error(
    `${path} could not be read from what was dropped (${errText(e)}). Check that it still exists and that you may read it, then drop it again or use the Choose buttons.`,
  );
}

async function walk(entry: FileSystemEntry, out: PathedFiles): Promise<void> {
  const path = entry.fullPath.replace(/^\/+/, '') || entry.name;
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject)).catch((e) => {
      throw unreadable(path, e);
    });
    out.set(path, file);
  } else if (entry.isDirectory) {
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    // readEntries returns at most ~100 entries per call: read until it returns none.
    for (;;) {
      const batch = await readEntries(reader).catch((e) => {
        throw unreadable(`${path}/`, e);
      });
      if (batch.length === 0) break;
      for (const e of batch) await walk(e, out);
    }
  }
}

/**
 * Everything dropped, folders included. Must be called synchronously in the drop handler (before any await). Rejects
 * with a message naming the first entry that could not be read.
 */
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
export async function saveToFolder(files: FolderFile[], suggestedName: string): Promise<boolean> {
  const picker = (globalThis as DirectoryPickerWindow).showDirectoryPicker;
  if (!picker) throw new Error('This browser cannot write folders: use "Download .zip" instead.');
  let parent: FileSystemDirectoryHandle;
  try {
    parent = await picker({ mode: 'readwrite' });
  } catch (e) {
    if ((e as { name?: string }).name === 'AbortError') return false;
    throw e;
  }
  await writeFolder(parent, suggestedName, files);
  return true;
}

export interface FolderFile {
  name: string;
  data: Uint8Array;
}

const exists = (p: Promise<unknown>) =>
  p.then(
    () => true,
    () => false,
  );

/**
 * Write `files` into `parent/name` whole or not at all, as far as the File System Access API allows (it has no
 * commit): every file is written to its swap file before any is closed, so a failure part way (a full disk, a
 * revoked permission) discards them all, and removes the folder and files this call made. Files already there are
 * replaced only when every write has succeeded; the others in the folder are left as they were.
 */
export async function writeFolder(parent: FileSystemDirectoryHandle, name: string, files: FolderFile[]): Promise<void> {
  const folderExisted = await exists(parent.getDirectoryHandle(name));
  const made: string[] = [];
  const open: FileSystemWritableFileStream[] = [];
  let current = name;
  let dir: FileSystemDirectoryHandle | null = null;
  try {
    dir = await parent.getDirectoryHandle(name, { create: true });
    for (const f of files) {
      current = `${name}/${f.name}`;
      if (!(await exists(dir.getFileHandle(f.name)))) made.push(f.name);
      const w = await (await dir.getFileHandle(f.name, { create: true })).createWritable();
      open.push(w);
      await w.write(f.data as Uint8Array<ArrayBuffer>);
    }
  } catch (e) {
    await Promise.all(open.map((w) => w.abort().catch(() => {})));
    if (!folderExisted) await parent.removeEntry(name, { recursive: true }).catch(() => {});
    else await Promise.all(made.map((n) => dir?.removeEntry(n).catch(() => {})));
    throw new Error(
      `${current} could not be written (${errText(e)}). Nothing was saved: the folder you picked is as it was. Free some disk space or pick another folder, or use "Download .zip".`,
    );
  }
  // Every byte is in a swap file: closing moves each into place.
  for (const [i, w] of open.entries()) {
    try {
      await w.close();
    } catch (e) {
      await Promise.all(open.slice(i + 1).map((x) => x.abort().catch(() => {})));
      const saved = files.slice(0, i).map((f) => f.name);
      throw new Error(
        `${name}/${files[i].name} could not be saved (${errText(e)}), so the folder is incomplete${saved.length ? `: it holds ${saved.join(', ')} but not the rest` : ''}. Save it again, or use "Download .zip".`,
      );
    }
  }
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
