import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { crc32, unzip, ZipError, zip, zipStream } from './zip.ts';

const enc = new TextEncoder();
const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
const HAS_UNZIP = has('unzip', ['-v']);
const HAS_PYTHON = has('python3', ['-c', 'import zipfile, lzma']);
const HAS_ZIP = has('zip', ['-v']);
if (!HAS_UNZIP) process.stderr.write('SKIPPED zip.test.ts `unzip` checks: no unzip on PATH (apt-get install unzip)\n');
if (!HAS_PYTHON) process.stderr.write('SKIPPED zip.test.ts python3 zipfile checks: no python3 (with lzma) on PATH\n');
if (!HAS_ZIP) process.stderr.write('SKIPPED zip.test.ts `zip -r` check: no zip on PATH (apt-get install zip)\n');

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

/** Patch the central directory record of entry `name` (the reader trusts the directory for sizes, CRC and method). */
function patchEntry(bytes: Uint8Array, name: string, patch: (view: DataView, record: number) => void): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  const count = view.getUint16(out.length - 22 + 10, true);
  let pos = view.getUint32(out.length - 22 + 16, true);
  for (let i = 0; i < count; i++) {
    const nameLen = view.getUint16(pos + 28, true);
    if (new TextDecoder().decode(out.subarray(pos + 46, pos + 46 + nameLen)) === name) {
      patch(view, pos);
      return out;
    }
    pos += 46 + nameLen + view.getUint16(pos + 30, true) + view.getUint16(pos + 32, true);
  }
  throw new Error(`no entry ${name}`);
}

/**
 * Made by Python's zipfile (3.12), deflated like the zips of the OS and `zip -r`, with a directory entry and a
 * stored entry beside the deflated ones:
 *   def info(name, method):
 *       i = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)); i.compress_type = method
 *       i.external_attr = 0o644 << 16; return i
 *   with zipfile.ZipFile(buf, 'w') as z:
 *       z.writestr(info('adapter/', zipfile.ZIP_STORED), '')
 *       z.writestr(info('adapter/adapter_config.json', zipfile.ZIP_DEFLATED), '{"peft_type": "LORA", "r": 8, "lora_alpha": 16}\n' * 4)
 *       z.writestr(info('adapter/ü.bin', zipfile.ZIP_DEFLATED), bytes(range(256)) * 3)
 *       z.writestr(info('adapter/README.md', zipfile.ZIP_STORED), '# stored\n')
 *   base64.b64encode(buf.getvalue())
 */
const PYTHON_DEFLATED = Uint8Array.from(
  Buffer.from(
    'UEsDBBQAAAAAAAAAIVgAAAAAAAAAAAAAAAAIAAAAYWRhcHRlci9QSwMEFAAAAAgAAAAhWF9KYkcyAAAAwAAAABsAAABhZGFwdGVyL2FkYXB0ZXJfY29uZmln' +
      'Lmpzb26rVipITSuJL6ksSFWyUlDy8Q9yVNJRUCoCciyAdE5+UWJ8Yk5BRiJQwNCslqt6kKkHAFBLAwQUAAAICAAAACFYKt/AsBYBAAAAAwAADgAAAGFkYXB0' +
      'ZXIvw7wuYmluY2BkYmZhZWPn4OTi5uHl4xcQFBIWERUTl5CUkpaRlZNXUFRSVlFVU9fQ1NLW0dXTNzA0MjYxNTO3sLSytrG1s3dwdHJ2cXVz9/D08vbx9fMP' +
      'CAwKDgkNC4+IjIqOiY2LT0hMSk5JTUvPyMzKzsnNyy8oLCouKS0rr6isqq6pratvaGxqbmlta+/o7Oru6e3rnzBx0uQpU6dNnzFz1uw5c+fNX7Bw0eIlS5ct' +
      'X7Fy1eo1a9et37Bx0+YtW7dt37Fz1+49e/ftP3Dw0OEjR48dP3Hy1OkzZ8+dv3Dx0uUrV69dv3Hz1u07d+/df/Dw0eMnT589f/Hy1es3b9+9//Dx0+cvX799' +
      '//Hz1+8/f//9Zxj1/4j2PwBQSwMEFAAAAAAAAAAhWAKLPJwJAAAACQAAABEAAABhZGFwdGVyL1JFQURNRS5tZCMgc3RvcmVkClBLAQIUAxQAAAAAAAAAIVgA' +
      'AAAAAAAAAAAAAAAIAAAAAAAAAAAAAACkAQAAAABhZGFwdGVyL1BLAQIUAxQAAAAIAAAAIVhfSmJHMgAAAMAAAAAbAAAAAAAAAAAAAACkASYAAABhZGFwdGVy' +
      'L2FkYXB0ZXJfY29uZmlnLmpzb25QSwECFAMUAAAICAAAACFYKt/AsBYBAAAAAwAADgAAAAAAAAAAAAAApAGRAAAAYWRhcHRlci/DvC5iaW5QSwECFAMUAAAA' +
      'AAAAACFYAos8nAkAAAAJAAAAEQAAAAAAAAAAAAAApAHTAQAAYWRhcHRlci9SRUFETUUubWRQSwUGAAAAAAQABAD6AAAACwIAAAAA',
    'base64',
  ),
);
const CONFIG_TEXT = '{"peft_type": "LORA", "r": 8, "lora_alpha": 16}\n'.repeat(4);

