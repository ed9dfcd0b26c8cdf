// A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) and its chat template, built from the two files'
// parsed contents (no network, no file system: the same code runs in a Web Worker and in Node).
//
// Libraries: @huggingface/tokenizers (the tokenizers of transformers.js 4, alone: no ONNX runtime, ~8 kB gzip) and
// @huggingface/jinja for templates, rather than @huggingface/transformers 4, which would bring onnxruntime-web and
// -node along for nothing. Both pass what the frozen @xenova/transformers 2.17 failed (see tokenizer.test.ts): BPE
// merges saved as ["a", "b"] pairs (Qwen3, Gemma 3), the longest of overlapping added tokens (Gemma 3's "\n\n"),
// and today's chat templates. Where @huggingface/jinja differs from Python's jinja2 we patch it
// (patches/@huggingface__jinja@*.patch, tested in chat-template.test.ts); the rendering context is transformers'
// (chat-template.ts).
import { Tokenizer } from '@huggingface/tokenizers';
import { isObject } from '../model/arch/fields.ts';
import { type ChatExtras, compileChatTemplate, renderChatTemplate, renderWithGenerationSpans } from './chat-template.ts';
import type { Message } from './formats.ts';
import { assistantMaskTemplate } from './trl-templates.ts';

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

/** A text holds a special token the model has no embedding row for (checkFits let the tokenizer through). */
export class TokenOutsideModelError extends TokenizerError {}

/** The special-token keys of tokenizer_config.json that transformers hands to the chat template (special_tokens_map). */
const SPECIAL_TOKEN_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'] as const;

export class TextTokenizer {
  /** tokenizer_config's eos_token, as text and as id: appended (as text) to completions that do not end with it. */
  readonly eosToken: string;
  readonly eosTokenId: number;
  /** pad_token's id, or the EOS id when there is none (TRL sets pad_token = eos_token then). */
  readonly padTokenId: number;
  readonly bosTokenId: number | null;
  /** Number of token ids the tokenizer knows (vocabulary plus added tokens); config vocab_size may be larger. */
  readonly size: number;
  /** Rows of the model's embedding when special tokens lie past them (checkFits); null when every id has a row. */
  private embeddingRows: number | null = null;
  readonly hasChatTemplate: boolean;
  /**
   * Why the chat template cannot be used (its Jinja does not parse), found when the tokenizer is built so the user
   * hears it once, at load; null when there is none or it parses. Plain prompt/completion rows still work.
   */
  readonly chatTemplateProblem: string | null;

  private constructor(
    private readonly tok: Tokenizer,
    private readonly chatTemplate: string | null,
    /** A list of named templates' "tool_use" one, which transformers renders with when tools are passed; else null. */
    private readonly toolUseTemplate: string | null,
    /** The special tokens as transformers passes them to a chat template (its special_tokens_map). */
    private readonly templateTokens: Record<string, unknown>,
    /** Where each came from, for messages: tokenizer.json, tokenizer_config.json, and the chat template's file. */
    private readonly files: { json: string; config: string; template: string },
    ids: { eosToken: string; eos: number; pad: number; bos: number | null; size: number },
    /** The added tokens marked special, by id. */
    private readonly specialAdded: ReadonlyMap<number, string>,
    /** The special tokens encoding adds where tokenizer_config.json decides them (specialTokensFromConfig), else null. */
    private readonly added: { bos: boolean; eos: boolean } | null,
  ) {
    this.eosToken = ids.eosToken;
    this.eosTokenId = ids.eos;
    this.padTokenId = ids.pad;
    this.bosTokenId = ids.bos;
    this.size = ids.size;
    this.hasChatTemplate = chatTemplate !== null;
    this.chatTemplateProblem = null;
    try {
      for (const t of [chatTemplate, toolUseTemplate]) if (t !== null) compileChatTemplate(t, files.template);
    } catch (e) {
      this.chatTemplateProblem = (e as Error).message;
    }
  }

