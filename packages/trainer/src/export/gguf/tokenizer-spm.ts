// A SentencePiece-derived tokenizer.json (a BPE with byte_fallback over "▁" for spaces: Llama 2, Mistral 7B v0.x,
// Gemma 3) -> llama.cpp's "llama" (SPM) vocab: tokenizer.ggml.tokens, .scores, .token_type and .add_space_prefix,
// as gguf-py's vocab.py (LlamaHfVocab, SentencePieceVocab; ggml-org/llama.cpp 0c1c9d33a805aad92c28cc15213a0dc5867f8818)
// and convert_hf_to_gguf.py's _set_vocab_sentencepiece / _set_vocab_llama_hf write them, and as llama.cpp reads
// and runs them (src/llama-vocab.cpp of the source node-llama-cpp 3.22.1 builds, de3ff815ea7d559ee917f063901b8986f038abc6):
// - llama.cpp's SPM tokenizer replaces spaces with "▁", prefixes "▁" to each text fragment that follows a special
//   token (or starts the text) when add_space_prefix is set, splits the fragment into UTF-8 characters and repeatedly
//   merges the adjacent pair whose concatenation is a token of the highest score (the leftmost on ties), then writes
//   each character no token covers as its <0xNN> byte tokens (type BYTE).
// - tokenizer.json has merges, not scores. LlamaHfVocab writes -1000 for every score, under which SPM merges leftmost
//   first, not in BPE's order (measured: so written, llama.cpp tokenizes Mistral's " Cat 🐱 の" and a Gemma 3
//   look-alike row of the goldens otherwise than tokenizers does); webtune instead scores a token minus the rank of the first merge that makes it. BPE
//   merges the pair of lowest rank; SPM the pair whose product has the lowest first rank. The two agree when every
//   split of a token into two vocab tokens is itself a merge ranked after the token's first one, so that a pair is
//   a merge exactly when its product is a token and its rank orders as its product's: what tokenizers'
//   SentencePieceExtractor writes when it converts a SentencePiece model (every split of each piece, the pieces in
//   score order), so the derived scores order merges as the SentencePiece model's own scores did. Where a
//   tokenizer.json breaks that (a token SPM can form from a pair that is no merge), the two can differ; the
//   llama-cpp test proves Gemma 3's and Mistral 7B v0.2's real vocabularies id for id on hostile texts.
// - Tokens no merge makes (single characters, byte tokens, added tokens) score 0 (never compared: no pair of
//   symbols concatenates to a single character, and added tokens are matched before SPM runs, in both).
// Refused with the reason: a Unigram model (llama.cpp's SPM merges by score greedily; Unigram segments by Viterbi),
// and normalizers / pre-tokenizers other than the two SentencePiece conversions whose llama.cpp twin is exact.

import { isObject } from '../../model/arch/fields.ts';
import { ExportError } from '../files.ts';

type Json = Record<string, unknown>;

/** llama.cpp's token types (llama_token_type). */
export const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

const replacesSpaces = (n: unknown) =>
  isObject(n) && n.type === 'Replace' && isObject(n.pattern) && n.pattern.String === ' ' && n.content === '▁';
/** Gemma's Split on " " after the normalizer turned every space into "▁": it never splits. */
const noOpSplit = (p: unknown) =>
  p === null || p === undefined || (isObject(p) && p.type === 'Split' && isObject(p.pattern) && p.pattern.String === ' ');

/** add_space_prefix for tokenizer.json's normalizer + pre-tokenizer, or why llama.cpp's SPM has no twin. */
export function spmAddSpacePrefix(tok: Json, file = 'tokenizer.json'): boolean {
  const norm = tok.normalizer;
  const pre = tok.pre_tokenizer;
  if (noOpSplit(pre)) {
    // Gemma: spaces become "▁", nothing prepended.
    if (replacesSpaces(norm)) return false;
    // Llama 2 / Mistral (legacy): "▁" prepended to each fragment between added tokens, as llama.cpp's add_space_prefix.
    if (isObject(norm) && norm.type === 'Sequence' && Array.isArray(norm.normalizers) && norm.normalizers.length === 2) {
      const [prepend, replace] = norm.normalizers as unknown[];
      if (isObject(prepend) && prepend.type === 'Prepend' && prepend.prepend === '▁' && replacesSpaces(replace)) return true;
    }
  }
  throw new ExportError(
    `${file}: normalizer ${JSON.stringify(norm).slice(0, 120)} with pre_tokenizer ${JSON.stringify(pre).slice(0, 120)} ` +
      'has no exact twin in llama.cpp\'s SentencePiece ("llama") tokenizer; webtune writes GGUF for the Llama 2 / Mistral ' +
      '(Prepend "▁" + Replace " " -> "▁") and Gemma (Replace " " -> "▁") conversions',
  );
}

/** tokenizer.ggml.scores: minus the rank of the first merge that makes each token (0 for tokens no merge makes). */
export function spmScores(model: Json, vocabSize: number): Float32Array {
  const vocab = model.vocab as Record<string, number>;
  const scores = new Float32Array(vocabSize);
  const scored = new Uint8Array(vocabSize);
  for (const [rank, m] of ((model.merges ?? []) as (string | string[])[]).entries()) {
    const pair = Array.isArray(m) ? m : m.split(' ');
    if (pair.length !== 2)
      throw new ExportError(`tokenizer.json: merge ${rank} ${JSON.stringify(m)} is not two tokens; write merges as ["a", "b"] pairs`);
    const id = vocab[pair[0] + pair[1]];
    if (id === undefined)
      throw new ExportError(`tokenizer.json: merge ${rank} ${JSON.stringify(m)} makes a token that is not in the vocab`);
    if (id < vocabSize && !scored[id]) {
      scored[id] = 1;
      scores[id] = -rank;
    }
  }
  return scores;
}

/** Whether tokenizer.json's model is SentencePiece-derived (llama.cpp's "llama" vocab rather than "gpt2"). */
export function isSentencePiece(model: Json): boolean {
  return model.type === 'Unigram' || (model.type === 'BPE' && model.byte_fallback === true);
}

/** Refuses a SentencePiece-derived model llama.cpp's SPM tokenizer would tokenize differently. */
export function checkSpmModel(model: Json): void {
  if (model.type === 'Unigram')
    throw new ExportError(
      'tokenizer.json: a Unigram model segments text by Viterbi over piece scores, and llama.cpp\'s SentencePiece ("llama") ' +
        'tokenizer merges pairs greedily by score, so the GGUF would tokenize differently; webtune writes GGUF for ' +
        'SentencePiece BPE (byte_fallback) and byte-level BPE tokenizers',
    );
  if (!isObject(model.vocab)) throw new ExportError('tokenizer.json: the BPE "vocab" must be an object of token -> id');
  for (const b of Array.from({ length: 256 }, (_, i) => `<0x${i.toString(16).toUpperCase().padStart(2, '0')}>`))
    if (!(b in model.vocab))
      throw new ExportError(
        `tokenizer.json: byte_fallback is set but the vocab has no ${b} token; llama.cpp's SentencePiece tokenizer writes uncovered bytes as <0xNN> tokens`,
      );
}

/** The type of a model-vocab token in an SPM vocab. */
export const spmTokenType = (token: string, unk: string | undefined): number =>
  token === unk ? TOKEN_TYPE.unknown : /^<0x[0-9A-F]{2}>$/.test(token) ? TOKEN_TYPE.byte : TOKEN_TYPE.normal;