async function rejectionOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ZipError);
    return (e as Error).message;
  }
  throw new Error('expected a ZipError');
}

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

  it('reads the deflated archives ordinary zip tools make (a Python zipfile fixture)', async () => {
    const files = await unzip(PYTHON_DEFLATED, { inflate: true });
    expect([...files.keys()]).toEqual(['adapter/adapter_config.json', 'adapter/ü.bin', 'adapter/README.md']);
    expect(new TextDecoder().decode(files.get('adapter/adapter_config.json'))).toBe(CONFIG_TEXT);
    const bin = new Uint8Array(768);
    for (let i = 0; i < bin.length; i++) bin[i] = i % 256;
    expect(files.get('adapter/ü.bin')).toEqual(bin);
    expect(new TextDecoder().decode(files.get('adapter/README.md'))).toBe('# stored\n');
    // Stored archives read the same either way.
    const ours = await unzip(zip(sample()), { inflate: true });
    for (const f of sample()) expect(ours.get(f.name)).toEqual(f.data);
    // The synchronous read cannot inflate, and says how to.
    expect(errorOf(() => unzip(PYTHON_DEFLATED))).toContain('"adapter/adapter_config.json" is compressed (deflate)');
  });

  it('checks a deflated entry: corrupt data, wrong size, wrong CRC-32, each naming the file', async () => {
    const dataAt = 30 + 8 + 30 + 'adapter/adapter_config.json'.length; // after the directory entry and this local header
    const flipped = PYTHON_DEFLATED.slice();
    flipped[dataAt + 5] ^= 0xff;
    expect(await rejectionOf(unzip(flipped, { inflate: true }))).toMatch(/^"adapter\/adapter_config\.json" .*corrupt/);
    const bigger = patchEntry(PYTHON_DEFLATED, 'adapter/adapter_config.json', (v, at) =>
      v.setUint32(at + 24, v.getUint32(at + 24, true) + 1, true),
    );
    expect(await rejectionOf(unzip(bigger, { inflate: true }))).toBe(
      '"adapter/adapter_config.json" holds 192 bytes where the archive says 193: the archive is corrupt (download or copy it again)',
    );
    const smaller = patchEntry(PYTHON_DEFLATED, 'adapter/ü.bin', (v, at) => v.setUint32(at + 24, 700, true));
    expect(await rejectionOf(unzip(smaller, { inflate: true }))).toBe(
      '"adapter/ü.bin" holds more than the 700 bytes the archive says: the archive is corrupt (download or copy it again)',
    );
    const crc = patchEntry(PYTHON_DEFLATED, 'adapter/ü.bin', (v, at) => v.setUint32(at + 16, v.getUint32(at + 16, true) ^ 1, true));
    expect(await rejectionOf(unzip(crc, { inflate: true }))).toMatch(/^"adapter\/ü\.bin" fails its CRC-32 check/);
  });

  it('refuses other compression methods, encryption and ZIP64, naming the file and saying what to do', async () => {
    const bzip2 = patchEntry(PYTHON_DEFLATED, 'adapter/ü.bin', (v, at) => v.setUint16(at + 10, 12, true));
    const msg = await rejectionOf(unzip(bzip2, { inflate: true }));
    expect(msg).toContain('"adapter/ü.bin" is compressed with bzip2, which webtune cannot read');
    expect(msg).toMatch(/Zip the folder again with ordinary compression/);
    expect(msg).toMatch(/import the folder’s files instead/);
    expect(errorOf(() => unzip(patchEntry(zip(sample()), 'empty.txt', (v, at) => v.setUint16(at + 10, 99, true))))).toContain(
      '"empty.txt" is compressed with method 99',
    );
    const locked = patchEntry(PYTHON_DEFLATED, 'adapter/README.md', (v, at) => v.setUint16(at + 8, v.getUint16(at + 8, true) | 1, true));
    expect(await rejectionOf(unzip(locked, { inflate: true }))).toMatch(/^"adapter\/README\.md" is encrypted; .*without one/);
    const huge = patchEntry(PYTHON_DEFLATED, 'adapter/ü.bin', (v, at) => v.setUint32(at + 24, 0xffffffff, true));
    expect(await rejectionOf(unzip(huge, { inflate: true }))).toMatch(/^"adapter\/ü\.bin" uses ZIP64 .*import the folder’s files instead/);
  });

  it('refuses an archive whose structure does not hold together, each part by name, with what to do', () => {
    const bytes = zip(sample());
    const damaged = '(download or copy it again, or zip the folder again)';
    const end = bytes.length - 22;
    const patched = (patch: (view: DataView) => void) => {
      const out = bytes.slice();
      patch(new DataView(out.buffer));
      return out;
    };
    const cd = new DataView(bytes.buffer).getUint32(end + 16, true);
    expect(errorOf(() => unzip(patched((v) => v.setUint16(end + 4, 1, true))))).toBe(
      'the archive is split over several files (multi-disk); join it into one first',
    );
    expect(errorOf(() => unzip(patched((v) => v.setUint32(end + 12, 1e6, true))))).toMatch(
      /^the central directory \(\d+\.\.\d+\) runs past its end record: the archive is truncated or corrupt \(download/,
    );
    expect(errorOf(() => unzip(patched((v) => v.setUint32(cd, 0, true))))).toBe(
      `central directory entry 1 of 4 is missing or corrupt: the archive is truncated or corrupt ${damaged}`,
    );
    const longName = patchEntry(bytes, 'dossier/modèle ünïcode ✓.md', (v, at) => v.setUint16(at + 28, 0xffff, true));
    expect(errorOf(() => unzip(longName))).toBe(
      `central directory entry 4 runs past the end of the archive: the archive is truncated or corrupt ${damaged}`,
    );
    const noLocal = patchEntry(bytes, 'empty.txt', (v, at) => v.setUint32(at + 42, 1, true));
    expect(errorOf(() => unzip(noLocal))).toBe(
      `"empty.txt": its local header at byte 1 is missing: the archive is truncated or corrupt ${damaged}`,
    );
    const tooLong = patchEntry(bytes, 'adapter_config.json', (v, at) => {
      v.setUint32(at + 20, 1e6, true);
      v.setUint32(at + 24, 1e6, true);
    });
    expect(errorOf(() => unzip(tooLong))).toMatch(
      /^"adapter_config\.json": its 1000000 bytes at \d+ run into the central directory: the archive is truncated or corrupt \(download/,
    );
    const twice = zip([
      { name: 'a.txt', data: enc.encode('first') },
      { name: 'b.txt', data: enc.encode('second') },
    ]);
    const renamed = patchEntry(twice, 'b.txt', (v, at) => v.setUint8(at + 46, 'a'.charCodeAt(0)));
    expect(errorOf(() => unzip(renamed))).toBe(
      '"a.txt" appears twice in the archive, so which one to read is unclear: zip the folder again',
    );
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

  it.skipIf(!HAS_PYTHON)(
    "is read by Python's zipfile, and reads Python's stored and deflated zips; names what it cannot read",
    async () => {
      const path = join(dir, 'py.zip');
      writeFileSync(path, zip(sample()));
      const script = `
import sys, zipfile, json
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
print(json.dumps({i.filename: [i.file_size, i.compress_type, i.date_time[0]] for i in z.infolist()}))
for name, method in [('stored.zip', zipfile.ZIP_STORED), ('deflated.zip', zipfile.ZIP_DEFLATED), ('lzma.zip', zipfile.ZIP_LZMA)]:
    with zipfile.ZipFile(sys.argv[2] + '/' + name, 'w', method) as w:
        w.writestr('folder/', '')
        w.writestr('folder/adapter_config.json', '{"r": 8}')
        w.writestr('folder/ü.bin', bytes(range(256)) * 3)
`;
      const info = JSON.parse(execFileSync('python3', ['-c', script, path, dir], { encoding: 'utf8' }));
      expect(info['dossier/modèle ünïcode ✓.md']).toEqual([9, 0, 1980]);
      expect(info['adapter_model.safetensors']).toEqual([70_000, 0, 1980]);

      for (const name of ['stored.zip', 'deflated.zip']) {
        const files = await unzip(new Uint8Array(readFileSync(join(dir, name))), { inflate: true });
        expect([...files.keys()], name).toEqual(['folder/adapter_config.json', 'folder/ü.bin']);
        expect(new TextDecoder().decode(files.get('folder/adapter_config.json'))).toBe('{"r": 8}');
        expect(files.get('folder/ü.bin')?.length).toBe(768);
      }
      const msg = await rejectionOf(unzip(new Uint8Array(readFileSync(join(dir, 'lzma.zip'))), { inflate: true }));
      expect(msg).toContain('"folder/adapter_config.json" is compressed with LZMA');
    },
  );

  it.skipIf(!HAS_ZIP)('reads what Info-ZIP `zip -r` makes of a folder (deflated)', async () => {
    const folder = join(dir, 'made-by-zip');
    const files = sample();
    for (const f of files) {
      mkdirSync(dirname(join(folder, 'adapter', f.name)), { recursive: true });
      writeFileSync(join(folder, 'adapter', f.name), f.data);
    }
    execFileSync('zip', ['-q', '-r', 'adapter.zip', 'adapter'], { cwd: folder });
    const bytes = new Uint8Array(readFileSync(join(folder, 'adapter.zip')));
    expect(errorOf(() => unzip(bytes))).toMatch(/is compressed \(deflate\)/); // so it is deflated
    const got = await unzip(bytes, { inflate: true });
    for (const f of files) expect(got.get(`adapter/${f.name}`), f.name).toEqual(f.data);
  });
});

/** `files` as streamed entries that hand their bytes over in chunks of `chunk` bytes. */
const streamed = (files: { name: string; data: Uint8Array }[], chunk = 4096) =>
  files.map(({ name, data }) => ({
    name,
    size: data.length,
    async write(sink: { write(c: Uint8Array): Promise<void> | void }) {
      for (let at = 0; at < data.length; at += chunk) await sink.write(data.subarray(at, at + chunk));
    },
  }));

async function collect(archive: ReturnType<typeof zipStream>): Promise<Uint8Array> {
  const out = new Uint8Array(archive.size);
  let pos = 0;
  await archive.write({
    write(c) {
      out.set(c, pos);
      pos += c.length;
    },
  });
  expect(pos).toBe(archive.size);
  return out;
}

describe('zipStream', () => {
  it('announces its exact size and writes entries with data descriptors that unzip reads back', async () => {
    const files = sample();
    const bytes = await collect(zipStream(streamed(files)));
    const out = unzip(bytes);
    expect([...out.keys()]).toEqual(files.map((f) => f.name));
    for (const f of files) expect(out.get(f.name)).toEqual(f.data);
    const view = new DataView(bytes.buffer);
    expect(view.getUint16(6, true)).toBe(0x0808); // UTF-8 names, data descriptor
    expect(view.getUint32(14, true)).toBe(0); // the CRC-32 comes after the data
    // 16 bytes more per entry than the in-memory writer: the descriptors.
    expect(bytes.length).toBe(zip(files).length + 16 * files.length);
  });

  it.skipIf(!HAS_UNZIP)('passes `unzip -t` (Info-ZIP)', async () => {
    const path = join(dir, 'streamed.zip');
    writeFileSync(path, await collect(zipStream(streamed(sample(), 1000))));
    expect(execFileSync('unzip', ['-t', path], { encoding: 'utf8' })).toMatch(/No errors detected/);
  });

  it.skipIf(!HAS_PYTHON)("is read by Python's zipfile, CRC-32 checked", async () => {
    const path = join(dir, 'streamed-py.zip');
    writeFileSync(path, await collect(zipStream(streamed(sample(), 777))));
    const script = `
import sys, zipfile, json
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
print(json.dumps({i.filename: [i.file_size, i.compress_type, i.flag_bits & 8] for i in z.infolist()}))
`;
    const info = JSON.parse(execFileSync('python3', ['-c', script, path], { encoding: 'utf8' }));
    expect(info['adapter_model.safetensors']).toEqual([70_000, 0, 8]);
    expect(info['empty.txt']).toEqual([0, 0, 8]);
  });

  it('refuses an entry that writes another byte count than it announced, and an archive past 4 GiB', async () => {
    const [file] = sample();
    const short = { ...streamed([file])[0], size: file.data.length + 1 };
    expect(await rejectionOf(zipStream([short]).write({ write() {} }))).toBe(
      `"adapter_config.json" wrote ${file.data.length} bytes, announced ${file.data.length + 1}`,
    );
    const long = { ...streamed([file])[0], size: 3 };
    expect(await rejectionOf(zipStream([long]).write({ write() {} }))).toBe(
      '"adapter_config.json" wrote more than the 3 bytes it announced',
    );
    const big = (name: string) => ({ name, size: 2 ** 31, write: async () => {} });
    expect(errorOf(() => zipStream([big('a.gguf'), big('b.gguf')]))).toMatch(/would be 4\.00 GiB; a ZIP without ZIP64 holds under 4 GiB/);
    expect(errorOf(() => zipStream([big('a'), big('a')]))).toBe('"a" appears twice');
  });
});
