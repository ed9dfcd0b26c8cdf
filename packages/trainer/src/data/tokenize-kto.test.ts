// KTO rows: unpaired {"prompt","completion","label"} rows, standard and conversational, each bad row refused with its
// line and reason; a DPO file is read as pairs for KTO to unpair; rows tokenised as SFT prompt-completion rows.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DatasetError, type KtoRow, readKtoDataset } from './formats.ts';
import { prepareSft } from './tokenize.ts';
import { prepareKto } from './tokenize-kto.ts';
import { TextTokenizer } from './tokenizer.ts';

const read = (file: string) => JSON.parse(readFileSync(new URL(`../../test/fixtures/llama-gqa-bf16/${file}`, import.meta.url), 'utf8'));

const jsonl = (...rows: unknown[]) => rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n');

describe('readKtoDataset', () => {
  it('reads standard and conversational unpaired rows with their labels', () => {
    const std = readKtoDataset(
      jsonl({ prompt: 'Hi', completion: ' there', label: true }, { prompt: 'Hi', completion: ' go away', label: false }),
      'k.jsonl',
    );
    expect(std.kind).toBe('unpaired');
    expect(std.report.format).toBe('prompt-completion');
    expect(std.report.rows).toEqual([
      { kind: 'prompt-completion', prompt: 'Hi', completion: ' there', label: true },
      { kind: 'prompt-completion', prompt: 'Hi', completion: ' go away', label: false },
    ]);
    const conv = readKtoDataset(
      jsonl({ prompt: [{ role: 'user', content: 'Hi' }], completion: [{ role: 'assistant', content: 'Hello' }], label: false }),
      'k.jsonl',
    );
    expect(conv.report.format).toBe('conversational-prompt-completion');
    expect(conv.report.rows[0]).toMatchObject({ kind: 'conversational-prompt-completion', label: false });
  });

  it('refuses each bad row by line and says why: label not a boolean, missing completion, missing label, a pair', () => {
    const text = jsonl(
      { prompt: 'a', completion: 'b', label: true },
      { prompt: 'a', completion: 'b', label: 'true' },
      { prompt: 'a', label: false },
      { prompt: 'a', completion: 'b' },
      { prompt: 'a', completion: 'b', label: 1 },
      { prompt: 'a', chosen: 'b', rejected: 'c', label: true },
      '{not json',
    );
    const { report } = readKtoDataset(text, 'k.jsonl');
    expect(report.kept).toBe(1);
    expect(report.rejected.map((r) => [r.line, r.reason])).toEqual([
      [2, 'field "label" is not a boolean: got a string; use true (desirable) or false (undesirable), without quotes'],
      [3, 'missing field "completion"'],
      [4, 'missing field "label": true for a desirable answer (thumbs up), false for an undesirable one'],
      [5, 'field "label" is not a boolean: got a number; use true (desirable) or false (undesirable), without quotes'],
      [6, 'row is a preference pair but the file is unpaired KTO rows: give each answer its own row with a "label"'],
      [7, expect.stringContaining('invalid JSON')],
    ]);
  });

  it('names the file and every reason when no row is usable', () => {
    expect(() => readKtoDataset(jsonl({ prompt: 'a', completion: 'b', label: 'yes' }), 'thumbs.jsonl')).toThrow(DatasetError);
    expect(() => readKtoDataset(jsonl({ prompt: 'a', completion: 'b', label: 'yes' }), 'thumbs.jsonl')).toThrow(
      'thumbs.jsonl: no valid KTO rows (1 rejected): field "label" is not a boolean (1 row: line 1).',
    );
  });

  it('reads a DPO file as pairs (KTO unpairs them)', () => {
    const d = readKtoDataset(jsonl({ prompt: 'Q', chosen: ' yes', rejected: ' no' }), 'prefs.jsonl');
    expect(d.kind).toBe('pairs');
    expect(d.report.rows).toEqual([{ kind: 'standard', prompt: 'Q', chosen: ' yes', rejected: ' no' }]);
  });
});

describe('prepareKto', () => {
  const tok = TextTokenizer.fromJson(read('tokenizer.json'), read('tokenizer_config.json'), 'llama-gqa-bf16');
  it('tokenises each row as an SFT prompt-completion row and keeps its label, dropped rows named by line', () => {
    const { report } = readKtoDataset(
      jsonl(
        { prompt: 'Hello', completion: ' world', label: true },
        { prompt: 'x'.repeat(40), completion: 'y', label: false },
        { prompt: 'Hi', completion: ' no', label: false },
      ),
      'k.jsonl',
    );
    const rows = report.rows as KtoRow[];
    const kto = prepareKto(tok, rows, report.lines, 16);
    const sft = prepareSft(
      tok,
      rows.map(({ label: _, ...r }) => r),
      report.lines,
      16,
    );
    expect(kto.examples).toEqual([
      { ...sft.examples[0], label: true },
      { ...sft.examples[1], label: false },
    ]);
    expect(kto.examples.map((e) => e.line)).toEqual([1, 3]);
    expect(kto.dropped).toEqual(sft.dropped);
    expect(kto.dropped[0].line).toBe(2);
  });

  it('keeps a cut completion whole beside its row, for the KL rows (an SFT row does not carry it)', () => {
    const rows: KtoRow[] = [{ kind: 'prompt-completion', prompt: 'Hello', completion: ' world '.repeat(20), label: true }];
    const [e] = prepareKto(tok, rows, [1], 16).examples;
    const whole = prepareKto(tok, rows, [1], 1024).examples[0].seq;
    expect(e.seq.ids).toEqual(whole.ids.slice(0, 16));
    expect(e.seq.fullCompletion).toEqual(whole.ids.slice(whole.completionStart));
    expect(whole.fullCompletion).toBeUndefined(); // not cut: nothing kept twice
    const { label: _, ...sftRow } = rows[0];
    expect(prepareSft(tok, [sftRow], [1], 16).examples[0].seq.fullCompletion).toBeUndefined();
  });
});
