// A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) and its chat template, through
// @xenova/transformers 2.17 — no hand-written tokenizer. Built from the two files' parsed contents: no network and
// no file system, so the same code runs in a Web Worker and in Node.
//
// Import: '@xenova/transformers/src/tokenizers.js', the tokenizers module alone, rather than the package root. The
// root (src/transformers.js) also evaluates models.js, pipelines.js and processors.js (sharp, audio, image).
// tokenizers.js still reaches ONNX Runtime through utils/tensor.js and env.js (backends/onnx.js imports
// onnxruntime-node and onnxruntime-web statically), so no import path avoids it: in the browser that costs
// onnxruntime-web's JS (dist/ort-web.min.js, ~550 KB; its .wasm is only fetched when an InferenceSession is created,
// which we never do), in Node the onnxruntime-node binding. The package's `browser` field maps fs/path/url/sharp/
// onnxruntime-node to nothing under vite. A vite alias of onnxruntime-web/-node to a stub exporting `{ env: {} }`
// would remove the rest, if bundle size ever matters. The package has no "exports" map, so the deep path resolves
// under vite and Node alike; its declarations (types/tokenizers.d.ts) are not beside it, hence the local interface.
//
// @ts-expect-error no declaration file sits beside src/tokenizers.js; the shape used is declared below.
import * as transformersTokenizers from '@xenova/transformers/src/tokenizers.js';
import type { Message } from './formats.ts';

/** What we use of a transformers.js PreTrainedTokenizer. */
interface HfTokenizer {
  encode(text: string, textPair: null, options: { add_special_tokens: boolean }): number[];
  decode(ids: number[], options: { skip_special_tokens: boolean }): string;
  apply_chat_template(messages: Message[], options: { chat_template: string; add_generation_prompt: boolean; tokenize: false }): string;
  model: { vocab: (string | undefined)[]; tokens_to_ids: Map<string, number> };
}
type HfTokenizerClass = new (tokenizerJSON: unknown, tokenizerConfig: Record<string, unknown>) => HfTokenizer;
const { AutoTokenizer, PreTrainedTokenizer } = transformersTokenizers as {
  AutoTokenizer: { TOKENIZER_CLASS_MAPPING: Record<string, HfTokenizerClass> };
  PreTrainedTokenizer: HfTokenizerClass;
};

/** A tokenizer that cannot be built or used as asked; names the file at fault and what to do. */
export class TokenizerError extends Error {
  override name = 'TokenizerError';
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
  }
}

/** The special-token keys of tokenizer_config.json (transformers.js's SPECIAL_TOKEN_ATTRIBUTES). */
const SPECIAL_TOKEN_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'] as const;

export class TextTokenizer {
  /** Token id of tokenizer_config's eos_token: appended to every completion. */
  readonly eosTokenId: number;
  /** pad_token's id, or the EOS id when there is none (TRL sets pad_token = eos_token then). */
  readonly padTokenId: number;
  readonly bosTokenId: number | null;
  /** Number of token ids the tokenizer knows (vocabulary plus added tokens); config vocab_size may be larger. */
  readonly size: number;
  readonly hasChatTemplate: boolean;
  /** The transformers.js class chosen for tokenizer_config's tokenizer_class, e.g. "Qwen2Tokenizer". */
  readonly className: string;

  private constructor(
    private readonly tok: HfTokenizer,
    private readonly chatTemplate: string | null,
    private readonly files: { json: string; config: string },
    ids: { eos: number; pad: number; bos: number | null },
  ) {
    this.eosTokenId = ids.eos;
    this.padTokenId = ids.pad;
    this.bosTokenId = ids.bos;
    this.size = tok.model.vocab.length;
    this.hasChatTemplate = chatTemplate !== null;
    this.className = tok.constructor.name;
  }