  /**
   * Builds the tokenizer from (tokenizer.json, tokenizer_config.json).
   * @param file where the two files came from (a folder or Hub id), used in error messages.
   * @param chatTemplateFile the file in that folder the config's "chat_template" was read from (chat_template.jinja
   *   where it replaced the config's: ModelFiles.chatTemplateFile), named by messages about the template.
   */
  static fromJson(
    tokenizerJson: unknown,
    tokenizerConfig: Record<string, unknown>,
    file?: string,
    chatTemplateFile = 'tokenizer_config.json',
  ): TextTokenizer {
    const inFolder = (name: string) => (file ? `${file}/${name}` : name);
    const jsonFile = inFolder('tokenizer.json');
    const configFile = inFolder('tokenizer_config.json');
    const json = checkTokenizerJson(tokenizerJson, jsonFile);
    if (typeof tokenizerConfig !== 'object' || tokenizerConfig === null || Array.isArray(tokenizerConfig))
      throw new TokenizerError(
        configFile,
        `expected a JSON object, got ${typeName(tokenizerConfig)}; use the tokenizer_config.json saved with the model`,
      );

    // Special tokens may be saved as strings or as AddedToken objects ({"content": ...}): plain strings from here on.
    const config: Record<string, unknown> = { ...tokenizerConfig };
    const specialTokens: Record<string, string> = {};
    for (const key of SPECIAL_TOKEN_KEYS) {
      const v = config[key];
      if (v === undefined || v === null) continue;
      const content = typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>).content : v;
      if (typeof content !== 'string')
        throw new TokenizerError(configFile, `"${key}" must be a string or an object with a string "content", got ${typeName(v)}`);
      config[key] = content;
      if (content !== '') specialTokens[key] = content;
    }

    checkModel(json, jsonFile);
    let tok: Tokenizer;
    try {
      tok = new Tokenizer(json, config);
    } catch (e) {
      throw new TokenizerError(jsonFile, `this tokenizer is not supported (${(e as Error).message})`);
    }
    const vocab = tok.get_vocab(true);
    let size = 0;
    for (const id of vocab.values()) size = Math.max(size, id + 1);

    const idOf = (key: string, token: string) => {
      const id = tok.token_to_id(token);
      if (id === undefined)
        throw new TokenizerError(
          configFile,
          `${key} ${JSON.stringify(token)} is not a token of ${jsonFile}; the two files do not belong together`,
        );
      return id;
    };
    if (specialTokens.eos_token === undefined)
      throw new TokenizerError(
        configFile,
        'no "eos_token": every completion ends with the EOS token, so the tokenizer must name one; add "eos_token" (the token that ends a reply, as in the model\'s generation_config.json)',
      );
    const eos = idOf('eos_token', specialTokens.eos_token);
    const pad = specialTokens.pad_token !== undefined ? idOf('pad_token', specialTokens.pad_token) : eos;
    const bos = specialTokens.bos_token !== undefined ? idOf('bos_token', specialTokens.bos_token) : null;
    const extra = config.additional_special_tokens;
    const added = specialTokensFromConfig(config, configFile);
    if (added?.bos && bos === null)
      throw new TokenizerError(
        configFile,
        'add_bos_token is true but there is no bos_token: set add_bos_token to false, or give the bos_token',
      );
    const tokensForTemplate: Record<string, unknown> = { ...specialTokens };
    if (Array.isArray(extra)) tokensForTemplate.additional_special_tokens = extra;

