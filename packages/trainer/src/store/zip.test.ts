import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { crc32, unzip, ZipError, zip } from './zip.ts';

const enc = new TextEncoder();
const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
const HAS_UNZIP = has('unzip', ['-v']);
const HAS_PYTHON = has('python3', ['-c', 'import zipfile']);
if (!HAS_UNZIP) process.stderr.write('SKIPPED zip.test.ts `unzip` checks: no unzip on PATH (apt-get install unzip)\n');
if (!HAS_PYTHON) process.stderr.write('SKIPPED zip.test.ts python3 zipfile checks: no python3 on PATH\n');

const dir = mkdtempSync(join(tmpdir(), 'webtune-zip-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sample = () => {
  const big = new Uint8Array(70_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
  return [
    { name: 'adapter_config.json', data: enc.encode('{"peft_type": "LORA"}\n') },
    { name: 'adapter_model.safetensors', data: big },
    { name: 'empty.txt', data: new Uint8Array(0) },
    { name: 'dossier/modèle ünïcode ✓.md', data: enc.encode('# héllo\n') },
  ];
};

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ZipError);
    return (e as Error).message;
  }
  throw new Error('expected a ZipError');
}

describe('crc32', () => {
  it('matches the standard check values', () => {
    expect(crc32(enc.encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(enc.encode('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339);
  });
});

describe('zip / unzip', () => {
  it('round-trips names (UTF-8), empty files and binary data', () => {
    const files = sample();
    const out = unzip(zip(files));
    expect([...out.keys()]).toEqual(files.map((f) => f.name));
    for (const f of files) expect(out.get(f.name)).toEqual(f.data);
  });

  it('round-trips an empty archive', () => {
    const bytes = zip([]);
    expect(bytes.length).toBe(22);
    expect(unzip(bytes).size).toBe(0);
  });

  it('is deterministic: same files, same bytes, fixed 1980-01-01 DOS timestamp', () => {
    const a = zip(sample());
    const b = zip(sample());
    expect(a).toEqual(b);
    const view = new DataView(a.buffer);
    expect(view.getUint16(10, true)).toBe(0); // time
    expect(view.getUint16(12, true)).toBe(0x21); // date: 1980-01-01
    expect(view.getUint16(6, true) & 0x0800).toBe(0x0800); // UTF-8 names
  });

  it('reads an archive from a view into a larger buffer', () => {
    const bytes = zip(sample());
    const padded = new Uint8Array(bytes.length + 10);
    padded.set(bytes, 5);
    expect(unzip(padded.subarray(5, 5 + bytes.length)).get('empty.txt')).toEqual(new Uint8Array(0));
  });

  it('refuses bad names when writing', () => {
    const d = new Uint8Array(1);
    expect(errorOf(() => zip([{ name: '', data: d }]))).toMatch(/empty/);
    expect(errorOf(() => zip([{ name: '/etc/passwd', data: d }]))).toMatch(/relative path/);
    expect(errorOf(() => zip([{ name: 'a\\b', data: d }]))).toMatch(/relative path/);
    expect(errorOf(() => zip([{ name: 'a/../b', data: d }]))).toMatch(/"\.\."/);
    expect(
      errorOf(() =>
        zip([
          { name: 'x', data: d },
          { name: 'x', data: d },
        ]),
      ),
    ).toMatch(/"x" appears twice/);
  });

  it('refuses a compressed entry, naming it and saying what to do', () => {
    const bytes = zip(sample());
    // Mark the safetensors entry deflated in its central directory record (the reader trusts the directory).
    const view = new DataView(bytes.buffer);
    const cdOffset = view.getUint32(bytes.length - 22 + 16, true);
    let pos = cdOffset;
    for (let i = 0; i < 4; i++) {
      const nameLen = view.getUint16(pos + 28, true);
      const name = new TextDecoder().decode(bytes.subarray(pos + 46, pos + 46 + nameLen));
      if (name === 'adapter_model.safetensors') view.setUint16(pos + 10, 8, true);
      pos += 46 + nameLen;
    }
    const msg = errorOf(() => unzip(bytes));
    expect(msg).toContain('"adapter_model.safetensors" is compressed (deflate)');
    expect(msg).toMatch(/without compression/);
    expect(msg).toMatch(/import the folder’s files instead/);
  });

  it('refuses corrupt and truncated archives', () => {
    const bytes = zip(sample());
    expect(errorOf(() => unzip(new Uint8Array(10)))).toMatch(/too few/);
    expect(errorOf(() => unzip(enc.encode('not a zip file at all, just some text here')))).toMatch(/not a ZIP archive/);
    expect(errorOf(() => unzip(bytes.subarray(0, bytes.length - 5)))).toMatch(/not a ZIP archive/);
    expect(errorOf(() => unzip(bytes.subarray(1000)))).toMatch(/truncated or corrupt/);
    const flipped = bytes.slice();
    flipped[1000] ^= 0xff; // inside the safetensors entry's data
    expect(errorOf(() => unzip(flipped))).toMatch(/"adapter_model.safetensors" fails its CRC-32 check/);
    const encrypted = bytes.slice();
    const view = new DataView(encrypted.buffer);
    const cd = view.getUint32(encrypted.length - 22 + 16, true);
    view.setUint16(cd + 8, view.getUint16(cd + 8, true) | 1, true);
    expect(errorOf(() => unzip(encrypted))).toMatch(/"adapter_config.json" is encrypted/);
  });

  it.skipIf(!HAS_UNZIP)('passes `unzip -t` and `unzip -l` (Info-ZIP) and extracts identical files', () => {
    const files = sample();
    const path = join(dir, 'a.zip');
    writeFileSync(path, zip(files));
    const test = execFileSync('unzip', ['-t', path], { encoding: 'utf8' });
    expect(test).toMatch(/No errors detected/);
    const list = execFileSync('unzip', ['-l', path], { encoding: 'utf8' });
    expect(list).toContain('adapter_model.safetensors');
    expect(list).toContain('1980');
    expect(list).toMatch(/70031\s+4 files/);
    const out = join(dir, 'x');
    execFileSync('unzip', ['-q', path, '-d', out]);
    for (const f of files) expect(new Uint8Array(readFileSync(join(out, f.name)))).toEqual(f.data);
  });

  it.skipIf(!HAS_PYTHON)("is read by Python's zipfile; Python's stored zips are read back; its deflated ones are refused", () => {
    const path = join(dir, 'py.zip');
    writeFileSync(path, zip(sample()));
    const script = `
import sys, zipfile, json
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
print(json.dumps({i.filename: [i.file_size, i.compress_type, i.date_time[0]] for i in z.infolist()}))
for name, method in [('stored.zip', zipfile.ZIP_STORED), ('deflated.zip', zipfile.ZIP_DEFLATED)]:
    with zipfile.ZipFile(sys.argv[2] + '/' + name, 'w', method) as w:
        w.writestr('folder/', '')
        w.writestr('folder/adapter_config.json', '{"r": 8}')
        w.writestr('folder/ü.bin', bytes(range(256)) * 3)
`;
    const info = JSON.parse(execFileSync('python3', ['-c', script, path, dir], { encoding: 'utf8' }));
    expect(info['dossier/modèle ünïcode ✓.md']).toEqual([9, 0, 1980]);
    expect(info['adapter_model.safetensors']).toEqual([70_000, 0, 1980]);

    const stored = unzip(new Uint8Array(readFileSync(join(dir, 'stored.zip'))));
    expect([...stored.keys()]).toEqual(['folder/adapter_config.json', 'folder/ü.bin']);
    expect(new TextDecoder().decode(stored.get('folder/adapter_config.json'))).toBe('{"r": 8}');
    expect(stored.get('folder/ü.bin')?.length).toBe(768);

    const msg = errorOf(() => unzip(new Uint8Array(readFileSync(join(dir, 'deflated.zip')))));
    expect(msg).toContain('"folder/adapter_config.json" is compressed (deflate)');
  });
});
