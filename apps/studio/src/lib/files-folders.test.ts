// Folders in and out of the page, against in-memory stand-ins of the browser's handles and entries (Node has
// neither): a save that fails part way leaves the picked folder as it was, and a dropped entry that cannot be read is
// named.
import { describe, expect, it } from 'vitest';
import { fromDrop, writeFolder } from './files.ts';

const notFound = () => new DOMException('A requested file or directory could not be found.', 'NotFoundError');
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b ? new TextDecoder().decode(b) : undefined);

/** A file whose bytes change only when a writable is closed, as the real swap-file streams do. */
class FakeFile {
  constructor(
    public data: Uint8Array,
    private faults: Faults,
    private name: string,
  ) {}
  async createWritable() {
    let pending: Uint8Array | null = null;
    return {
      write: async (d: Uint8Array) => {
        if (this.faults.write === this.name) throw new DOMException('The disk is full.', 'QuotaExceededError');
        pending = d;
      },
      close: async () => {
        if (this.faults.close === this.name) throw new DOMException('The file was moved.', 'InvalidStateError');
        if (pending) this.data = pending;
      },
      abort: async () => {
        pending = null;
      },
    };
  }
}
interface Faults {
  write?: string;
  close?: string;
}

class FakeDir {
  entries = new Map<string, FakeDir | FakeFile>();
  constructor(private faults: Faults = {}) {}
  async getDirectoryHandle(name: string, opts?: { create?: boolean }) {
    const e = this.entries.get(name) ?? (opts?.create ? new FakeDir(this.faults) : null);
    if (!(e instanceof FakeDir)) throw notFound();
    this.entries.set(name, e);
    return e;
  }
  async getFileHandle(name: string, opts?: { create?: boolean }) {
    const e = this.entries.get(name) ?? (opts?.create ? new FakeFile(new Uint8Array(), this.faults, name) : null);
    if (!(e instanceof FakeFile)) throw notFound();
    this.entries.set(name, e);
    return e;
  }
  async removeEntry(name: string) {
    if (!this.entries.delete(name)) throw notFound();
  }
  /** Every file under this folder, by path, with its text. */
  tree(prefix = ''): Record<string, string | undefined> {
    const out: Record<string, string | undefined> = {};
    for (const [n, e] of this.entries) {
      if (e instanceof FakeDir) Object.assign(out, e.tree(`${prefix}${n}/`));
      else out[`${prefix}${n}`] = text(e.data);
    }
    return out;
  }
}

const adapter = [
  { name: 'adapter_config.json', data: bytes('{"r":8}') },
  { name: 'adapter_model.safetensors', data: bytes('weights') },
  { name: 'README.md', data: bytes('# card') },
];
const asParent = (d: FakeDir) => d as unknown as FileSystemDirectoryHandle;

describe('writeFolder', () => {
  it('writes every file into a new folder', async () => {
    const parent = new FakeDir();
    await writeFolder(asParent(parent), 'my-sft', adapter);
    expect(parent.tree()).toEqual({
      'my-sft/adapter_config.json': '{"r":8}',
      'my-sft/adapter_model.safetensors': 'weights',
      'my-sft/README.md': '# card',
    });
  });

  it('a write that fails part way leaves no folder it made, and names the file', async () => {
    const parent = new FakeDir({ write: 'adapter_model.safetensors' });
    parent.entries.set('other', new FakeDir());
    await expect(writeFolder(asParent(parent), 'my-sft', adapter)).rejects.toThrow(
      'my-sft/adapter_model.safetensors could not be written (The disk is full.). Nothing was saved: the folder you picked is as it was.',
    );
    expect([...parent.entries.keys()]).toEqual(['other']);
  });

  it('into a folder already there: its files keep their bytes, and files this save made are removed', async () => {
    const parent = new FakeDir({ write: 'README.md' });
    const dir = await parent.getDirectoryHandle('my-sft', { create: true });
    dir.entries.set('adapter_config.json', new FakeFile(bytes('{"r":4}'), {}, 'adapter_config.json'));
    dir.entries.set('notes.txt', new FakeFile(bytes('mine'), {}, 'notes.txt'));
    await expect(writeFolder(asParent(parent), 'my-sft', adapter)).rejects.toThrow('my-sft/README.md could not be written');
    expect(parent.tree()).toEqual({ 'my-sft/adapter_config.json': '{"r":4}', 'my-sft/notes.txt': 'mine' });
  });

  it('a close that fails says which files the folder holds, and aborts the rest', async () => {
    const parent = new FakeDir({ close: 'adapter_model.safetensors' });
    await expect(writeFolder(asParent(parent), 'my-sft', adapter)).rejects.toThrow(
      'my-sft/adapter_model.safetensors could not be saved (The file was moved.), so the folder is incomplete: it holds adapter_config.json but not the rest. Save it again, or use "Download .zip".',
    );
    expect(parent.tree()['my-sft/adapter_config.json']).toBe('{"r":8}');
    expect(parent.tree()['my-sft/README.md']).toBe('');
  });
});

/** A dropped entry, as webkitGetAsEntry gives it: a file whose read may fail, or a folder of entries. */
function fileEntry(fullPath: string, fail = false): FileSystemEntry {
  return {
    isFile: true,
    isDirectory: false,
    fullPath,
    name: fullPath.split('/').at(-1),
    file: (ok: (f: File) => void, bad: (e: DOMException) => void) => (fail ? bad(notFound()) : ok(new File(['x'], fullPath))),
  } as unknown as FileSystemEntry;
}
function dirEntry(fullPath: string, children: FileSystemEntry[] | 'unreadable'): FileSystemEntry {
  return {
    isFile: false,
    isDirectory: true,
    fullPath,
    name: fullPath.split('/').at(-1),
    createReader: () => {
      let given = false;
      return {
        readEntries: (ok: (e: FileSystemEntry[]) => void, bad: (e: DOMException) => void) => {
          if (children === 'unreadable') return bad(new DOMException('Permission denied.', 'NotReadableError'));
          ok(given ? [] : children);
          given = true;
        },
      };
    },
  } as unknown as FileSystemEntry;
}
const dropOf = (...entries: FileSystemEntry[]) =>
  ({ items: entries.map((e) => ({ kind: 'file', webkitGetAsEntry: () => e })), files: [] }) as unknown as DataTransfer;

describe('fromDrop', () => {
  it('reads a dropped folder recursively, keeping the folder in each path', async () => {
    const got = await fromDrop(
      dropOf(dirEntry('/model', [fileEntry('/model/config.json'), dirEntry('/model/sub', [fileEntry('/model/sub/a.bin')])])),
    );
    expect([...got.keys()].sort()).toEqual(['model/config.json', 'model/sub/a.bin']);
  });

  it('names a dropped file that cannot be read, and what to do', async () => {
    await expect(
      fromDrop(dropOf(dirEntry('/model', [fileEntry('/model/config.json'), fileEntry('/model/model.safetensors', true)]))),
    ).rejects.toThrow(
      'model/model.safetensors could not be read from what was dropped (A requested file or directory could not be found.). Check that it still exists and that you may read it, then drop it again or use the Choose buttons.',
    );
  });

  it('names a dropped folder whose listing cannot be read', async () => {
    await expect(fromDrop(dropOf(dirEntry('/data', [dirEntry('/data/private', 'unreadable')])))).rejects.toThrow(
      'data/private/ could not be read from what was dropped (Permission denied.)',
    );
  });
});
