// Tokenizer files and chat templates unlike the ones webtune was built on (test/tokenizers/make_robustness.py):
// every model family, added-token flags, template constructs. Each gives what Hugging Face tokenizers (Rust) and
// Python's jinja2 give, or is refused with a TokenizerError naming the file and what is not supported.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderChatTemplate } from './chat-template.ts';
import type { Message } from './formats.ts';
import { TextTokenizer, TokenizerError } from './tokenizer.ts';

interface Robustness {
  tokenizers: {
    name: string;
    json?: Record<string, unknown>;
    base?: string;
    override?: Record<string, unknown>;
    hostile: boolean;
    rust_error?: string;
    cases: { text: string; add_special_tokens: boolean; ids?: number[] }[];
  }[];
  templates: { name: string; template: string; text?: string; raised?: string }[];
  messages: Message[];
  tools: unknown[];
}
const here = (p: string) => new URL(`../../test/tokenizers/${p}`, import.meta.url);
const goldens = JSON.parse(readFileSync(here('robustness.json'), 'utf8')) as Robustness;
const readJson = (p: string) => JSON.parse(readFileSync(new URL(`../../node_modules/${p}`, import.meta.url), 'utf8'));

// What webtune refuses that the library would misread (tokenizer.ts, checkModel), by the golden's name. Rust loads
// some of them (WordLevel, dropout, the possessive pattern, byte fallback, single_word) and refuses the others.
const REFUSED: Record<string, string> = {
  'Unigram with byte fallback': 'a Unigram model with "byte_fallback"',
  'WordLevel model': 'model type "WordLevel" (only BPE, WordPiece, Unigram models are read)',
  'BPE vocab given as a list': 'the BPE "vocab" must be an object of token -> id, got a list',
  'BPE without a vocab': 'the BPE "vocab" must be an object of token -> id, got null',
  'merges of tokens outside the vocab': 'merge 17 (["zz","qq"]) makes or uses "zz", which is not in the vocab',
  'merges that are numbers': 'merge 0 is 3, neither "a b" nor ["a", "b"]',
  'BPE dropout': 'BPE "dropout" 0.1 (merges skipped at random',
  'an added token flagged single_word': 'added token "agaín" is "single_word" (matched only as a whole word)',
  'Split on a possessive / atomic pattern': 'the split pattern "l++|(?>o)" has possessive quantifiers or atomic groups',
};

const tokenizerOf = (json: Record<string, unknown>) => {
  const added = (json.added_tokens as { content: string }[]).map((t) => t.content);
  const eos = ['</s>', '[SEP]', '<|im_end|>'].find((t) => added.includes(t));
  return TextTokenizer.fromJson(json, { eos_token: eos }, 'variant');
};

describe.each(goldens.tokenizers.filter((t) => !t.hostile))('$name', ({ json, base, override, cases }) => {
  const tok = tokenizerOf(json ?? { ...readJson(`${base}/models/tokenizer.json`), ...override });
  it.each(cases.map((c) => [`${JSON.stringify(c.text)} ${c.add_special_tokens ? 'with' : 'without'} special tokens`, c] as const))(
    '%s',
    (_, c) => {
      expect(tok.encode(c.text, { addSpecialTokens: c.add_special_tokens })).toEqual(c.ids);
    },
  );
});

describe('tokenizer files refused by name', () => {
  it.each(goldens.tokenizers.filter((t) => t.hostile).map((t) => [t.name, t] as const))('%s', (name, t) => {
    let error: unknown;
    try {
      tokenizerOf(t.json ?? { ...readJson(`${t.base}/models/tokenizer.json`), ...t.override });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TokenizerError);
    expect((error as Error).message).toContain(`variant/tokenizer.json: ${REFUSED[name]}`);
    expect((error as Error).message).toMatch(/; this tokenizer is not supported$/);
  });
});

// Template syntax the engine lacks: refused with the file and the engine's words, when the template loads (a parse
// error: TextTokenizer.chatTemplateProblem) or when a row is rendered.
const TEMPLATE_REFUSED: Record<string, string> = {
  "Python's % string formatting":
    'variant/tokenizer_config.json: the chat template cannot render these messages (Unknown operator "%" between StringValue and TupleValue)',
  'recursive loop': 'variant/tokenizer_config.json: the chat template cannot be read (the Jinja parser says: Parser Error:',
};

describe('chat templates as jinja2 renders them', () => {
  it.each(goldens.templates.map((t) => [t.name, t] as const))('%s', (name, t) => {
    const render = () =>
      renderChatTemplate(t.template, 'variant/tokenizer_config.json', {
        messages: goldens.messages,
        tools: goldens.tools,
        addGenerationPrompt: false,
        specialTokens: {},
      });
    if (name in TEMPLATE_REFUSED) expect(render).toThrow(TEMPLATE_REFUSED[name]);
    else if (t.raised !== undefined) expect(render).toThrow(`the chat template raised: ${t.raised}`);
    else expect(render()).toBe(t.text);
  });
});