  /**
   * Builds the tokenizer as transformers.js's AutoTokenizer.from_pretrained does: the class named by
   * tokenizer_config.tokenizer_class, less a trailing "Fast", from AutoTokenizer.TOKENIZER_CLASS_MAPPING, else
   * PreTrainedTokenizer, constructed from (tokenizer.json, tokenizer_config.json).
   * @param file where the two files came from (a folder or Hub id), used in error messages.
   */
  static fromJson(tokenizerJson: unknown, tokenizerConfig: Record<string, unknown>, file?: string): TextTokenizer {
    const jsonFile = file ? `${file}/tokenizer.json` : 'tokenizer.json';
    const configFile = file ? `${file}/tokenizer_config.json` : 'tokenizer_config.json';
    const json = checkTokenizerJson(tokenizerJson, jsonFile);
    if (typeof tokenizerConfig !== 'object' || tokenizerConfig === null || Array.isArray(tokenizerConfig))
      throw new TokenizerError(
        configFile,
        `expected a JSON object, got ${typeName(tokenizerConfig)}; use the tokenizer_config.json saved with the model`,
      );

    // Special tokens may be saved as strings or as AddedToken objects ({"content": ..., "__type": "AddedToken"});
    // transformers.js accepts the latter only with __type, Python with or without: hand it plain strings.
    const config: Record<string, unknown> = { ...tokenizerConfig };
    for (const key of SPECIAL_TOKEN_KEYS) {
      const v = config[key];
      if (v === undefined || v === null || typeof v === 'string') continue;
      const content = typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>).content : undefined;
      if (typeof content !== 'string')
        throw new TokenizerError(configFile, `"${key}" must be a string or an object with a string "content", got ${typeName(v)}`);
      config[key] = content;
    }

    const className = typeof config.tokenizer_class === 'string' ? config.tokenizer_class.replace(/Fast$/, '') : 'PreTrainedTokenizer';
    const cls = Object.hasOwn(AutoTokenizer.TOKENIZER_CLASS_MAPPING, className)
      ? AutoTokenizer.TOKENIZER_CLASS_MAPPING[className]
      : PreTrainedTokenizer;
    let tok: HfTokenizer;
    try {
      tok = new cls(json, config);
    } catch (e) {
      throw new TokenizerError(
        jsonFile,
        `cannot build the tokenizer (${(e as Error).message}); use the tokenizer.json saved with the model by Hugging Face tokenizers`,
      );
    }

    const idOf = (key: string, token: string) => {
      const id = tok.model.tokens_to_ids.get(token);
      if (id === undefined)
        throw new TokenizerError(
          configFile,
          `${key} ${JSON.stringify(token)} is not a token of ${jsonFile}; the two files do not belong together`,
        );
      return id;
    };
    const eosToken = config.eos_token;
    if (typeof eosToken !== 'string' || eosToken === '')
      throw new TokenizerError(
        configFile,
        'no "eos_token": every completion ends with the EOS token, so the tokenizer must name one; add "eos_token" (the token that ends a reply, as in the model\'s generation_config.json)',
      );
    const eos = idOf('eos_token', eosToken);
    const pad = typeof config.pad_token === 'string' && config.pad_token !== '' ? idOf('pad_token', config.pad_token) : eos;
    const bos = typeof config.bos_token === 'string' && config.bos_token !== '' ? idOf('bos_token', config.bos_token) : null;

