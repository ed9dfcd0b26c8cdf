import { describe, expect, it } from 'vitest';
import { detectMethod, folderName, promptsOf } from './files.ts';

describe('files', () => {
  it('detects DPO pairs and SFT rows from the first valid line', () => {
    expect(detectMethod('\n{"prompt":"a","chosen":"b","rejected":"c"}')).toBe('dpo');
    expect(detectMethod('not json\n{"messages":[]}')).toBe('sft');
    expect(detectMethod('{"input":{"messages":[]},"preferred_output":[],"non_preferred_output":[]}')).toBe('dpo');
    expect(detectMethod('')).toBeNull();
  });

  it('detects KTO rows by their "label"', () => {
    expect(detectMethod('{"prompt":"a","completion":"b","label":true}')).toBe('kto');
    // a string label is still a KTO row: the reader then reports it by line
    expect(detectMethod('{"prompt":"a","completion":"b","label":"yes"}')).toBe('kto');
  });

  it('finds prompts in string and conversational rows', () => {
    const text = [
      '{"prompt":"What is a fox?","completion":"An animal."}',
      '{"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"}]}',
      '{"prompt":"What is a fox?","completion":"Again."}',
      '{"prompt":"Question: Owl?\\nAnswer:\\n","completion":"A bird."}',
    ].join('\n');
    expect(promptsOf(text, 5)).toEqual(['What is a fox?', 'Hi', 'Question: Owl?\nAnswer:\n']);
  });

  it('names a picked folder by its top directory', () => {
    const f = new Map([
      ['tiny/config.json', new File([], 'config.json')],
      ['tiny/model.safetensors', new File([], 'model.safetensors')],
    ]);
    expect(folderName(f, 'local')).toBe('tiny');
    expect(folderName(new Map([['config.json', new File([], 'config.json')]]), 'local')).toBe('local');
  });
});
