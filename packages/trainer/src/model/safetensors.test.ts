import { describe, expect, it } from 'vitest';
import {
  checkShardIndex,
  parseSafetensors,
  parseShardIndex,
  SafetensorsError,
  type TensorInfo,
  tensorToFloat32,
  weightHalves,
  weightToFloat32,
  writeSafetensors,
} from './safetensors.ts';

/** A raw file: u64 LE header length, the header text (or raw bytes) as given, then `data`. */
function raw(header: unknown, data: Uint8Array | number = 0, headerLenOverride?: bigint): Uint8Array {
  const h = header instanceof Uint8Array ? header : new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const d = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + h.length + d.length);
  new DataView(out.buffer).setBigUint64(0, headerLenOverride ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}

const f32 = (shape: number[], begin: number) => ({
  dtype: 'F32',
  shape,
  data_offsets: [begin, begin + 4 * shape.reduce((a, b) => a * b, 1)],
});
const parseErr = (bytes: Uint8Array, opts?: { maxHeaderBytes?: number }) => {
  try {
    parseSafetensors('model.safetensors', bytes, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(SafetensorsError);
    return (e as Error).message;
  }
  throw new Error('expected a SafetensorsError');
};

describe('writeSafetensors / parseSafetensors', () => {
  it('round-trips tensors, order and metadata, with an 8-byte-aligned data section', () => {
    const a = new Float32Array([1, -2.5, 3e-8, Number.POSITIVE_INFINITY, -0, 6]);
    const b = new Float32Array([42]);
    // Integer-like names sort first in JS objects; the writer must keep the given order anyway.
    const file = writeSafetensors(
      [
        { name: 'z.weight', shape: [2, 3], data: a },
        { name: '10', shape: [], data: b },
        { name: 'empty', shape: [0, 4], data: new Float32Array(0) },
        { name: '2', shape: [1], data: new Float32Array([7]) },
      ],
      { format: 'pt', note: 'ünïcode' },
    );
    const headerLen = Number(new DataView(file.buffer).getBigUint64(0, true));
    expect(headerLen % 8).toBe(0);
    const header = new TextDecoder().decode(file.subarray(8, 8 + headerLen));
    expect(header).toMatch(/^\{"__metadata__":\{.*\}\} *$/);
    expect(header.indexOf('"z.weight"')).toBeLessThan(header.indexOf('"10"'));

    const p = parseSafetensors('out.safetensors', file);
    expect(p.dataOffset).toBe(8 + headerLen);
    expect(p.metadata).toEqual({ format: 'pt', note: 'ünïcode' });
    expect([...p.tensors.keys()]).toEqual(['z.weight', '10', 'empty', '2']);
    expect(p.tensors.get('z.weight')).toEqual({ name: 'z.weight', dtype: 'F32', shape: [2, 3], begin: 0, end: 24 });
    expect(p.tensors.get('empty')).toMatchObject({ begin: 28, end: 28 });
    expect(tensorToFloat32('out', file, p.dataOffset, p.tensors.get('z.weight')!)).toEqual(a);
    expect(Array.from(tensorToFloat32('out', file, p.dataOffset, p.tensors.get('10')!))).toEqual([42]);
    expect(tensorToFloat32('out', file, p.dataOffset, p.tensors.get('empty')!).length).toBe(0);
  });

  it('writes a file with no tensors, and reads one whose header is padded with spaces', () => {
    const p = parseSafetensors('x', writeSafetensors([]));
    expect(p.tensors.size).toBe(0);
    const view = new Float32Array([0, 1, 2, 3]).subarray(1); // writes the view's elements, not its buffer's
    const v = writeSafetensors([{ name: 'v', shape: [3], data: view }]);
    const pv = parseSafetensors('x', v);
    expect(Array.from(tensorToFloat32('x', v, pv.dataOffset, pv.tensors.get('v')!))).toEqual([1, 2, 3]);
    const padded = raw(`{"a":${JSON.stringify(f32([1], 0))}}     `, new Uint8Array(new Float32Array([5]).buffer));
    expect(tensorToFloat32('x', padded, parseSafetensors('x', padded).dataOffset, parseSafetensors('x', padded).tensors.get('a')!)[0]).toBe(
      5,
    );
  });

  it('sorts by offset, so header order does not matter, and accepts __metadata__: null', () => {
    const file = raw({ __metadata__: null, b: f32([1], 4), a: f32([1], 0) }, 8);
    const p = parseSafetensors('x', file);
    expect([...p.tensors.keys()]).toEqual(['a', 'b']);
    expect(p.metadata).toEqual({});
  });
});

describe('tensorToFloat32', () => {
  const one = (dtype: string, bits: number[]) => {
    const data = new Uint8Array(new Uint16Array(bits).buffer);
    const file = raw({ t: { dtype, shape: [bits.length], data_offsets: [0, 2 * bits.length] } }, data);
    const p = parseSafetensors('x', file);
    return tensorToFloat32('x', file, p.dataOffset, p.tensors.get('t')!);
  };

  it('widens BF16 into the high half of f32', () => {
    const r = one('BF16', [0x3f80, 0xc000, 0x7f80, 0xff80, 0x7fc0, 0x0001, 0x8000, 0x4049]);
    expect(Array.from(r.slice(0, 4))).toEqual([1, -2, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    expect(r[4]).toBeNaN();
    expect(r[5]).toBe(2 ** -133); // smallest bf16 subnormal
    expect(Object.is(r[6], -0)).toBe(true);
    expect(r[7]).toBe(3.140625);
  });

  it('decodes every one of the 65536 F16 values exactly (normals, subnormals, zeros, inf, NaN payloads)', () => {
    const all = Array.from({ length: 65536 }, (_, i) => i);
    const r = one('F16', all);
    const bits = new Uint32Array(r.buffer);
    for (const h of all) {
      const sign = h & 0x8000 ? -1 : 1;
      const exp = (h >> 10) & 0x1f;
      const mant = h & 0x3ff;
      if (exp === 31) {
        if (mant === 0) expect(r[h]).toBe(sign * Number.POSITIVE_INFINITY);
        else expect(bits[h]).toBe((((h & 0x8000) << 16) | 0x7f800000 | (mant << 13)) >>> 0); // NaN, payload kept
      } else {
        const v = exp === 0 ? sign * mant * 2 ** -24 : sign * (1 + mant / 1024) * 2 ** (exp - 15);
        if (!Object.is(r[h], v)) expect.fail(`f16 0x${h.toString(16)}: got ${r[h]}, expected ${v}`);
      }
    }
    expect(r[0x0001]).toBe(2 ** -24);
    expect(r[0x03ff]).toBe(1023 * 2 ** -24);
    expect(r[0x7bff]).toBe(65504);
  });

  it('reads F32 from unaligned offsets and from a Uint8Array that is a view into a larger buffer', () => {
    const values = new Float32Array([1.5, -3.25, 1e30]);
    // A 5-byte header puts the data section at offset 13, not a multiple of 4.
    const header = '{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}'.padEnd(61, ' ');
    const file = raw(header, new Uint8Array(values.buffer));
    expect((8 + 61) % 4).not.toBe(0);
    const shifted = new Uint8Array(file.length + 2);
    shifted.set(file, 2);
    const view = shifted.subarray(2);
    const p = parseSafetensors('x', view);
    expect(tensorToFloat32('x', view, p.dataOffset, p.tensors.get('a')!)).toEqual(values);
  });

  it('refuses a byte range outside the buffer, saying what to pass', () => {
    const file = writeSafetensors([{ name: 'w', shape: [2], data: new Float32Array(2) }]);
    const p = parseSafetensors('m.safetensors', file);
    expect(() => tensorToFloat32('m.safetensors', file.subarray(0, file.length - 1), p.dataOffset, p.tensors.get('w')!)).toThrow(
      'm.safetensors: tensor "w": bytes',
    );
    expect(() => tensorToFloat32('m.safetensors', file, p.dataOffset, p.tensors.get('w')!)).not.toThrow();
    expect(() => tensorToFloat32('m.safetensors', file.subarray(0, 10), p.dataOffset, p.tensors.get('w')!)).toThrow(
      /pass the whole file and the dataOffset/,
    );
  });

  it('refuses an info whose shape does not match its byte range, or an unsupported dtype', () => {
    const bytes = new Uint8Array(64);
    const info: TensorInfo = { name: 'w', dtype: 'F32', shape: [3], begin: 0, end: 8 };
    expect(() => tensorToFloat32('m', bytes, 8, info)).toThrow('m: tensor "w": shape [3] does not match its 8 bytes');
    expect(() => tensorToFloat32('m', bytes, 8, { ...info, dtype: 'I64' as never })).toThrow('m: tensor "w": dtype "I64" is not supported');
  });
});

describe('parseSafetensors refuses bad files, naming the file, the tensor and the problem', () => {
  const ok = { a: f32([2], 0) };

  it('a file shorter than 8 bytes', () => {
    expect(parseErr(new Uint8Array(5))).toBe(
      'model.safetensors: the file is 5 bytes, shorter than the 8-byte header length that starts every safetensors file: the file looks truncated: download it again',
    );
  });

  it('a header length over the cap, checked before it is used (default 100 MB, and a 2^63 length)', () => {
    expect(parseErr(raw(ok, 8), { maxHeaderBytes: 16 })).toMatch(
      /^model\.safetensors: the header length field says \d+ bytes, more than the 16-byte limit/,
    );
    expect(parseErr(raw(ok, 8, 2n ** 63n))).toBe(
      `model.safetensors: the header length field says ${2n ** 63n} bytes, more than the 100000000-byte limit: the file is corrupt or was not written by a safetensors library`,
    );
  });

  it('a header length past the end of the file', () => {
    expect(parseErr(raw('{}', 0, 1000n))).toBe(
      'model.safetensors: the header length field says 1000 bytes, but only 2 follow it: the file looks truncated: download it again',
    );
  });

  it('a header that is not UTF-8, not JSON, or not an object', () => {
    expect(parseErr(raw(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])))).toMatch(/^model\.safetensors: the header is not valid UTF-8/);
    expect(parseErr(raw('{"a": '))).toMatch(/^model\.safetensors: the header is not valid JSON \(.+\): the file is corrupt/);
    expect(parseErr(raw('\uFEFF{}'))).toMatch(/the header is not valid JSON/);
    expect(parseErr(raw('[1, 2]'))).toMatch(/^model\.safetensors: the header is a list, not a JSON object/);
  });

  it('__metadata__ that does not map strings to strings', () => {
    expect(parseErr(raw({ __metadata__: ['x'] }))).toBe('model.safetensors: "__metadata__" is a list; it must map strings to strings');
    expect(parseErr(raw({ __metadata__: { total_size: 12 } }))).toBe(
      'model.safetensors: "__metadata__"."total_size" is number 12; metadata values must be strings',
    );
  });

  it('an entry that is not an object, or lacks a string dtype', () => {
    expect(parseErr(raw({ a: 3 }))).toBe(
      'model.safetensors: tensor "a": its header entry is number 3, not an object with dtype, shape and data_offsets',
    );
    expect(parseErr(raw({ a: { shape: [1], data_offsets: [0, 4] } }, 4))).toBe(
      'model.safetensors: tensor "a": "dtype" is missing, not a string such as "F32"',
    );
  });

  it('an unsupported dtype, by name, saying what to do', () => {
    for (const dtype of ['I64', 'F64', 'U8', 'F8_E4M3', 'NOPE']) {
      const msg = parseErr(raw({ ids: { dtype, shape: [1], data_offsets: [0, 8] } }, 8));
      expect(msg).toContain(`model.safetensors: tensor "ids": dtype "${dtype}" is not supported (webtune reads F32, F16 and BF16)`);
      expect(msg).toContain('convert the checkpoint to float32, float16 or bfloat16');
    }
  });

  it('a shape that is not a list of non-negative integers', () => {
    for (const shape of [[-1], [1.5], '3', [1, null]]) {
      expect(parseErr(raw({ a: { dtype: 'F32', shape, data_offsets: [0, 4] } }, 4))).toBe(
        `model.safetensors: tensor "a": "shape" is ${JSON.stringify(shape)}; it must be a list of non-negative integers`,
      );
    }
  });

  it('data_offsets that are not two non-negative integers, or end before they begin', () => {
    for (const offs of [[0], [0, 4, 8], [-4, 0], [0, 4.5], null]) {
      expect(parseErr(raw({ a: { dtype: 'F32', shape: [1], data_offsets: offs } }, 4))).toBe(
        `model.safetensors: tensor "a": "data_offsets" is ${JSON.stringify(offs)}; it must be [begin, end], two non-negative integers`,
      );
    }
    expect(parseErr(raw({ a: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, 4))).toMatch(
      /^model\.safetensors: tensor "a": "data_offsets" \[4, 0\] ends before it begins/,
    );
  });

  it('a byte count that does not match shape x dtype size (and a shape large enough to overflow)', () => {
    expect(parseErr(raw({ a: { dtype: 'BF16', shape: [2, 3], data_offsets: [0, 8] } }, 8))).toBe(
      'model.safetensors: tensor "a": shape [2, 3] of BF16 needs 12 bytes, but "data_offsets" [0, 8] hold 8: the file is corrupt or was not written by a safetensors library',
    );
    const huge = 2 ** 40;
    expect(parseErr(raw({ a: { dtype: 'F32', shape: [huge, huge, 0x4000], data_offsets: [0, 0] } }))).toMatch(
      /needs 79228162514264337593543950336 bytes/,
    );
  });

  it('a range past the end of the data section (truncated file)', () => {
    expect(parseErr(raw({ a: f32([4], 0) }, 8))).toBe(
      'model.safetensors: tensor "a": its bytes 0..16 run past the end of the 8-byte data section: the file looks truncated: download it again',
    );
  });

  it('overlapping ranges', () => {
    expect(parseErr(raw({ a: f32([2], 0), b: f32([2], 4) }, 12))).toBe(
      'model.safetensors: tensor "b": its bytes 4..12 overlap those of tensor "a" (which end at 8): the file is corrupt or was not written by a safetensors library',
    );
  });

  it('a gap between ranges, or a first range not at 0', () => {
    expect(parseErr(raw({ a: f32([1], 0), b: f32([1], 8) }, 12))).toBe(
      'model.safetensors: tensor "b": there is a gap of 4 unused bytes before it (at 4..8): the file is corrupt or was not written by a safetensors library',
    );
    expect(parseErr(raw({ a: f32([1], 4) }, 8))).toMatch(
      /^model\.safetensors: tensor "a": there is a gap of 4 unused bytes before it \(at 0\.\.4\)/,
    );
  });

  it('bytes trailing after the last tensor', () => {
    expect(parseErr(raw(ok, 9))).toBe(
      "model.safetensors: 1 bytes trail after the last tensor's data (which ends at 8 of 9): the file is corrupt or was not written by a safetensors library",
    );
    expect(parseErr(raw({}, 4))).toMatch(/4 bytes trail after the last tensor/);
  });
});

describe('writeSafetensors refuses what it cannot write', () => {
  const t = (name: string, shape: number[], n: number) => ({ name, shape, data: new Float32Array(n) });
  it('duplicate or reserved names, bad shapes, data of the wrong length, non-string metadata', () => {
    expect(() => writeSafetensors([t('a', [1], 1), t('a', [1], 1)])).toThrow('writeSafetensors: tensor "a": the name appears twice');
    expect(() => writeSafetensors([t('__metadata__', [1], 1)])).toThrow('tensor "__metadata__": the name "__metadata__" is reserved');
    expect(() => writeSafetensors([t('a', [-1], 1)])).toThrow(
      'writeSafetensors: tensor "a": shape [-1] is not a list of non-negative integers',
    );
    expect(() => writeSafetensors([t('a', [2, 2], 3)])).toThrow('writeSafetensors: tensor "a": shape [2, 2] has 4 elements but data has 3');
    expect(() => writeSafetensors([], { n: 1 as unknown as string })).toThrow(
      'writeSafetensors: metadata "n" is number 1; metadata values must be strings',
    );
  });
});

describe('parseShardIndex', () => {
  const F = 'model.safetensors.index.json';
  it('maps tensors to shards and lists each shard once, sorted', () => {
    const idx = parseShardIndex(
      F,
      JSON.stringify({
        metadata: { total_size: 123 },
        weight_map: {
          'lm_head.weight': 'model-00002-of-00002.safetensors',
          'model.norm.weight': 'model-00001-of-00002.safetensors',
          x: 'model-00002-of-00002.safetensors',
        },
      }),
    );
    expect(idx.shards).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(idx.weightMap.get('lm_head.weight')).toBe('model-00002-of-00002.safetensors');
    expect(idx.weightMap.size).toBe(3);
  });

  it('refuses invalid JSON, a non-object, a missing or empty weight_map, bad metadata, bad shard names', () => {
    const err = (json: string) => {
      try {
        parseShardIndex(F, json);
      } catch (e) {
        expect(e).toBeInstanceOf(SafetensorsError);
        return (e as Error).message;
      }
      throw new Error('expected a SafetensorsError');
    };
    expect(err('{"weight_map": ')).toMatch(/^model\.safetensors\.index\.json: not valid JSON \(/);
    expect(err('[]')).toBe(`${F}: the index is a list, not a JSON object with "weight_map"`);
    expect(err('{"metadata": {}}')).toBe(`${F}: "weight_map" is missing; it must map each tensor name to its shard file`);
    expect(err('{"weight_map": {}}')).toBe(`${F}: "weight_map" is empty: the index lists no tensors`);
    expect(err('{"metadata": "x", "weight_map": {"a": "s"}}')).toBe(`${F}: "metadata" is string "x", not an object`);
    expect(err('{"weight_map": {"a": 3}}')).toBe(`${F}: tensor "a": its shard is number 3, not a file name`);
    expect(err('{"weight_map": {"a": ""}}')).toBe(`${F}: tensor "a": its shard is string "", not a file name`);
    expect(err('{"weight_map": {"a": "../../etc/passwd"}}')).toBe(
      `${F}: tensor "a": its shard "../../etc/passwd" is not a file beside the index`,
    );
    expect(err('{"weight_map": {"a": "/abs.safetensors"}}')).toBe(
      `${F}: tensor "a": its shard "/abs.safetensors" is not a file beside the index`,
    );
  });
});

describe('what JSON.parse accepts and the reference crate refuses', () => {
  it('a tensor named twice in the header (JSON.parse would keep the last silently)', () => {
    const header = `{"w":${JSON.stringify(f32([1], 0))},"w":${JSON.stringify(f32([1], 4))}}`;
    expect(parseErr(raw(header, 8))).toBe(
      `model.safetensors: tensor "w": the header names it twice: ${'the file is corrupt or was not written by a safetensors library'}`,
    );
  });

  it('a shape or offset written as a float (2.0, 1e0), while whole numbers, escapes and metadata pass', () => {
    expect(parseErr(raw('{"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}', 8))).toContain(
      'tensor "w": its header writes 2.0 where shape and data_offsets take integers (2, no point or exponent)',
    );
    expect(parseErr(raw('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8e0]}}', 8))).toContain('its header writes 8e0 where');
    const ok = raw('{"__metadata__":{"format":"pt","n":"1.5"},"a\\"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', 8);
    expect([...parseSafetensors('m', ok).tensors.keys()]).toEqual(['a"b']);
  });
});

describe('weightToFloat32: weights to compute with are finite', () => {
  const file = (values: number[]) =>
    writeSafetensors([{ name: 'model.norm.weight', shape: [values.length], data: new Float32Array(values) }]);
  const decode = (bytes: Uint8Array) => {
    const p = parseSafetensors('model.safetensors', bytes);
    return weightToFloat32('model.safetensors', bytes, p.dataOffset, p.tensors.get('model.norm.weight')!);
  };

  it('refuses NaN and infinities, naming the tensor, the first element and how many', () => {
    expect(() => decode(file([1, 2, Number.NaN, 4, Number.POSITIVE_INFINITY]))).toThrow(
      'model.safetensors: tensor "model.norm.weight": holds NaN at element 2 of 5 (2 non-finite in all): the weights are damaged',
    );
    expect(() => decode(file([Number.NEGATIVE_INFINITY]))).toThrow('holds -Infinity at element 0 of 1 (1 non-finite in all)');
    expect(Array.from(decode(file([1, -0, Math.fround(3e38)])))).toEqual([1, -0, Math.fround(3e38)]);
  });
});

describe('weightHalves: packed BF16/F16 weights, as they are and finite', () => {
  const file = (dtype: 'BF16' | 'F16', halves: number[]) =>
    raw(
      { 'model.embed_tokens.weight': { dtype, shape: [halves.length], data_offsets: [0, 2 * halves.length] } },
      new Uint8Array(Uint16Array.from(halves).buffer),
    );
  const halvesOf = (dtype: 'BF16' | 'F16', halves: number[]) => {
    const bytes = file(dtype, halves);
    const p = parseSafetensors('model.safetensors', bytes);
    return weightHalves('model.safetensors', bytes, p.dataOffset, p.tensors.get('model.embed_tokens.weight')!);
  };

  it('copies the 16-bit patterns unchanged (signed zero, subnormals, the largest finite values)', () => {
    const bf16 = [0x3f80, 0x8000, 0x0001, 0x7f7f, 0xff7f];
    const f16 = [0x3c00, 0x8000, 0x0001, 0x7bff, 0xfbff];
    expect(Array.from(halvesOf('BF16', bf16))).toEqual(bf16);
    expect(Array.from(halvesOf('F16', f16))).toEqual(f16);
  });

  it('refuses NaN and infinities as weightToFloat32 does, naming the tensor, the first element and how many', () => {
    // bf16: 0x7fc0 NaN, 0xff80 -inf; f16: 0x7c00 +inf, 0x7e00 NaN
    expect(() => halvesOf('BF16', [0x3f80, 0x7fc0, 0x4000, 0xff80])).toThrow(
      'model.safetensors: tensor "model.embed_tokens.weight": holds NaN at element 1 of 4 (2 non-finite in all): the weights are damaged',
    );
    expect(() => halvesOf('F16', [0x3c00, 0x3c00, 0x7c00, 0x7e00])).toThrow('holds Infinity at element 2 of 4 (2 non-finite in all)');
    expect(() => halvesOf('F16', [0xfc00])).toThrow('holds -Infinity at element 0 of 1 (1 non-finite in all)');
  });

  it('refuses an F32 tensor by name: only halves are kept packed', () => {
    const bytes = writeSafetensors([{ name: 'w', shape: [1], data: new Float32Array([1]) }]);
    const p = parseSafetensors('m', bytes);
    expect(() => weightHalves('m', bytes, p.dataOffset, p.tensors.get('w')!)).toThrow('m: tensor "w": is F32, not BF16 or F16');
  });
});

describe('checkShardIndex', () => {
  const shard = (...names: string[]) =>
    parseSafetensors('shard', writeSafetensors(names.map((name) => ({ name, shape: [1], data: new Float32Array([1]) }))));
  const shards = new Map([
    ['model-00001-of-00002.safetensors', shard('a', 'b')],
    ['model-00002-of-00002.safetensors', shard('c')],
  ]);
  const index = (c: string) =>
    new Map([
      ['a', 'model-00001-of-00002.safetensors'],
      ['b', 'model-00001-of-00002.safetensors'],
      ['c', c],
    ]);

  it('passes an index that matches its shards', () => {
    expect(() => checkShardIndex('model.safetensors.index.json', index('model-00002-of-00002.safetensors'), shards)).not.toThrow();
  });

  it('refuses a tensor mapped to the wrong shard, or to a shard that does not hold it', () => {
    expect(() => checkShardIndex('model.safetensors.index.json', index('model-00001-of-00002.safetensors'), shards)).toThrow(
      'model.safetensors.index.json: tensor "c": the index maps it to model-00001-of-00002.safetensors, but it is in model-00002-of-00002.safetensors',
    );
    const missing = new Map([...index('model-00002-of-00002.safetensors'), ['d', 'model-00002-of-00002.safetensors']]);
    expect(() => checkShardIndex('model.safetensors.index.json', missing, shards)).toThrow(
      'tensor "d": the index maps it to model-00002-of-00002.safetensors, which does not hold it',
    );
  });
});
