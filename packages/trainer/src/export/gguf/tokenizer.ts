// A Hugging Face byte-level BPE tokenizer (tokenizer.json + tokenizer_config.json) -> llama.cpp's tokenizer
// metadata, as convert_hf_to_gguf.py's _set_vocab_gpt2 / get_vocab_base and gguf-py's SpecialVocab write it (at
// 0024aa7417efd50a7c2a79e049dfbbbceb0beaaf): tokenizer.ggml.model "gpt2", .pre naming the pre-tokenizer, one token
// string per embedding row ([PAD<i>] for rows past the tokenizer, type UNUSED), token types (NORMAL 1, CONTROL 3 for
// special added tokens, USER_DEFINED 4 for other added tokens, UNUSED 5), merges as "a b", the special ids, add
// BOS/EOS, and the chat template. SentencePiece-derived tokenizers become llama.cpp's "llama" vocab (tokenizer-spm.ts).
// llama.cpp does not run tokenizer.json's pre-tokenizer: it picks a built-in one by the .pre name. The converter
// chooses it by hashing the tokenization of a test text; webtune instead recognises the pre-tokenizer definitions
// whose built-in llama.cpp twin is exact, and refuses any other with the reason, rather than write a model whose
// tokenizer splits text differently.

import { isObject } from '../../model/arch/fields.ts';
import { ExportError } from '../files.ts';
import type { GgufValue } from './format.ts';
import { checkSpmModel, isSentencePiece, spmAddSpacePrefix, spmScores, spmTokenType, TOKEN_TYPE } from './tokenizer-spm.ts';

// The Split regexes of Qwen2's and Llama 3's tokenizer.json, exactly (they differ in \p{N} vs \p{N}{1,3}).
const QWEN2_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const LLAMA3_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

type Json = Record<string, unknown>;

/** The llama.cpp pre-tokenizer name for tokenizer.json's normalizer + pre_tokenizer, or why there is none. */
export function preTokenizerName(tok: Json, file = 'tokenizer.json'): string {
  const pre = tok.pre_tokenizer;
  const norm = tok.normalizer;
  const describe = JSON.stringify(pre).slice(0, 200);
  const refuse = (why: string) =>
    new ExportError(
      `${file}: ${why}. llama.cpp tokenizes with built-in pre-tokenizers only; webtune writes GGUF for GPT-2 style ` +
        `(ByteLevel with its regex), Qwen2 and Llama 3 pre-tokenizers (pre_tokenizer here: ${describe})`,
    );
  if (norm !== null && norm !== undefined && !(isObject(norm) && norm.type === 'NFC'))
    throw refuse(`normalizer ${JSON.stringify(norm).slice(0, 80)} has no llama.cpp equivalent`);
  if (isObject(pre) && pre.type === 'ByteLevel') {
    if (pre.use_regex !== false && pre.add_prefix_space !== true && norm == null) return 'gpt-2';
    throw refuse('this ByteLevel pre-tokenizer adds a prefix space or has no regex');
  }
  if (isObject(pre) && pre.type === 'Sequence' && Array.isArray(pre.pretokenizers) && pre.pretokenizers.length === 2) {
    const [split, bl] = pre.pretokenizers as Json[];
    const regex = isObject(split?.pattern) ? split.pattern.Regex : undefined;
    const byteLevelPlain = bl?.type === 'ByteLevel' && bl.use_regex === false && bl.add_prefix_space !== true;
    if (split?.type === 'Split' && split.behavior === 'Isolated' && split.invert === false && byteLevelPlain) {
      if (regex === QWEN2_REGEX) return 'qwen2';
      if (regex === LLAMA3_REGEX) return 'llama-bpe';
    }
  }
  throw refuse('its pre-tokenizer matches none llama.cpp has built in');
}

