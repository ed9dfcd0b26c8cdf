// OpenAI/Together preference rows <-> TRL's, both ways, with every row that cannot be converted named by line.
import { describe, expect, it } from 'vitest';
import { DatasetError, OPENAI_FORMAT, readDpoDataset } from './formats.ts';
import { convertPreferences } from './preference-formats.ts';

const jsonl = (...rows: unknown[]) => `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`;
const user = (content: string) => ({ role: 'user', content });
const asst = (content: string) => ({ role: 'assistant', content });

const OPENAI = {
  input: { messages: [{ role: 'system', content: 'Be brief.' }, user('Capital of France?')] },
  preferred_output: [asst('Paris.')],
  non_preferred_output: [asst('I think it might be Lyon, or Paris.')],
};
const TRL = {
  prompt: [{ role: 'system', content: 'Be brief.' }, user('Capital of France?')],
  chosen: [asst('Paris.')],
  rejected: [asst('I think it might be Lyon, or Paris.')],
};

describe('OpenAI preference rows', () => {
  it('are read by readDpoDataset as conversational rows, tools kept', () => {
    const tools = [{ type: 'function', function: { name: 'lookup' } }];
    const r = readDpoDataset(jsonl({ ...OPENAI, input: { ...OPENAI.input, tools } }), 'prefs.jsonl');
    expect(r.format).toBe(OPENAI_FORMAT);
    expect(r.rows).toEqual([{ kind: 'conversational', prompt: TRL.prompt, chosen: TRL.chosen, rejected: TRL.rejected, tools }]);
  });

  it('convert to TRL and back unchanged', () => {
    const trl = convertPreferences(jsonl(OPENAI, OPENAI), 'prefs.jsonl', 'trl');
    expect(trl).toEqual({ text: jsonl(TRL, TRL), from: OPENAI_FORMAT, written: 2, rejected: [] });
    const back = convertPreferences(trl.text, 'prefs.trl.jsonl', 'openai');
    expect(back).toEqual({ text: jsonl(OPENAI, OPENAI), from: 'conversational', written: 2, rejected: [] });
  });

  it('refuse bad rows by line, keeping the rest', () => {
    const text = jsonl(
      OPENAI,
      { preferred_output: [asst('a')], non_preferred_output: [asst('b')] },
      { ...OPENAI, input: 'Capital?' },
      { ...OPENAI, preferred_output: [asst('a'), asst('b')] },
      { ...OPENAI, non_preferred_output: [user('b')] },
      { ...OPENAI, non_preferred_output: OPENAI.preferred_output },
      { ...OPENAI, input: { messages: [asst('hi'), { role: 'system', content: 'x' }] } },
      { ...OPENAI, preferred_output: 'Paris.' },
    );
    const r = convertPreferences(text, 'prefs.jsonl', 'trl');
    expect(r.written).toBe(1);
    expect(r.rejected).toEqual([
      { line: 2, reason: 'missing field "input": OpenAI preference rows put the prompt in "input": {"messages": [...]}' },
      { line: 3, reason: 'field "input" is not an object: got a string; expected {"messages": [...]}' },
      { line: 4, reason: 'field "preferred_output" is not one assistant message: got 2 message(s); the format takes exactly one' },
      { line: 5, reason: 'field "non_preferred_output" is not one assistant message: got 1 message(s); the format takes exactly one' },
      { line: 6, reason: 'chosen and rejected are identical' },
      { line: 7, reason: 'prompt ends with a system message: "input.messages" ends with system; end it with the user\'s turn' },
      { line: 8, reason: 'field "preferred_output" is not a list of messages: got a string' },
    ]);
  });
});

describe('TRL rows to OpenAI', () => {
  it('make string prompts and answers into one user and one assistant message', () => {
    const r = convertPreferences(jsonl({ prompt: 'Sky?', chosen: 'Blue.', rejected: 'Green.' }), 'p.jsonl', 'openai');
    expect(JSON.parse(r.text)).toEqual({
      input: { messages: [user('Sky?')] },
      preferred_output: [asst('Blue.')],
      non_preferred_output: [asst('Green.')],
    });
    expect(r.from).toBe('standard');
  });

  it('name each row whose answer is not one assistant message, and write the rest', () => {
    const multi = { ...TRL, chosen: [asst('Let me check.'), { role: 'tool', content: 'Paris' }, asst('Paris.')] };
    const r = convertPreferences(jsonl(TRL, multi, 'not a row'), 'p.jsonl', 'openai');
    expect(r.written).toBe(1);
    expect(r.rejected).toEqual([
      {
        line: 2,
        reason: `"chosen" is not one assistant message: it has 3 message(s) (assistant, tool, assistant); OpenAI's format takes exactly one`,
      },
      { line: 3, reason: 'row is not a JSON object: got a string' },
    ]);
  });

  it('refuse a file with nothing to write, naming every line', () => {
    const multi = { ...TRL, rejected: [asst('a'), asst('b')] };
    const err = (() => {
      try {
        convertPreferences(jsonl(multi, multi), 'p.jsonl', 'openai');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as DatasetError).message).toBe(
      `p.jsonl: no row can be written in OpenAI's preference format: "rejected" is not one assistant message (2 rows: lines 1-2)`,
    );
  });
});
