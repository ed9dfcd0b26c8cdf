import { describe, expect, it } from 'vitest';
import { parseJsonl } from './jsonl.ts';

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

  it('returns nothing for an empty text', () => {
    expect(parseJsonl('')).toEqual({ rows: [], errors: [] });
    expect(parseJsonl('\n\r\n')).toEqual({ rows: [], errors: [] });
  });
});