    const templates = chatTemplateOf(config, configFile);
    return new TextTokenizer(
      tok,
      templates.main,
      templates.toolUse,
      tokensForTemplate,
      { json: jsonFile, config: configFile, template: inFolder(chatTemplateFile) },
      { eosToken: specialTokens.eos_token, eos, pad, bos, size },
      new Map(
        (json.added_tokens as { id?: unknown; content?: unknown; special?: unknown }[])
          .filter((t) => t.special === true && typeof t.id === 'number' && typeof t.content === 'string')
          .map((t) => [t.id as number, t.content as string]),
      ),
      added,
    );
  }

  /**
   * Refuses a tokenizer with ids the model has no embedding row for: config.json's vocab_size may exceed the
   * tokenizer's size (spare rows), never the other way round. `configFile` names the model's config.json.
   */
  checkFits(vocabSize: number, configFile: string): void {
    if (this.size <= vocabSize) return;
    // Gemma 3's text models ship the multimodal tokenizer: <image_soft_token> (id 262144) lies past vocab_size 262144.
    // transformers does not check; a special token without a row is harmless until a text holds it, so when every id
    // past vocab_size is such a token (and not EOS, BOS or padding), texts that hold one are refused (encode) instead
    // of the model.
    const ownIds = [this.eosTokenId, this.padTokenId, this.bosTokenId]; // the trainer writes these itself
    let harmless = true;
    for (let id = vocabSize; id < this.size && harmless; id++) harmless = this.specialAdded.has(id) && !ownIds.includes(id);
    if (harmless) {
      this.embeddingRows = vocabSize;
      return;
    }
    const orphans = this.size - vocabSize === 1 ? `id ${vocabSize} has` : `ids ${vocabSize}..${this.size - 1} have`;
    throw new TokenizerError(
      this.files.json,
      `has ${this.size} token ids (added tokens included) but ${configFile} gives vocab_size ${vocabSize}, so ${orphans} ` +
        'no row in the embedding: use the tokenizer files saved with this checkpoint',
    );
  }

  /**
   * Token ids of `text`. Special tokens written in the text are kept. With `addSpecialTokens` the tokenizer's
   * post-processor adds its own (BOS for Llama and Gemma, nothing for Qwen), as `tokenizer(text)` does in Python.
   */
  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    let ids: number[];
    const add = options.addSpecialTokens ?? false;
    try {
      ids = this.tok.encode(text, { add_special_tokens: add && this.added === null }).ids;
      if (add && this.added !== null) {
        if (this.added.bos && this.bosTokenId !== null) ids = [this.bosTokenId, ...ids];
        if (this.added.eos) ids = [...ids, this.eosTokenId];
      }
    } catch (e) {
      throw new TokenizerError(
        this.files.json,
        `cannot tokenise ${preview(text)} (${(e as Error)?.message ?? String(e)}); this tokenizer is not supported`,
      );
    }
    const rows = this.embeddingRows;
    const outside = rows === null ? undefined : ids.find((id) => id >= rows);
    if (outside !== undefined)
      throw new TokenOutsideModelError(
        this.files.json,
        `the text holds ${this.specialAdded.get(outside)} (token id ${outside}), a special token this model has no embedding row for (vocab_size ${rows}): remove it from the text`,
      );
    return ids;
  }

  /** Text of `ids`. Ids the tokenizer does not know (e.g. in [size, config vocab_size)) are skipped, as HF tokenizers do. */
  decode(ids: number[], options: { skipSpecialTokens?: boolean } = {}): string {
    const known = ids.filter((id) => Number.isInteger(id) && id >= 0 && id < this.size && this.tok.id_to_token(id) !== undefined);
    if (known.length === 0) return '';
    return this.tok.decode(known, { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /**
   * The chat template (with `tools`, a "tool_use" template where the tokenizer has one, as transformers'
   * get_chat_template picks it); a TokenizerError saying what to do when the tokenizer has none.
   */
  requireChatTemplate(tools?: unknown[] | null): string {
    if (tools !== undefined && tools !== null && this.toolUseTemplate !== null) {
      compileChatTemplate(this.toolUseTemplate, this.files.template);
      return this.toolUseTemplate;
    }
    if (this.chatTemplate === null)
      throw new TokenizerError(
        this.files.config,
        'no "chat_template": conversational rows (lists of messages) are rendered with the chat template; use a chat/instruct checkpoint, add its template to tokenizer_config.json, or give prompt and completion as plain strings',
      );
    compileChatTemplate(this.chatTemplate, this.files.template); // the load-time problem, thrown where the template is needed
    return this.chatTemplate;
  }

  /**
   * The template TRL renders assistant_only_loss rows with (one with {% generation %} markers: trl-templates.ts), or
   * null when TRL has none for this tokenizer's template.
   */
  assistantMaskTemplate(): string | null {
    return assistantMaskTemplate(this.requireChatTemplate());
  }

  /** The conversation rendered with `template`, and the character spans its {% generation %} blocks printed. */
  renderGenerationSpans(
    template: string,
    messages: Message[],
    options: { addGenerationPrompt: boolean } & ChatExtras,
  ): { text: string; spans: [number, number][] } {
    return renderWithGenerationSpans(template, this.files.template, { ...options, messages, specialTokens: this.templateTokens });
  }

  /**
   * The chat template rendered as text (tokenize: false), as transformers' apply_chat_template does. With
   * `continueFinalMessage` the rendering is cut just after the final message's content (transformers'
   * render_jinja_template), so the model continues that message. Throws ChatTemplateError (chat-template.ts) when
   * the template raises or cannot be rendered.
   */
  applyChatTemplate(
    messages: Message[],
    options: { addGenerationPrompt: boolean; continueFinalMessage?: boolean; template?: string } & ChatExtras,
  ): string {
    const template = options.template ?? this.requireChatTemplate(options.tools);
    const continueFinal = options.continueFinalMessage ?? false;
    if (continueFinal && options.addGenerationPrompt)
      throw new Error(
        'continueFinalMessage and addGenerationPrompt are exclusive: one continues the last message, the other opens a new one',
      );
    const rendered = renderChatTemplate(template, this.files.template, {
      messages,
      addGenerationPrompt: options.addGenerationPrompt,
      specialTokens: this.templateTokens,
      tools: options.tools,
      templateKwargs: options.templateKwargs,
    });
    if (!continueFinal) return rendered;
    const final = messages[messages.length - 1].content ?? '';
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
  return o.added_tokens === undefined ? { ...o, added_tokens: [] } : o;
}

const MODEL_TYPES = ['BPE', 'WordPiece', 'Unigram'];

/**
 * What the tokenizer library would misread without a word, refused by name (robustness.test.ts holds each against
 * Hugging Face tokenizers): other model types, a vocabulary of the wrong shape, merges that are not token pairs of the
 * vocabulary (Rust refuses those too), BPE dropout (random merges), Unigram's byte fallback (the library writes
 * <unk> where Rust writes bytes), added tokens matched only as whole words (single_word: ignored there), and split
 * patterns with possessive quantifiers or atomic groups (JavaScript's RegExp has neither).
 */
function checkModel(json: Record<string, unknown>, file: string): void {
  const model = json.model as Record<string, unknown>;
  const type = model.type ?? (Array.isArray(model.vocab) ? 'Unigram' : 'BPE');
  const refuse = (what: string) => new TokenizerError(file, `${what}; this tokenizer is not supported`);
  const singleWord = (json.added_tokens as Record<string, unknown>[]).find((t) => isObject(t) && t.single_word === true);
  if (singleWord !== undefined)
    throw refuse(
      `added token ${JSON.stringify(singleWord.content)} is "single_word" (matched only as a whole word), which the tokenizer library here ignores`,
    );
  if (typeof type !== 'string' || !MODEL_TYPES.includes(type))
    throw refuse(`model type ${JSON.stringify(type)} (only ${MODEL_TYPES.join(', ')} models are read)`);
  const patterns: string[] = [];
  const collect = (p: unknown) => {
    if (!isObject(p)) return;
    if (isObject(p.pattern) && typeof p.pattern.Regex === 'string') patterns.push(p.pattern.Regex);
    if (Array.isArray(p.pretokenizers)) p.pretokenizers.forEach(collect);
  };
  collect(json.pre_tokenizer);
  const unsupported = patterns.find((r) => /[+*?]\+|\{\d+(?:,\d*)?\}\+|\(\?>/.test(outsideClasses(r)));
  if (unsupported !== undefined)
    throw refuse(
      `the split pattern ${JSON.stringify(unsupported)} has possessive quantifiers or atomic groups, which JavaScript's RegExp lacks`,
    );
  if (type === 'Unigram') {
    if (!Array.isArray(model.vocab) || !model.vocab.every((p) => Array.isArray(p) && typeof p[0] === 'string' && typeof p[1] === 'number'))
      throw refuse('the Unigram "vocab" must be a list of [piece, score] pairs');
    if (model.byte_fallback === true)
      throw refuse('a Unigram model with "byte_fallback" (unknown characters as byte tokens, as SentencePiece converts them)');
    return;
  }
  const vocab = model.vocab;
  if (!isObject(vocab) || !Object.values(vocab).every((id) => Number.isInteger(id)))
    throw refuse(`the ${type} "vocab" must be an object of token -> id, got ${typeName(vocab)}`);
  if (type !== 'BPE') return;
  if (typeof model.dropout === 'number' && model.dropout > 0)
    throw refuse(`BPE "dropout" ${model.dropout} (merges skipped at random, so a text has no one tokenisation); set it to null`);
  const merges = model.merges ?? [];
  if (!Array.isArray(merges)) throw refuse(`"merges" must be a list, got ${typeName(merges)}`);
  const prefix = typeof model.continuing_subword_prefix === 'string' ? model.continuing_subword_prefix : '';
  for (const [i, m] of merges.entries()) {
    const pair = typeof m === 'string' ? m.split(' ') : m;
    if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((t) => typeof t === 'string'))
      throw refuse(`merge ${i} is ${JSON.stringify(m)}, neither "a b" nor ["a", "b"]`);
    const merged = pair[0] + (prefix && pair[1].startsWith(prefix) ? pair[1].slice(prefix.length) : pair[1]);
    for (const t of [pair[0], pair[1], merged])
      if (!(t in vocab)) throw refuse(`merge ${i} (${JSON.stringify(pair)}) makes or uses ${JSON.stringify(t)}, which is not in the vocab`);
  }
}

/**
 * The pattern with escaped characters and character classes blanked out: `*+` inside `[...]` (DeepSeek V3's class of
 * ASCII punctuation) or `\*+` are literal characters, not a possessive quantifier.
 */
const outsideClasses = (pattern: string) => pattern.replace(/\\./gs, '_').replace(/\[\^?\]?[^\]]*\]/g, '_');

/**
 * The special tokens `tokenizer(text)` adds when tokenizer_config.json decides them rather than tokenizer.json's
 * post-processor: transformers' LlamaTokenizerFast, GemmaTokenizerFast and CodeLlamaTokenizerFast rebuild the
 * post-processor from add_bos_token (default true) and add_eos_token (default false) whenever they load
 * (update_post_processor), so a checkpoint saved with add_eos_token true gets EOS at the end of every encoding though
 * its tokenizer.json's template has none. Other classes (Llama 3's PreTrainedTokenizerFast, Qwen2Tokenizer) keep the
 * file's post-processor: null.
 */
function specialTokensFromConfig(config: Record<string, unknown>, file: string): { bos: boolean; eos: boolean } | null {
  if (typeof config.tokenizer_class !== 'string' || !/^(Llama|Gemma|CodeLlama)Tokenizer(Fast)?$/.test(config.tokenizer_class)) return null;
  const flag = (key: string, fallback: boolean) => {
    const v = config[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') throw new TokenizerError(file, `"${key}" must be true or false, got ${typeName(v)}`);
    return v;
  };
  return { bos: flag('add_bos_token', true), eos: flag('add_eos_token', false) };
}

/**
 * tokenizer_config's chat_template: a string, or a list of {name, template} of which "default" is used, and
 * "tool_use" where tools are passed (transformers' get_chat_template).
 */
function chatTemplateOf(config: Record<string, unknown>, file: string): { main: string | null; toolUse: string | null } {
  const t = config.chat_template;
  if (t === undefined || t === null) return { main: null, toolUse: null };
  if (typeof t === 'string') return { main: t === '' ? null : t, toolUse: null };
  if (Array.isArray(t)) {
    const named = (name: string) =>
      t.find((x) => typeof x === 'object' && x !== null && (x as Record<string, unknown>).name === name) as
        | Record<string, unknown>
        | undefined;
    const main = named('default');
    const toolUse = named('tool_use');
    if (main && typeof main.template === 'string')
      return { main: main.template, toolUse: typeof toolUse?.template === 'string' ? toolUse.template : null };
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

const preview = (text: string) => JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}
