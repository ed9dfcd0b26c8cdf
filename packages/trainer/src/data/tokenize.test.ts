import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type DpoRow, type Message, readDpoDataset, readSftDataset, type SftRow } from './formats.ts';
import { lossSpans, lossTokenCount, prepareDpo, prepareSft } from './tokenize.ts';
import { TextTokenizer, TokenizerError } from './tokenizer.ts';

const read = (name: string, file: string) =>
  JSON.parse(readFileSync(new URL(`../../test/fixtures/${name}/${file}`, import.meta.url), 'utf8'));
const load = (name: string, config: Record<string, unknown> = {}) =>
  TextTokenizer.fromJson(read(name, 'tokenizer.json'), { ...read(name, 'tokenizer_config.json'), ...config }, name);

// Llama fixture: its post-processor prepends BOS <s> 296; EOS </s> 297; ChatML template starting with {{ bos_token }}.
const llama = load('llama-gqa-bf16');
// Qwen2 fixture: no BOS, EOS <|im_end|> 294, template adding a default system message.
const qwen = load('qwen2-bias-f16');
const BOS = 296;
const LLAMA_EOS = 297;
const QWEN_EOS = 294;

const user = (content: string): Message => ({ role: 'user', content });
const asst = (content: string): Message => ({ role: 'assistant', content });
const sys = (content: string): Message => ({ role: 'system', content });
const jsonl = (...rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n');

// Golden encodings (golden.json encode_cases; the same for every fixture's byte-level BPE).
const HELLO = 'Hello world!';
const HELLO_IDS = [72, 101, 108, 108, 111, 270, 111, 114, 108, 100, 33];
const ANSWERED = ' The assistant answered the question.';
const ANSWERED_IDS = [32, ...[291, 289, 271, 272, 260, 32, 113, 117, 101, 115, 286, 111, 110, 46]];

describe('prepareSft', () => {
  it('prompt-completion: tokenizer(prompt) and tokenizer(prompt + completion + EOS) with the special tokens, completion = the rest', () => {
    const rows: SftRow[] = [{ kind: 'prompt-completion', prompt: HELLO, completion: ANSWERED }];
    const l = prepareSft(llama, rows, [7], 64);
    expect(l.examples).toEqual([{ line: 7, seq: { ids: [BOS, ...HELLO_IDS, ...ANSWERED_IDS, LLAMA_EOS], completionStart: 12 } }]);
    expect(l.promptLengths).toEqual([12]);
    expect(l.lengths).toEqual([28]);
    expect(l.dropped).toEqual([]);
    // Qwen adds no BOS; its EOS is <|im_end|>, written as text and tokenised as the special token.
    const q = prepareSft(qwen, rows, [7], 64).examples[0].seq;
    expect(q).toEqual({ ids: [...HELLO_IDS, ...ANSWERED_IDS, QWEN_EOS], completionStart: 11 });
    // A completion that already ends with the EOS text gets no second one.
    const ended = prepareSft(qwen, [{ kind: 'prompt-completion', prompt: HELLO, completion: `${ANSWERED}<|im_end|>` }], [1], 64);
    expect(ended.examples[0].seq).toEqual(q);
  });

  it('refuses a row whose prompt does not tokenise as a prefix (TRL warns and masks by length), unless the prompt is in the loss', () => {
    // Jointly " w" is one token (270); the prompt alone ends with the space (32).
    const rows: SftRow[] = [{ kind: 'prompt-completion', prompt: 'Hello ', completion: 'world!' }];
    const r = prepareSft(llama, rows, [3], 64);
    expect(r.examples).toEqual([]);
    expect(r.dropped).toEqual([
      {
        line: 3,
        reason:
          'prompt tokens are not a prefix of prompt + completion: they differ at token 6, where the prompt ends " " but prompt + completion goes on " world!</s>" (a token spans the boundary: the end of the prompt merges with the start of the completion); move the boundary, e.g. begin the completion with the space that ends the prompt',
      },
    ]);
    const all = prepareSft(llama, rows, [3], 64, { completionOnlyLoss: false });
    expect(all.examples).toEqual([{ line: 3, seq: { ids: [BOS, ...HELLO_IDS, LLAMA_EOS], completionStart: 0 } }]);
    expect(lossTokenCount(all.examples[0].seq)).toBe(12); // every token but the first, which nothing predicts
  });

  it('conversational prompt-completion: the prompt with the generation prompt, the whole conversation without, no EOS added', () => {
    const rows: SftRow[] = [{ kind: 'conversational-prompt-completion', prompt: [user('Hi')], completion: [asst('Yes.')] }];
    const l = prepareSft(llama, rows, [3], 64).examples[0].seq;
    expect(l).toEqual({
      ids: [296, 299, 117, 115, 259, 10, 72, 105, 300, 10, 299, 97, 115, 285, 10, 89, 101, 115, 46, 300, 10],
      completionStart: 15,
    });
    expect(llama.decode(l.ids.slice(0, l.completionStart))).toBe('<s><|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    expect(llama.decode(l.ids.slice(l.completionStart))).toBe('Yes.<|im_end|>\n');
    const q = prepareSft(qwen, rows, [3], 64).examples[0].seq;
    expect(qwen.decode(q.ids.slice(0, q.completionStart))).toBe(
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(q.ids.slice(q.completionStart)).toEqual([89, 101, 115, 46, QWEN_EOS, 10]);
  });

  it('conversational prompt ending with an assistant or tool turn: the completion is a new turn, as TRL f2cd577 renders it', () => {
    // sft_trainer.py tokenize_fn: the prompt with add_generation_prompt=True whatever its last role (never
    // continue_final_message), so the earlier assistant turn is closed and the loss starts at the new one.
    const rows: SftRow[] = [
      { kind: 'conversational-prompt-completion', prompt: [user('Hi'), asst('Well')], completion: [asst(', yes.')] },
      { kind: 'conversational-prompt-completion', prompt: [user('Hi'), { role: 'tool', content: '42' }], completion: [asst('It is 42.')] },
    ];
    const [a, t] = prepareSft(llama, rows, [1, 2], 128).examples.map((e) => e.seq);
    expect(llama.decode(a.ids.slice(0, a.completionStart))).toBe(
      '<s><|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nWell<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(llama.decode(a.ids.slice(a.completionStart))).toBe(', yes.<|im_end|>\n');
    expect(llama.decode(t.ids.slice(0, t.completionStart))).toBe(
      '<s><|im_start|>user\nHi<|im_end|>\n<|im_start|>tool\n42<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(llama.decode(t.ids.slice(t.completionStart))).toBe('It is 42.<|im_end|>\n');
  });

  it('messages: the loss covers every assistant turn (assistant_only_loss), or the whole conversation', () => {
    const messages = [sys('Be brief.'), user('Hi'), asst('Hello!'), user('Bye'), asst('Bye.')];
    const s = prepareSft(llama, [{ kind: 'messages', messages }], [5], 128).examples[0].seq;
    const whole = llama.encode(llama.applyChatTemplate(messages, { addGenerationPrompt: false }));
    expect(s.ids).toEqual(whole);
    const turns = (s.lossSpans ?? []).map(([a, b]) => llama.decode(s.ids.slice(a, b)));
    expect(turns).toEqual(['Hello!<|im_end|>\n', 'Bye.<|im_end|>\n']);
    expect(s.completionStart).toBe(s.lossSpans?.[0][0]);
    expect(lossTokenCount(s)).toBe(llama.encode('Hello!<|im_end|>\nBye.<|im_end|>\n').length);
    const full = prepareSft(llama, [{ kind: 'messages', messages }], [5], 128, { assistantOnlyLoss: false }).examples[0].seq;
    expect(full).toEqual({ ids: whole, completionStart: 0 });
  });

  it('messages: refuses a conversation whose earlier turns render differently later on, naming the way out', () => {
    // Like Qwen3's template: only the last assistant turn shows its (empty) reasoning block.
    const thinking = load('qwen2-bias-f16', {
      chat_template:
        "{% for m in messages %}<{{ m.role }}>{% if m.role == 'assistant' and loop.last %}<think></think>{% endif %}{{ m.content }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}",
    });
    const r = prepareSft(thinking, [{ kind: 'messages', messages: [user('a'), asst('b'), user('c'), asst('d')] }], [4], 128);
    expect(r.examples).toEqual([]);
    expect(r.dropped[0].line).toBe(4);
    expect(r.dropped[0].reason).toMatch(
      /^prompt tokens are not a prefix of prompt \+ completion: the conversation through assistant message 2 renders as ".*", which does not start the whole conversation .* \(the template renders earlier turns differently once later ones follow, as Qwen3's drops their <think> blocks; .*\); train this dataset with --assistant-only-loss false \(loss on the whole conversation\), or use a template with {% generation %} markers$/,
    );
    expect(
      prepareSft(thinking, [{ kind: 'messages', messages: [user('a'), asst('b'), user('c'), asst('d')] }], [4], 128, {
        assistantOnlyLoss: false,
      }).examples,
    ).toHaveLength(1);
  });

  it("messages: a template's own {% generation %} blocks are the assistant turns, as TRL reads them", () => {
    const marked = load('qwen2-bias-f16', {
      chat_template:
        "{% for m in messages %}[{{ m.role }}]\n{% if m.role == 'assistant' %}{% generation %}{{ m.content }}.\n{% endgeneration %}{% else %}{{ m.content }}\n{% endif %}{% endfor %}",
    });
    const r = prepareSft(marked, [{ kind: 'messages', messages: [user('a'), asst('b'), user('c'), asst('d')] }], [1], 128);
    const seq = r.examples[0].seq;
    expect(lossSpans(seq).map(([a, b]) => marked.decode(seq.ids.slice(a, b)))).toEqual(['b.\n', 'd.\n']);
    expect(marked.decode(seq.ids)).toBe('[user]\na\n[assistant]\nb.\n[user]\nc\n[assistant]\nd.\n');
  });

  it('text: tokenizer(text + EOS) with the special tokens, all of it in the loss', () => {
    const r = prepareSft(llama, [{ kind: 'text', text: HELLO }], [2], 64);
    expect(r.examples).toEqual([{ line: 2, seq: { ids: [BOS, ...HELLO_IDS, LLAMA_EOS], completionStart: 0 } }]);
    expect(r.promptLengths).toEqual([0]);
    expect(lossTokenCount(r.examples[0].seq)).toBe(12);
  });

  it('passes the tools and chat_template_kwargs columns to the template', () => {
    const tok = load('qwen2-bias-f16', {
      chat_template:
        '{% if tools %}{% for t in tools %}[{{ t.name }}]{% endfor %}{% endif %}{% if think is defined and not think %}(no think){% endif %}{% for m in messages %}{{ m.content }}{% endfor %}',
    });
    const report = readSftDataset(
      jsonl({ messages: [user('q'), asst('a')], tools: [{ name: 'get_time' }], chat_template_kwargs: { think: false } }),
      'tools.jsonl',
    );
    const seq = prepareSft(tok, report.rows, report.lines, 64).examples[0].seq;
    expect(tok.decode(seq.ids)).toBe('[get_time](no think)qa');
  });

  it('truncates to max_length keeping the start, and counts it', () => {
    const rows: SftRow[] = [
      { kind: 'prompt-completion', prompt: HELLO, completion: ANSWERED },
      { kind: 'text', text: 'Hi' },
    ];
    const r = prepareSft(qwen, rows, [1, 2], 13);
    expect(r.examples.map((e) => e.seq)).toEqual([
      { ids: [...HELLO_IDS, ...ANSWERED_IDS.slice(0, 2)], completionStart: 11 },
      { ids: [72, 105, QWEN_EOS], completionStart: 0 },
    ]);
    expect(r.truncated).toBe(1);
    expect(r.lengths).toEqual([13, 3]);
    expect(r.fullLengths).toEqual([11 + ANSWERED_IDS.length + 1, 3]);
    // Loss spans of a messages row are cut with it.
    const m = prepareSft(llama, [{ kind: 'messages', messages: [user('Hi'), asst('Hello!'), user('Bye'), asst('Bye.')] }], [1], 20);
    expect(m.examples[0].seq.lossSpans).toEqual([[15, 20]]);
  });

  it('drops rows whose prompt fills max_length, or that keep no completion token, with line and reason', () => {
    const rows: SftRow[] = [
      { kind: 'prompt-completion', prompt: HELLO, completion: ANSWERED }, // prompt 11 tokens
      { kind: 'text', text: 'ok' },
    ];
    const r = prepareSft(qwen, rows, [4, 9], 11);
    expect(r.examples.map((e) => e.line)).toEqual([9]);
    expect(r.dropped).toEqual([
      { line: 4, reason: 'prompt fills max_length: the prompt is 11 tokens and max_length is 11, so no completion token would remain' },
    ]);
    expect(r.fullLengths).toEqual([3]);
    const one = prepareSft(qwen, [{ kind: 'text', text: 'ok' }], [6], 1);
    expect(one.dropped).toEqual([
      { line: 6, reason: 'completion is empty after truncation: max_length 1 leaves no completion token to learn from' },
    ]);
  });

  it('drops rows the chat template raises on, or cannot render, with its message', () => {
    const strict = load('llama-gqa-bf16', {
      chat_template:
        "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{{ m['content'] }}{% endfor %}",
    });
    const rows: SftRow[] = [
      { kind: 'messages', messages: [sys('s'), user('q'), asst('a')] },
      { kind: 'messages', messages: [user('q'), asst('a')] },
    ];
    const s = prepareSft(strict, rows, [1, 2], 64);
    expect(s.examples.map((e) => e.line)).toEqual([2]);
    expect(s.dropped).toEqual([{ line: 1, reason: 'chat template raised an error: the chat template raised: System role not supported' }]);
    const broken = load('llama-gqa-bf16', { chat_template: '{{ messages[0].content.nosuchmethod() }}' });
    expect(prepareSft(broken, [rows[1]], [3], 64).dropped[0].reason).toMatch(
      /^chat template failed: llama-gqa-bf16\/tokenizer_config.json: the chat template cannot render these messages \(.+\)$/,
    );
  });

  it('refuses a template it cannot read, naming the file', () => {
    const bad = load('llama-gqa-bf16', { chat_template: '{% for m in messages %}{{ m.content }' });
    expect(() => prepareSft(bad, [{ kind: 'messages', messages: [user('q'), asst('a')] }], [1], 64)).toThrow(
      /^llama-gqa-bf16\/tokenizer_config.json: the chat template cannot be read \(.+\); this template syntax is not supported/,
    );
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

  it('rejects bad arguments, and ids beyond the tokenizer', () => {
    expect(() => prepareSft(llama, [{ kind: 'text', text: 'a' }], [], 8)).toThrow('1 rows but 0 line numbers');
    expect(() => prepareSft(llama, [], [], 0)).toThrow('max_length must be a positive integer, got 0');
    const broken = { encode: () => [5, 999], eosToken: '</s>', size: 100, hasChatTemplate: false } as unknown as TextTokenizer;
    expect(() => prepareSft(broken, [{ kind: 'text', text: 'x' }], [1], 8)).toThrow("token id 999 is outside the tokenizer's 100 ids");
  });
});

describe('prepareDpo', () => {
  it('standard: prompt, prompt + chosen + EOS and prompt + rejected + EOS, each with the special tokens', () => {
    const rows: DpoRow[] = [{ kind: 'standard', prompt: HELLO, chosen: ANSWERED, rejected: ' Hi' }];
    const r = prepareDpo(llama, rows, [4], 64);
    expect(r.examples).toEqual([
      {
        line: 4,
        chosen: { ids: [BOS, ...HELLO_IDS, ...ANSWERED_IDS, LLAMA_EOS], completionStart: 12 },
        rejected: { ids: [BOS, ...HELLO_IDS, 32, 72, 105, LLAMA_EOS], completionStart: 12 },
      },
    ]);
    expect(r.lengths).toEqual([28, 16]);
  });

  it('implicit prompt (after extract_prompt): the shared prefix is the prompt, the space stays with the answers', () => {
    const report = readDpoDataset(jsonl({ chosen: 'The sky is blue.', rejected: 'The sky is green.' }), 'prefs.jsonl');
    const r = prepareDpo(qwen, report.rows, report.lines, 64);
    expect(r.examples).toEqual([
      {
        line: 1,
        chosen: { ids: [291, 32, 115, 107, 121, 277, 275, 108, 117, 101, 46, QWEN_EOS], completionStart: 6 },
        rejected: { ids: [291, 32, 115, 107, 121, 277, 32, 103, 263, 273, 46, QWEN_EOS], completionStart: 6 },
      },
    ]);
  });

  it('conversational: the chat template renders the prompt for generation and each whole conversation', () => {
    const rows: DpoRow[] = [{ kind: 'conversational', prompt: [user('Hi')], chosen: [asst('Yes.')], rejected: [asst('No')] }];
    const r = prepareDpo(llama, rows, [2], 64);
    const prompt = [296, 299, 117, 115, 259, 10, 72, 105, 300, 10, 299, 97, 115, 285, 10];
    expect(r.examples).toEqual([
      {
        line: 2,
        chosen: { ids: [...prompt, 89, 101, 115, 46, 300, 10], completionStart: 15 },
        rejected: { ids: [...prompt, ...llama.encode('No<|im_end|>\n')], completionStart: 15 },
      },
    ]);
  });

  it('drops pairs whose prompt fills max_length, and pairs the template cannot split, with lines', () => {
    const rows: DpoRow[] = [
      { kind: 'standard', prompt: HELLO, chosen: 'a', rejected: 'b' },
      { kind: 'standard', prompt: 'Q', chosen: 'a', rejected: 'b' },
    ];
    const r = prepareDpo(qwen, rows, [3, 5], 10);
    expect(r.examples.map((e) => e.line)).toEqual([5]);
    expect(r.dropped).toEqual([
      { line: 3, reason: 'prompt fills max_length: the prompt is 11 tokens and max_length is 10, so no completion token would remain' },
    ]);
    const odd = load('qwen2-bias-f16', {
      chat_template: "{% for m in messages %}[{{ m['content'] }}]{% endfor %}{% if add_generation_prompt %}>{% endif %}",
    });
    const c = prepareDpo(odd, [{ kind: 'conversational', prompt: [user('q')], chosen: [asst('a')], rejected: [asst('b')] }], [6], 64);
    expect(c.examples).toEqual([]);
    expect(c.dropped[0].reason).toMatch(/^prompt tokens are not a prefix of prompt \+ completion: they differ at token 3/);
  });
});