/** tokenizer.ggml.* and tokenizer.chat_template for a model with `vocabSize` embedding rows. */
export function tokenizerMetadata(tokJson: Json, tokConfig: Json, vocabSize: number): [string, GgufValue][] {
  const model = tokJson.model as Json;
  const spm = isObject(model) && isSentencePiece(model);
  if (!spm && (!isObject(model) || model.type !== 'BPE' || !isObject(model.vocab)))
    throw new ExportError(
      `tokenizer.json: model type ${JSON.stringify(isObject(model) ? model.type : model)} is not BPE; webtune writes ` +
        'GGUF for byte-level BPE (Llama 3, Qwen2, SmolLM, GPT-2 style) and SentencePiece BPE (Llama 2, Mistral, Gemma) tokenizers',
    );
  if (spm) checkSpmModel(model);
  const addSpacePrefix = spm ? spmAddSpacePrefix(tokJson) : false;
  const pre = spm ? null : preTokenizerName(tokJson);
  const unk = typeof model.unk_token === 'string' ? model.unk_token : undefined;
  const tokens: string[] = new Array(vocabSize);
  const types = new Int32Array(vocabSize);
  for (const [token, id] of Object.entries(model.vocab as Record<string, number>)) {
    if (id < vocabSize) {
      tokens[id] = token;
      types[id] = spm ? spmTokenType(token, unk) : TOKEN_TYPE.normal;
    }
  }
  const added = (tokJson.added_tokens ?? []) as { id: number; content: string; special: boolean }[];
  for (const a of added) {
    if (a.id >= vocabSize)
      throw new ExportError(
        `tokenizer.json: added token ${JSON.stringify(a.content)} has id ${a.id}, past the model's ${vocabSize} embedding rows`,
      );
    tokens[a.id] = a.content;
    types[a.id] = spm && a.content === unk ? TOKEN_TYPE.unknown : a.special ? TOKEN_TYPE.control : TOKEN_TYPE.userDefined;
  }
  for (let i = 0; i < vocabSize; i++) {
    if (tokens[i] === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = TOKEN_TYPE.unused;
    }
  }
  const meta: [string, GgufValue][] = spm
    ? [
        ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
        ['tokenizer.ggml.tokens', { type: 'string[]', value: tokens }],
        ['tokenizer.ggml.scores', { type: 'f32[]', value: spmScores(model, vocabSize) }],
        ['tokenizer.ggml.token_type', { type: 'i32[]', value: types }],
        ['tokenizer.ggml.add_space_prefix', { type: 'bool', value: addSpacePrefix }],
      ]
    : [
        ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
        ['tokenizer.ggml.pre', { type: 'string', value: pre as string }],
        ['tokenizer.ggml.tokens', { type: 'string[]', value: tokens }],
        ['tokenizer.ggml.token_type', { type: 'i32[]', value: types }],
        [
          'tokenizer.ggml.merges',
          { type: 'string[]', value: ((model.merges ?? []) as (string | string[])[]).map((m) => (Array.isArray(m) ? m.join(' ') : m)) },
        ],
      ];
  const idOf = (key: string): number | undefined => {
    const v = tokConfig[key];
    const content = isObject(v) ? v.content : v;
    if (typeof content !== 'string') return undefined;
    return added.find((a) => a.content === content)?.id ?? (model.vocab as Record<string, number>)[content];
  };
  for (const [key, ggufKey] of [
    ['bos_token', 'bos_token_id'],
    ['eos_token', 'eos_token_id'],
    ['unk_token', 'unknown_token_id'],
    ['pad_token', 'padding_token_id'],
  ]) {
    const id = idOf(key);
    if (id !== undefined) meta.push([`tokenizer.ggml.${ggufKey}`, { type: 'u32', value: id }]);
  }
  meta.push(['tokenizer.ggml.add_bos_token', { type: 'bool', value: addsBos(tokJson, tokConfig) }]);
  meta.push(['tokenizer.ggml.add_eos_token', { type: 'bool', value: tokConfig.add_eos_token === true }]);
  if (typeof tokConfig.chat_template === 'string')
    meta.push(['tokenizer.chat_template', { type: 'string', value: tokConfig.chat_template }]);
  return meta;
}

/** Whether encoding adds BOS: the post-processor's template when it has one (what tokenizers does), else the config. */
function addsBos(tokJson: Json, tokConfig: Json): boolean {
  const post = tokJson.post_processor as Json | null;
  if (isObject(post) && post.type === 'TemplateProcessing' && Array.isArray(post.single)) {
    const first = post.single[0] as Json;
    return isObject(first) && 'SpecialToken' in first;
  }
  return tokConfig.add_bos_token === true;
}
