// A streamed --out folder lands whole or not at all: a write that fails part way (a disk full, a cancelled export)
// leaves the earlier folder as it was, or none, and no staging folder behind.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MAX_SHARD_BYTES } from '@webtune/trainer';
import { afterAll, describe, expect, it } from 'vitest';
import { help, parseSize } from './commands/export.ts';
import { OutputFile, OutputFolder } from './out-dir.ts';

const root = mkdtempSync(join(tmpdir(), 'webtune-out-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('OutputFolder.check', () => {
  it('refuses a file in the way, naming the flag', () => {
    writeFileSync(join(root, 'a-file'), 'not a folder');
    expect(() => OutputFolder.check(join(root, 'a-file'), 'dir')).toThrow(
      `--dir ${join(root, 'a-file')} is a file; give a folder to write into (a new name, or an existing folder)`,
    );
  });
});

describe('OutputFolder.commit', () => {
  it("the folder gets the permissions any new folder gets here (the umask), not a temporary folder's 0700", () => {
    const probe = join(root, 'probe');
    mkdirSync(probe);
    const out = OutputFolder.check(join(root, 'shared'));
    out.add('adapter_config.json', '{}');
    out.commit();
    expect((statSync(join(root, 'shared')).mode & 0o777).toString(8)).toBe((statSync(probe).mode & 0o777).toString(8));
  });

  it('a write that fails leaves the earlier folder as it was, and says so and what to do', () => {
    const dir = join(root, 'earlier');
    mkdirSync(dir);
    writeFileSync(join(dir, 'adapter_config.json'), 'the earlier run');
    const out = OutputFolder.check(dir);
    out.add('README.md', 'new');
    out.add('README.md/inside', 'a file under a file: the write fails part way');
    expect(() => out.commit()).toThrow(
      /^could not write .*earlier: .*; nothing was written and the folder is as it was: free some space or give another folder$/,
    );
    expect(readdirSync(dir)).toEqual(['adapter_config.json']);
    expect(readFileSync(join(dir, 'adapter_config.json'), 'utf8')).toBe('the earlier run');
    expect(readdirSync(root).filter((n) => n.startsWith('.earlier'))).toEqual([]);
  });
});

describe('OutputFolder.commitStreamed', () => {
  it('writes streamed files beside the queued ones, chunks in order', async () => {
    const out = OutputFolder.check(join(root, 'ok'));
    out.add('Modelfile', 'FROM ./model.gguf\n');
    await out.commitStreamed(async (append) => {
      append('model.gguf', new Uint8Array([1, 2]));
      append('sub/x.bin', new Uint8Array([9]));
      append('model.gguf', new Uint8Array([3]));
    });
    expect(readdirSync(join(root, 'ok')).sort()).toEqual(['Modelfile', 'model.gguf', 'sub']);
    expect([...readFileSync(join(root, 'ok', 'model.gguf'))]).toEqual([1, 2, 3]);
  });

  it('a failure part way leaves the earlier folder untouched and no partial files anywhere', async () => {
    const dir = join(root, 'kept');
    mkdirSync(dir);
    writeFileSync(join(dir, 'model.gguf'), 'the earlier export');
    const out = OutputFolder.check(dir);
    await expect(
      out.commitStreamed(async (append) => {
        append('model.gguf', new Uint8Array(1000));
        throw new Error('ENOSPC: no space left on device, write');
      }),
    ).rejects.toThrow(/ENOSPC/);
    expect(readFileSync(join(dir, 'model.gguf'), 'utf8')).toBe('the earlier export');
    expect(readdirSync(root).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('a failure part way with no earlier folder leaves none', async () => {
    const out = OutputFolder.check(join(root, 'none'));
    await expect(
      out.commitStreamed(async (append) => {
        append('model.gguf', new Uint8Array(10));
        throw Object.assign(new Error('The user aborted a request.'), { name: 'AbortError' });
      }),
    ).rejects.toThrow(/aborted/);
    expect(existsSync(join(root, 'none'))).toBe(false);
    expect(readdirSync(root).filter((n) => n.startsWith('.'))).toEqual([]);
  });
});

describe('OutputFile.commitStreamed', () => {
  it('writes the file whole, replacing an earlier one only at the end', async () => {
    const path = join(root, 'bundle.zip');
    writeFileSync(path, 'the earlier export');
    const out = OutputFile.check(path);
    expect(out.exists).toBe(true);
    await out.commitStreamed(async (append) => {
      append(new Uint8Array([1, 2]));
      expect(readFileSync(path, 'utf8')).toBe('the earlier export');
      append(new Uint8Array([3]));
    });
    expect([...readFileSync(path)]).toEqual([1, 2, 3]);
    expect(readdirSync(root).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('a failure part way leaves the earlier file untouched, or none, and no partial file', async () => {
    const kept = join(root, 'kept.zip');
    writeFileSync(kept, 'the earlier export');
    const fail = async (append: (chunk: Uint8Array) => void) => {
      append(new Uint8Array(1000));
      throw new Error('ENOSPC: no space left on device, write');
    };
    await expect(OutputFile.check(kept).commitStreamed(fail)).rejects.toThrow(/ENOSPC/);
    expect(readFileSync(kept, 'utf8')).toBe('the earlier export');
    await expect(OutputFile.check(join(root, 'none.zip')).commitStreamed(fail)).rejects.toThrow(/ENOSPC/);
    expect(existsSync(join(root, 'none.zip'))).toBe(false);
    expect(readdirSync(root).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('refuses a folder in the way', () => {
    mkdirSync(join(root, 'folder.zip'));
    expect(() => OutputFile.check(join(root, 'folder.zip'))).toThrow(/folder\.zip is a folder; give the file to write/);
  });
});

describe('--max-shard-size', () => {
  it('reads bytes and units as transformers does, and refuses the rest', () => {
    expect(parseSize('max-shard-size', '40000')).toBe(40000);
    expect(parseSize('max-shard-size', '2GB')).toBe(2e9);
    expect(parseSize('max-shard-size', '500MB')).toBe(5e8);
    expect(parseSize('max-shard-size', '1GiB')).toBe(2 ** 30);
    expect(() => parseSize('max-shard-size', '2 parsecs')).toThrow(/--max-shard-size 2 parsecs: give a size in bytes/);
    expect(() => parseSize('max-shard-size', '0')).toThrow(/give a size/);
  });

  it('defaults to what its help says, 2GB read as the flag reads it', () => {
    expect(help).toMatch(/--max-shard-size SIZE .*default 2GB\)/);
    expect(DEFAULT_MAX_SHARD_BYTES).toBe(parseSize('max-shard-size', '2GB'));
  });
});
