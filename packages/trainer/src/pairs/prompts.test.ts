import { describe, expect, it } from 'vitest';
import { PairsError } from './errors.ts';
import { readPromptsFile } from './prompts.ts';

const jsonl = (...rows: unknown[]) => rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n');
const user = (content: string) => ({ role: 'user', content });
const asst = (content: string) => ({ role: 'assistant', content });

describe('readPromptsFile', () => {
  it('reads plain lines, skipping blank ones, CRLF and BOM taken off', () => {
    expect(readPromptsFile('\ufeffWhat is a fox?\r\n\r\n  Name a bird.\n', 'p.txt')).toEqual([
      { line: 1, prompt: 'What is a fox?' },
      { line: 3, prompt: '  Name a bird.' },
    ]);
  });

  it('makes plain prompts user messages with chat', () => {
    expect(readPromptsFile('Hi\n', 'p.txt', { chat: true })).toEqual([{ line: 1, prompt: [user('Hi')] }]);
  });

  it('reads prompt rows and SFT rows, keeping their answers as references', () => {
    expect(readPromptsFile(jsonl({ prompt: 'Q: fox?\nA:' }, { prompt: 'Q: owl?\nA:', completion: ' A bird.' }), 'p.jsonl')).toEqual([
      { line: 1, prompt: 'Q: fox?\nA:' },
      { line: 2, prompt: 'Q: owl?\nA:', reference: ' A bird.' },
    ]);
    const conv = readPromptsFile(
      jsonl(
        { messages: [user('Hi'), asst('Hello!')] },
        { prompt: [user('Sky?')], completion: [asst('Blue.')] },
        { messages: [user('Bye')] },
      ),
      'sft.jsonl',
    );
    expect(conv).toEqual([
      { line: 1, prompt: [user('Hi')], reference: 'Hello!' },
      { line: 2, prompt: [user('Sky?')], reference: 'Blue.' },
      { line: 3, prompt: [user('Bye')] },
    ]);
  });

  it('refuses bad rows by line, naming every bad line, and writes nothing', () => {
    const text = jsonl({ prompt: 'ok' }, { text: 'x' }, 'not json', { prompt: [asst('a')] }, { prompt: '  ' }, 5);
    expect(() => readPromptsFile(text, 'p.jsonl')).toThrow(
      new PairsError(
        'p.jsonl line 2: no prompt: expected a "prompt" or "messages" field (and 4 more lines: 2, 3, 4, 5, 6). ' +
          'Each line must be {"prompt": "<text>"}, {"prompt": [messages]}, or an SFT row',
      ),
    );
    expect(() => readPromptsFile(jsonl({ messages: [user('a'), asst('b'), { role: 'system', content: 'c' }] }), 'p.jsonl')).toThrow(
      'p.jsonl line 1: the conversation must end with a user message for the model to answer (it ends with system).',
    );
    expect(() => readPromptsFile(jsonl({ messages: 'hi' }), 'p.jsonl')).toThrow(
      'p.jsonl line 1: field "messages" is not a list of messages: got a string.',
    );
  });

  it('refuses an empty file and a file mixing text and conversations', () => {
    expect(() => readPromptsFile('\n \n', 'p.txt')).toThrow(new PairsError('p.txt: no prompts: the file is empty'));
    expect(() => readPromptsFile(jsonl({ prompt: 'a' }, { prompt: [user('b')] }), 'p.jsonl')).toThrow(
      new PairsError(
        "p.jsonl line 2: this prompt is a conversation but line 1's is text: every prompt of a file must be one or the other (pairs made from them form one DPO file)",
      ),
    );
  });
});
