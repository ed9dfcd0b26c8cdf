import { describe, expect, it } from 'vitest';
import { checkDatasetSize, DatasetEncodingError, decodeDataset, MAX_DATASET_BYTES, parseJsonl } from './jsonl.ts';

describe('parseJsonl', () => {
  it('reads one value per line with 1-based line numbers, skipping blank lines', () => {
    const r = parseJsonl('{"a":1}\n\n  \n[2]\n"three"\n');
    expect(r.rows).toEqual([
      { line: 1, value: { a: 1 } },
      { line: 4, value: [2] },
      { line: 5, value: 'three' },
    ]);
    expect(r.errors).toEqual([]);
  });

  it('accepts a BOM at the start, CRLF line endings, and a last line without a newline', () => {
    const r = parseJsonl('\uFEFF{"a":1}\r\n\r\n{"b":"x\\r"}\r\n{"c":3}');
    expect(r.rows).toEqual([
      { line: 1, value: { a: 1 } },
      { line: 3, value: { b: 'x\r' } },
      { line: 4, value: { c: 3 } },
    ]);
    expect(r.errors).toEqual([]);
  });

  it('reports every bad line with its number and the parser message, and keeps going', () => {
    const r = parseJsonl('{"a":1}\n{"a":\n{"b":2}\n{a: 3}\n{"c":4}');
    expect(r.rows.map((x) => x.line)).toEqual([1, 3, 5]);
    expect(r.errors).toHaveLength(2);
    expect(r.errors[0].line).toBe(2);
    expect(r.errors[1].line).toBe(4);
    for (const e of r.errors) expect(e.reason).toMatch(/^invalid JSON: \S/);
    let message = '';
    try {
      JSON.parse('{a: 3}');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(r.errors[1].reason).toBe(`invalid JSON: ${message}`);
  });

  it('does not split a row on a line separator inside a string, and reports a BOM that is not at the start', () => {
    const r = parseJsonl('{"t":"a\u2028b"}\n\uFEFF{"x":1}');
    expect(r.rows).toEqual([{ line: 1, value: { t: 'a\u2028b' } }]);
    expect(r.errors.map((e) => e.line)).toEqual([2]);
  });

  it('refuses a lone surrogate escape (half a UTF-16 pair) in a value or a key, and keeps a pair and an escaped backslash', () => {
    const r = parseJsonl(
      [
        String.raw`{"prompt":"Hi \ud800 there","completion":" ok"}`,
        String.raw`{"messages":[{"role":"user","content":"x\udfff"}]}`,
        String.raw`{"\udc00":1}`,
        String.raw`{"t":"\ud83d\ude00 and \\ud800 as text"}`,
      ].join('\n'),
    );
    expect(r.rows).toEqual([{ line: 4, value: { t: '\u{1F600} and \\ud800 as text' } }]);
    const reason = (hex: string) =>
      `lone UTF-16 surrogate: \\u${hex} is half of a surrogate pair, not a character (it would be trained as U+FFFD); fix the escape`;
    expect(r.errors).toEqual([
      { line: 1, reason: reason('d800') },
      { line: 2, reason: reason('dfff') },
      { line: 3, reason: reason('dc00') },
    ]);
  });

  it('returns nothing for an empty text', () => {
    expect(parseJsonl('')).toEqual({ rows: [], errors: [] });
    expect(parseJsonl('\n\r\n')).toEqual({ rows: [], errors: [] });
  });
});

describe('decodeDataset: strictly UTF-8, with a size limit', () => {
  const bytes = (...parts: (string | number[])[]) =>
    Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...new TextEncoder().encode(p)] : p)));

  it('decodes UTF-8 as it is (a BOM is left for parseJsonl)', () => {
    expect(decodeDataset('d.jsonl', bytes('{"a":"é"}\n{"b":"✓"}\n'))).toBe('{"a":"é"}\n{"b":"✓"}\n');
  });

  it('names the line and the byte of the first invalid sequence (Latin-1 é, a lone continuation, a cut sequence)', () => {
    expect(() => decodeDataset('d.jsonl', bytes('{"a":1}\n{"a":"caf', [0xe9], '"}\n'))).toThrow(
      'd.jsonl line 2 is not valid UTF-8 (near byte 17 of the file): save the file as UTF-8 and load it again',
    );
    expect(() => decodeDataset('d.jsonl', bytes([0x80], '\n'))).toThrow('d.jsonl line 1 is not valid UTF-8 (near byte 0 of the file)');
    expect(() => decodeDataset('d.jsonl', bytes('ok\nok\n"', [0xe2, 0x9c]))).toThrow('d.jsonl line 3 is not valid UTF-8');
    expect(() => decodeDataset('d.jsonl', bytes('ok\n', [0xff]))).toThrow(DatasetEncodingError);
  });

  it('refuses a file larger than the limit with its size and the limit, before reading it', () => {
    expect(() => checkDatasetSize('big.jsonl', MAX_DATASET_BYTES)).not.toThrow();
    expect(() => checkDatasetSize('big.jsonl', 3 * 1024 ** 3)).toThrow('big.jsonl is 3072 MiB, more than the 256 MiB a dataset may hold');
  });
});
