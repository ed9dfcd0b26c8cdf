import { describe, expect, it } from 'vitest';
import { preTokenizerName, tokenizerMetadata } from './tokenizer.ts';

describe('GGUF tokenizer metadata', () => {
  it('refuses a pre-tokenizer llama.cpp has no twin for, naming it', () => {
    const metaspace = { normalizer: null, pre_tokenizer: { type: 'Metaspace', replacement: '▁' } };
    expect(() => preTokenizerName(metaspace)).toThrow(/tokenizer\.json: its pre-tokenizer matches none llama\.cpp has built in.*Metaspace/);
    const prefix = { normalizer: null, pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, use_regex: true } };
    expect(() => preTokenizerName(prefix)).toThrow(/adds a prefix space/);
  });
  it('refuses SentencePiece-style BPE (byte_fallback) with the reason', () => {
    const tok = { model: { type: 'BPE', vocab: { a: 0 }, merges: [], byte_fallback: true }, pre_tokenizer: null, normalizer: null };
    expect(() => tokenizerMetadata(tok, {}, 1)).toThrow(/byte_fallback is SentencePiece-style/);
  });
  it('pads the token list to the embedding rows with UNUSED [PAD<i>] tokens, as the converter does', () => {
    const tok = {
      model: { type: 'BPE', vocab: { a: 0, b: 1 }, merges: [['a', 'b']] },
      added_tokens: [{ id: 2, content: '<s>', special: true }],
      pre_tokenizer: { type: 'ByteLevel', use_regex: true },
      normalizer: null,
    };
    const meta = new Map(tokenizerMetadata(tok, { bos_token: '<s>' }, 5));
    expect(meta.get('tokenizer.ggml.tokens')?.value).toEqual(['a', 'b', '<s>', '[PAD3]', '[PAD4]']);
    expect(Array.from(meta.get('tokenizer.ggml.token_type')?.value as Int32Array)).toEqual([1, 1, 3, 5, 5]);
    expect(meta.get('tokenizer.ggml.merges')?.value).toEqual(['a b']);
    expect(meta.get('tokenizer.ggml.bos_token_id')?.value).toBe(2);
    expect(meta.get('tokenizer.ggml.pre')?.value).toBe('gpt-2');
  });
});
