import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type DpoRow, type Message, readDpoDataset, readSftDataset, type SftRow } from './formats.ts';
import { prepareDpo, prepareSft } from './tokenize.ts';
import { TextTokenizer, TokenizerError } from './tokenizer.ts';

const read = (name: string, file: string) =>
  JSON.parse(readFileSync(new URL(`../../test/fixtures/${name}/${file}`, import.meta.url), 'utf8'));
const load = (name: string, config: Record<string, unknown> = {}) =>
  TextTokenizer.fromJson(read(name, 'tokenizer.json'), { ...read(name, 'tokenizer_config.json'), ...config }, name);

// Llama fixture: BOS <s> 296 (add_bos_token true), EOS </s> 297, pad 298, ChatML template starting with {{ bos_token }}.
const llama = load('llama-gqa-bf16');
// Qwen2 fixture: no BOS, EOS <|im_end|> 294, pad <|endoftext|> 292, template adding a default system message.
const qwen = load('qwen2-bias-f16');
const LLAMA_EOS = 297;
const QWEN_EOS = 294;

const user = (content: string): Message => ({ role: 'user', content });
const asst = (content: string): Message => ({ role: 'assistant', content });
const sys = (content: string): Message => ({ role: 'system', content });
const jsonl = (...rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n');

// Golden encodings (golden.json encode_cases; the same for every fixture's byte-level BPE).
const HELLO = 'Hello world!';
const HELLO_IDS = [72, 101, 108, 108, 111, 270, 111, 114, 108, 100, 33];
const ANSWERED = 'The assistant answered the question.';
const ANSWERED_IDS = [291, 289, 271, 272, 260, 32, 113, 117, 101, 115, 286, 111, 110, 46];

describe('prepareSft', () => {
  it('prompt-completion: prompt and completion tokenised apart, no BOS, EOS appended', () => {
    const rows: SftRow[] = [{ kind: 'prompt-completion', prompt: HELLO, completion: ANSWERED }];
    for (const [tok, eos] of [
      [llama, LLAMA_EOS],
      [qwen, QWEN_EOS],
    ] as const) {
      const r = prepareSft(tok, rows, [7], 64);
      expect(r.examples).toEqual([{ line: 7, seq: { ids: [...HELLO_IDS, ...ANSWERED_IDS, eos], completionStart: HELLO_IDS.length } }]);
      expect(r.promptLengths).toEqual([11]);
      expect(r.lengths).toEqual([26]);
      expect(r.truncated).toBe(0);
      expect(r.dropped).toEqual([]);
    }
  });

  it('prompt-completion: separately, not jointly (a word split across the boundary stays split)', () => {
    const r = prepareSft(llama, [{ kind: 'prompt-completion', prompt: 'Hello ', completion: 'world!' }], [1], 64);
    const seq = r.examples[0].seq;
    // Jointly, " w" is one token (270); apart, the space ends the prompt and "w" starts the completion.
    expect(seq).toEqual({ ids: [72, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100, 33, LLAMA_EOS], completionStart: 6 });
    expect(seq.ids.slice(0, -1)).not.toEqual(HELLO_IDS);
  });

  it('conversational prompt-completion: prompt with the generation prompt, completion = the rest of the rendering', () => {
    const rows: SftRow[] = [{ kind: 'conversational-prompt-completion', prompt: [user('Hi')], completion: [asst('Yes.')] }];
    const l = prepareSft(llama, rows, [3], 64).examples[0].seq;
    // <s><|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n  |  Yes.<|im_end|>\n  </s>
    expect(l).toEqual({
      ids: [296, 299, 117, 115, 259, 10, 72, 105, 300, 10, 299, 97, 115, 285, 10, 89, 101, 115, 46, 300, 10, LLAMA_EOS],
      completionStart: 15,
    });
    expect(llama.decode(l.ids.slice(0, l.completionStart))).toBe('<s><|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    expect(llama.decode(l.ids.slice(l.completionStart))).toBe('Yes.<|im_end|>\n</s>');
    const q = prepareSft(qwen, rows, [3], 64).examples[0].seq;
    expect(qwen.decode(q.ids.slice(0, q.completionStart))).toBe(
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    );
    // Qwen's EOS is <|im_end|>: TRL appends it after the template's own <|im_end|>\n.
    expect(q.ids.slice(q.completionStart)).toEqual([89, 101, 115, 46, 294, 10, QWEN_EOS]);
    expect(q.completionStart).toBe(39);
  });

  it('conversational prompt ending with an assistant turn: continued, as TRL does (continue_final_message)', () => {
    const rows: SftRow[] = [{ kind: 'conversational-prompt-completion', prompt: [user('Hi'), asst('Well')], completion: [asst(', yes.')] }];
    const s = prepareSft(llama, rows, [1], 128).examples[0].seq;
    expect(llama.decode(s.ids.slice(0, s.completionStart))).toBe('<s><|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nWell');
    expect(llama.decode(s.ids.slice(s.completionStart))).toBe('<|im_end|>\n<|im_start|>assistant\n, yes.<|im_end|>\n</s>');
  });

  it('messages: prompt = everything before the last assistant message, completion = that message', () => {
    const messages = [sys('Be brief.'), user('Hi'), asst('Hello!'), user('Bye'), asst('Bye.')];
    const s = prepareSft(llama, [{ kind: 'messages', messages }], [5], 128).examples[0].seq;
    const prompt = llama.applyChatTemplate(messages.slice(0, 4), { addGenerationPrompt: true });
    expect(prompt).toBe(
      '<s><|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(s).toEqual({
      ids: [...llama.encode(prompt), ...llama.encode('Bye.<|im_end|>\n'), LLAMA_EOS],
      completionStart: llama.encode(prompt).length,
    });
    // Two assistant turns in a row: the prompt still ends with the generation prompt, the loss covers the last one.
    const twice = prepareSft(llama, [{ kind: 'messages', messages: [user('a'), asst('b'), asst('c')] }], [1], 128).examples[0].seq;
    expect(llama.decode(twice.ids.slice(twice.completionStart))).toBe('c<|im_end|>\n</s>');
    // A conversation of one assistant message has an empty conversation as prompt.
    const alone = prepareSft(qwen, [{ kind: 'messages', messages: [asst('Hi')] }], [1], 128).examples[0].seq;
    expect(qwen.decode(alone.ids.slice(0, alone.completionStart))).toBe(
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(qwen.decode(alone.ids.slice(alone.completionStart))).toBe('Hi<|im_end|>\n<|im_end|>');
  });

  it('text: empty prompt, completion = the text + EOS, no BOS', () => {
    const r = prepareSft(llama, [{ kind: 'text', text: HELLO }], [2], 64);
    expect(r.examples).toEqual([{ line: 2, seq: { ids: [...HELLO_IDS, LLAMA_EOS], completionStart: 0 } }]);
    expect(r.promptLengths).toEqual([0]);
    expect(r.lengths).toEqual([12]);
  });

  it('reads every format end to end from JSONL, keeping source lines', () => {
    const text = jsonl({ text: HELLO }, { text: ANSWERED });
    const report = readSftDataset(`\n${text}`, 'train.jsonl');
    const r = prepareSft(qwen, report.rows, report.lines, 64);
    expect(r.examples.map((e) => e.line)).toEqual([2, 3]);
    expect(r.examples[1].seq.ids).toEqual([...ANSWERED_IDS, QWEN_EOS]);
  });

  it('truncates to max_length keeping the start, and counts it', () => {
    const rows: SftRow[] = [
      { kind: 'prompt-completion', prompt: HELLO, completion: ANSWERED },
      { kind: 'text', text: ANSWERED },
      { kind: 'text', text: 'Hi' },
    ];
    const r = prepareSft(llama, rows, [1, 2, 3], 13);
    expect(r.examples.map((e) => e.seq)).toEqual([
      { ids: [...HELLO_IDS, ...ANSWERED_IDS.slice(0, 2)], completionStart: 11 },
      { ids: ANSWERED_IDS.slice(0, 13), completionStart: 0 },
      { ids: [72, 105, LLAMA_EOS], completionStart: 0 },
    ]);
    expect(r.truncated).toBe(2);
    expect(r.lengths).toEqual([13, 13, 3]);
    expect(r.fullLengths).toEqual([11 + ANSWERED_IDS.length + 1, ANSWERED_IDS.length + 1, 3]); // + EOS, before the cut
    expect(r.promptLengths).toEqual([11, 0, 0]);
    // One completion token left is enough.
    expect(prepareSft(llama, [rows[0]], [1], 12).examples[0].seq.ids).toEqual([...HELLO_IDS, 291]);
  });

  it('drops rows whose prompt fills max_length, or that keep no completion token, with line and reason', () => {
    const rows: SftRow[] = [
      { kind: 'prompt-completion', prompt: HELLO, completion: ANSWERED }, // prompt 11 tokens
      { kind: 'text', text: 'ok' },
      { kind: 'prompt-completion', prompt: ANSWERED, completion: '!' }, // prompt 14 tokens
    ];
    const r = prepareSft(llama, rows, [4, 9, 12], 11);
    expect(r.examples.map((e) => e.line)).toEqual([9]);
    expect(r.dropped).toEqual([
      { line: 4, reason: 'prompt fills max_length: the prompt is 11 tokens and max_length is 11, so no completion token would remain' },
      { line: 12, reason: 'prompt fills max_length: the prompt is 14 tokens and max_length is 11, so no completion token would remain' },
    ]);
    expect(r.promptLengths).toEqual([0]);
    expect(r.lengths).toEqual([3]);
    const one = prepareSft(llama, [{ kind: 'text', text: 'ok' }], [6], 1);
    expect(one.examples).toEqual([]);
    expect(one.dropped).toEqual([
      { line: 6, reason: 'completion is empty after truncation: max_length 1 leaves no completion token to learn from' },
    ]);
  });

  it('drops rows the chat template cannot split or render', () => {
    // This template closes the conversation differently when no generation prompt is asked for.
    const odd = load('llama-gqa-bf16', {
      chat_template: "{% for m in messages %}[{{ m['content'] }}]{% endfor %}{% if add_generation_prompt %}>{% else %}.{% endif %}",
    });
    const r = prepareSft(odd, [{ kind: 'conversational-prompt-completion', prompt: [user('q')], completion: [asst('a')] }], [8], 64);
    expect(r.examples).toEqual([]);
    expect(r.dropped).toEqual([
      {
        line: 8,
        reason:
          'chat template of prompt + completion does not start with the prompt: the prompt renders as "[q]>" but prompt + completion as "[q][a]."; TRL cannot split this template either',
      },
    ]);
    const strict = load('llama-gqa-bf16', {
      chat_template:
        "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{{ m['content'] }}{% endfor %}",
    });
    const s = prepareSft(
      strict,
      [
        { kind: 'messages', messages: [sys('s'), user('q'), asst('a')] },
        { kind: 'messages', messages: [user('q'), asst('a')] },
      ],
      [1, 2],
      64,
    );
    expect(s.examples.map((e) => e.line)).toEqual([2]);
    expect(s.dropped).toEqual([{ line: 1, reason: 'chat template failed: System role not supported' }]);
  });

  it('needs a chat template for conversational rows only', () => {
    const plain = load('llama-gqa-bf16', { chat_template: null });
    expect(prepareSft(plain, [{ kind: 'text', text: 'hi' }], [1], 8).examples).toHaveLength(1);
    const message =
      'llama-gqa-bf16/tokenizer_config.json: no "chat_template": conversational rows (lists of messages) are rendered with the chat template; use a chat/instruct checkpoint, add its template to tokenizer_config.json, or give prompt and completion as plain strings';
    for (const row of [
      { kind: 'messages', messages: [user('q'), asst('a')] },
      { kind: 'conversational-prompt-completion', prompt: [user('q')], completion: [asst('a')] },
    ] as SftRow[]) {
      expect(() => prepareSft(plain, [row], [1], 8)).toThrow(TokenizerError);
      expect(() => prepareSft(plain, [row], [1], 8)).toThrow(message);
    }
  });

  it('rejects bad arguments', () => {
    expect(() => prepareSft(llama, [{ kind: 'text', text: 'a' }], [], 8)).toThrow('1 rows but 0 line numbers');
    expect(() => prepareSft(llama, [], [], 0)).toThrow('max_length must be a positive integer, got 0');
    expect(() => prepareSft(llama, [], [], 2.5)).toThrow('max_length must be a positive integer, got 2.5');
  });

  it('refuses a messages row without an assistant message (the reader never passes one on)', () => {
    expect(() => prepareSft(llama, [{ kind: 'messages', messages: [user('q')] }], [1], 8)).toThrow(
      'a "messages" row without an assistant message reached tokenisation',
    );
  });

  it('checks every token id is below the tokenizer size', () => {
    const broken = { encode: () => [5, 999], eosTokenId: 3, size: 100, hasChatTemplate: false } as unknown as TextTokenizer;
    expect(() => prepareSft(broken, [{ kind: 'text', text: 'x' }], [1], 8)).toThrow("token id 999 is outside the tokenizer's 100 ids");
  });
});

describe('prepareDpo', () => {
  it('standard: one prompt, chosen and rejected each + EOS, no BOS', () => {
    const rows: DpoRow[] = [{ kind: 'standard', prompt: HELLO, chosen: ANSWERED, rejected: 'Hi' }];
    const r = prepareDpo(llama, rows, [4], 64);
    expect(r.examples).toEqual([
      {
        line: 4,
        chosen: { ids: [...HELLO_IDS, ...ANSWERED_IDS, LLAMA_EOS], completionStart: 11 },
        rejected: { ids: [...HELLO_IDS, 72, 105, LLAMA_EOS], completionStart: 11 },
      },
    ]);
    expect(r.promptLengths).toEqual([11]);
    expect(r.lengths).toEqual([26, 14]);
  });

  it('implicit prompt (after extract_prompt): the shared prefix is the prompt, the space stays with the answers', () => {
    const report = readDpoDataset(jsonl({ chosen: 'The sky is blue.', rejected: 'The sky is green.' }), 'prefs.jsonl');
    expect(report.rows).toEqual([{ kind: 'standard', prompt: 'The sky is', chosen: ' blue.', rejected: ' green.' }]);
    const r = prepareDpo(qwen, report.rows, report.lines, 64);
    expect(r.examples).toEqual([
      {
        line: 1,
        chosen: { ids: [291, 32, 115, 107, 121, 277, 275, 108, 117, 101, 46, QWEN_EOS], completionStart: 6 },
        rejected: { ids: [291, 32, 115, 107, 121, 277, 32, 103, 263, 273, 46, QWEN_EOS], completionStart: 6 },
      },
    ]);
  });

  it('conversational: the chat template renders prompt, chosen and rejected as TRL does', () => {
    const rows: DpoRow[] = [{ kind: 'conversational', prompt: [user('Hi')], chosen: [asst('Yes.')], rejected: [asst('No')] }];
    const r = prepareDpo(llama, rows, [2], 64);
    const prompt = [296, 299, 117, 115, 259, 10, 72, 105, 300, 10, 299, 97, 115, 285, 10];
    expect(r.examples).toEqual([
      {
        line: 2,
        chosen: { ids: [...prompt, 89, 101, 115, 46, 300, 10, LLAMA_EOS], completionStart: 15 },
        rejected: { ids: [...prompt, ...llama.encode('No<|im_end|>\n'), LLAMA_EOS], completionStart: 15 },
      },
    ]);
    expect(llama.decode(r.examples[0].rejected.ids.slice(15))).toBe('No<|im_end|>\n</s>');
  });

  it('conversational implicit prompt (after extract_prompt), ending with an assistant turn that is continued', () => {
    const chosen = [user('Hi'), asst('Hello!'), user('Bye'), asst('Bye.')];
    const rejected = [user('Hi'), asst('Hello!'), user('Stay'), asst('No.')];
    const report = readDpoDataset(jsonl({ chosen, rejected }), 'prefs.jsonl');
    expect(report.format).toBe('conversational (implicit prompt)');
    const r = prepareDpo(qwen, report.rows, report.lines, 128);
    const { chosen: c, rejected: x } = r.examples[0];
    const promptText =
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!';
    expect(qwen.decode(c.ids.slice(0, c.completionStart))).toBe(promptText);
    expect(c.ids.slice(0, c.completionStart)).toEqual(qwen.encode(promptText));
    expect(x.ids.slice(0, x.completionStart)).toEqual(qwen.encode(promptText));
    expect(qwen.decode(c.ids.slice(c.completionStart))).toBe(
      '<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\nBye.<|im_end|>\n<|im_end|>',
    );
    expect(qwen.decode(x.ids.slice(x.completionStart))).toBe(
      '<|im_end|>\n<|im_start|>user\nStay<|im_end|>\n<|im_start|>assistant\nNo.<|im_end|>\n<|im_end|>',
    );
    expect(c.ids.at(-1)).toBe(QWEN_EOS);
  });

  it('truncates chosen and rejected apart keeping the start, counting the pair once', () => {
    const rows: DpoRow[] = [
      { kind: 'standard', prompt: HELLO, chosen: ANSWERED, rejected: 'Hi' },
      { kind: 'standard', prompt: 'Q', chosen: 'A', rejected: 'B' },
    ];
    const r = prepareDpo(llama, rows, [1, 2], 13);
    expect(r.examples[0].chosen.ids).toEqual([...HELLO_IDS, 291, 289]);
    expect(r.examples[0].rejected.ids).toEqual([...HELLO_IDS, 72, 105]);
    expect(r.examples[1].chosen.ids).toEqual([81, 65, LLAMA_EOS]);
    expect(r.truncated).toBe(1);
    expect(r.lengths).toEqual([13, 13, 3, 3]);
    expect(r.fullLengths).toEqual([11 + ANSWERED_IDS.length + 1, 14, 3, 3]);
    expect(r.promptLengths).toEqual([11, 1]);
  });

  it('drops pairs whose prompt fills max_length, and pairs the template cannot split, with lines', () => {
    const rows: DpoRow[] = [
      { kind: 'standard', prompt: HELLO, chosen: 'a', rejected: 'b' },
      { kind: 'standard', prompt: 'Q', chosen: 'a', rejected: 'b' },
    ];
    const r = prepareDpo(llama, rows, [3, 5], 10);
    expect(r.examples.map((e) => e.line)).toEqual([5]);
    expect(r.dropped).toEqual([
      { line: 3, reason: 'prompt fills max_length: the prompt is 11 tokens and max_length is 10, so no completion token would remain' },
    ]);
    const odd = load('qwen2-bias-f16', {
      chat_template: "{% for m in messages %}[{{ m['content'] }}]{% endfor %}{% if add_generation_prompt %}>{% endif %}",
    });
    const c = prepareDpo(odd, [{ kind: 'conversational', prompt: [user('q')], chosen: [asst('a')], rejected: [asst('b')] }], [6], 64);
    expect(c.dropped).toEqual([
      {
        line: 6,
        reason:
          'chat template of prompt + completion does not start with the prompt: the prompt renders as "[q]>" but prompt + completion as "[q][a]"; TRL cannot split this template either',
      },
    ]);
  });

  it('needs a chat template for conversational rows', () => {
    const plain = load('qwen2-bias-f16', { chat_template: null });
    expect(() =>
      prepareDpo(plain, [{ kind: 'conversational', prompt: [user('q')], chosen: [asst('a')], rejected: [asst('b')] }], [1], 64),
    ).toThrow(
      'qwen2-bias-f16/tokenizer_config.json: no "chat_template": conversational rows (lists of messages) are rendered with the chat template; use a chat/instruct checkpoint, add its template to tokenizer_config.json, or give prompt and completion as plain strings',
    );
    expect(prepareDpo(plain, [{ kind: 'standard', prompt: 'q', chosen: 'a', rejected: 'b' }], [1], 64).examples).toHaveLength(1);
  });

  it('rejects bad arguments', () => {
    expect(() => prepareDpo(llama, [], [1], 8)).toThrow('0 rows but 1 line numbers');
    expect(() => prepareDpo(llama, [], [], -1)).toThrow('max_length must be a positive integer, got -1');
  });
});