    return new TextTokenizer(tok, chatTemplateOf(config, configFile), { json: jsonFile, config: configFile }, { eos, pad, bos });
  }

  /**
   * Refuses a tokenizer with ids the model has no embedding row for: config.json's vocab_size may exceed the
   * tokenizer's size (spare rows), never the other way round. `configFile` names the model's config.json.
   */
  checkFits(vocabSize: number, configFile: string): void {
    if (this.size <= vocabSize) return;
    const orphans = this.size - vocabSize === 1 ? `id ${vocabSize} has` : `ids ${vocabSize}..${this.size - 1} have`;
    throw new TokenizerError(
      this.files.json,
      `has ${this.size} token ids (added tokens included) but ${configFile} gives vocab_size ${vocabSize}, so ${orphans} ` +
        'no row in the embedding: use the tokenizer files saved with this checkpoint',
    );
  }

  /** Token ids of `text`, without special tokens added (BOS/EOS); special tokens written in the text are kept. */
  encode(text: string): number[] {
    return this.tok.encode(text, null, { add_special_tokens: false });
  }

  /** Text of `ids`. Ids the tokenizer does not know (e.g. in [size, config vocab_size)) are skipped, as HF tokenizers do. */
  decode(ids: number[], options: { skipSpecialTokens?: boolean } = {}): string {
    const known = ids.filter((id) => Number.isInteger(id) && id >= 0 && id < this.size && this.tok.model.vocab[id] !== undefined);
    if (known.length === 0) return '';
    return this.tok.decode(known, { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /** The chat template; a TokenizerError saying what to do when the tokenizer has none. */
  requireChatTemplate(): string {
    if (this.chatTemplate === null)
      throw new TokenizerError(
        this.files.config,
        'no "chat_template": conversational rows (lists of messages) are rendered with the chat template; use a chat/instruct checkpoint, add its template to tokenizer_config.json, or give prompt and completion as plain strings',
      );
    return this.chatTemplate;
  }

  /**
   * The chat template rendered as text (tokenize: false), as transformers' apply_chat_template does, with
   * `continueFinalMessage` (which transformers.js 2.17 lacks) reproduced from transformers' render_jinja_template:
   * the rendering is cut just after the final message's content, so the model continues that message.
   */
  applyChatTemplate(messages: Message[], options: { addGenerationPrompt: boolean; continueFinalMessage?: boolean }): string {
    const template = this.requireChatTemplate();
    const continueFinal = options.continueFinalMessage ?? false;
    if (continueFinal && options.addGenerationPrompt)
      throw new Error(
        'continueFinalMessage and addGenerationPrompt are exclusive: one continues the last message, the other opens a new one',
      );
    const rendered = this.tok.apply_chat_template(messages, {
      chat_template: template,
      add_generation_prompt: options.addGenerationPrompt,
      tokenize: false,
    });
    if (!continueFinal) return rendered;
    const final = messages[messages.length - 1].content;
    const stripped = pyStrip(final);
    const at = rendered.lastIndexOf(stripped);
    if (at < 0)
      throw new Error(
        'the final message does not appear in the chat after applying the chat template (the template changes the message), so it cannot be continued',
      );
    const lstripped = pyLstrip(final);
    return rendered.slice(0, rendered.slice(at, at + lstripped.length) === final ? at + lstripped.length : at + stripped.length);
  }
}

function checkTokenizerJson(json: unknown, file: string): Record<string, unknown> {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new TokenizerError(
      file,
      `expected a JSON object, got ${typeName(json)}; use the tokenizer.json saved with the model by Hugging Face tokenizers`,
    );
  const o = json as Record<string, unknown>;
  if (typeof o.model !== 'object' || o.model === null || Array.isArray(o.model))
    throw new TokenizerError(
      file,
      'no "model" section: this is not a Hugging Face tokenizers file (a slow tokenizer\'s files such as tokenizer.model or vocab.json are not enough); use a checkpoint that ships tokenizer.json',
    );
  if (o.added_tokens !== undefined && !Array.isArray(o.added_tokens))
    throw new TokenizerError(file, `"added_tokens" must be a list, got ${typeName(o.added_tokens)}; the file is damaged`);
  // transformers.js iterates added_tokens unconditionally.
  return o.added_tokens === undefined ? { ...o, added_tokens: [] } : o;
}

/** tokenizer_config's chat_template: a string, or a list of {name, template} of which "default" is used. */
function chatTemplateOf(config: Record<string, unknown>, file: string): string | null {
  const t = config.chat_template;
  if (t === undefined || t === null) return null;
  if (typeof t === 'string') return t === '' ? null : t;
  if (Array.isArray(t)) {
    const named = t.find((x) => typeof x === 'object' && x !== null && (x as Record<string, unknown>).name === 'default') as
      | Record<string, unknown>
      | undefined;
    if (named && typeof named.template === 'string') return named.template;
    throw new TokenizerError(
      file,
      '"chat_template" is a list of named templates without a "default" one; name the template to use "default"',
    );
  }
  throw new TokenizerError(file, `"chat_template" must be a string, got ${typeName(t)}`);
}

// Python's str.strip()/lstrip() strip exactly the characters str.isspace() accepts, which differ from JS's trim().
const PY_SPACE = '\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const LEADING = new RegExp(`^[${PY_SPACE}]+`);
const TRAILING = new RegExp(`[${PY_SPACE}]+$`);
const pyLstrip = (s: string) => s.replace(LEADING, '');
const pyStrip = (s: string) => pyLstrip(s).replace(TRAILING, '');

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}
