import { describe, expect, it } from 'vitest';
import { ExportError } from '../files.ts';
import { FIXTURE_ROOT, readFolder } from '../testing/node-fixtures.ts';
import { preTokenizerName, tokenizerMetadata } from './tokenizer.ts';

describe('GGUF tokenizer metadata', () => {
  it('refuses a pre-tokenizer llama.cpp has no twin for, naming it', () => {
    const metaspace = { normalizer: null, pre_tokenizer: { type: 'Metaspace', replacement: '▁' } };
    expect(() => preTokenizerName(metaspace)).toThrow(/tokenizer\.json: its pre-tokenizer matches none llama\.cpp has built in.*Metaspace/);
    const prefix = { normalizer: null, pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, use_regex: true } };
    expect(() => preTokenizerName(prefix)).toThrow(/adds a prefix space/);
  });
  const bytes = Object.fromEntries(Array.from({ length: 256 }, (_, i) => [`<0x${i.toString(16).toUpperCase().padStart(2, '0')}>`, 3 + i]));
  const spm = (extra: Record<string, unknown> = {}) => ({
    model: {
      type: 'BPE',
      byte_fallback: true,
      unk_token: '<unk>',
      vocab: { '<unk>': 0, '<s>': 1, '</s>': 2, ...bytes, '▁': 259, a: 260, b: 261, '▁a': 262, ab: 263, '▁ab': 264 },
      merges: [
        ['▁', 'a'],
        ['a', 'b'],
        ['▁a', 'b'],
        ['▁', 'ab'],
      ],
    },
    added_tokens: [
      { id: 0, content: '<unk>', special: true },
      { id: 1, content: '<s>', special: true },
      { id: 2, content: '</s>', special: true },
    ],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
    ...extra,
  });
  it('writes a SentencePiece BPE (byte_fallback) as llama.cpp\'s "llama" vocab: scores from merge ranks, byte and unknown types', () => {
    const meta = new Map(tokenizerMetadata(spm(), { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>' }, 266));
    expect(meta.get('tokenizer.ggml.model')?.value).toBe('llama');
    expect(meta.has('tokenizer.ggml.merges')).toBe(false);
    expect(meta.get('tokenizer.ggml.add_space_prefix')?.value).toBe(true);
    // "▁ab" is made first by merge 2 ("▁a" "b"), not by merge 3 ("▁" "ab"): its score is -2.
    expect(Array.from(meta.get('tokenizer.ggml.scores')?.value as Float32Array).slice(259)).toEqual([0, 0, 0, -0, -1, -2, 0]);
    const types = Array.from(meta.get('tokenizer.ggml.token_type')?.value as Int32Array);
    expect([types[0], types[1], types[3], types[258], types[260], types[265]]).toEqual([2, 3, 6, 6, 1, 5]);
    expect(meta.get('tokenizer.ggml.unknown_token_id')?.value).toBe(0);
    const gemma = spm({ normalizer: { type: 'Replace', pattern: { String: ' ' }, content: '▁' } });
    expect(new Map(tokenizerMetadata(gemma, {}, 266)).get('tokenizer.ggml.add_space_prefix')?.value).toBe(false);
  });
  it('refuses, by name, SentencePiece tokenizers llama.cpp would tokenize differently', () => {
    const metaspace = spm({ normalizer: null, pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first' } });
    expect(() => tokenizerMetadata(metaspace, {}, 266)).toThrow(
      /tokenizer\.json: normalizer null with pre_tokenizer .*Metaspace.* has no exact twin/,
    );
    const unigram = { model: { type: 'Unigram', vocab: [['a', -1]] }, normalizer: null, pre_tokenizer: null };
    expect(() => tokenizerMetadata(unigram, {}, 1)).toThrow(/a Unigram model segments text by Viterbi/);
    const noBytes = spm();
    delete (noBytes.model.vocab as Record<string, number>)['<0x41>'];
    expect(() => tokenizerMetadata(noBytes, {}, 266)).toThrow(/byte_fallback is set but the vocab has no <0x41> token/);
    const badMerge = spm();
    badMerge.model.merges.push(['b', 'a']);
    expect(() => tokenizerMetadata(badMerge, {}, 266)).toThrow(/merge 4 \["b","a"\] makes a token that is not in the vocab/);
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
  it('refuses an added token past the embedding rows (a token added without resizing the embeddings), naming it', () => {
    // qwen2-bias-f16: 310 embedding rows (config.json's vocab_size); its tokenizer's ids end at 294.
    const files = readFolder(`${FIXTURE_ROOT}/qwen2-bias-f16`);
    const tok = JSON.parse(new TextDecoder().decode(files.get('tokenizer.json')));
    const config = JSON.parse(new TextDecoder().decode(files.get('tokenizer_config.json')));
    expect(new Map(tokenizerMetadata(tok, config, 310)).get('tokenizer.ggml.tokens')?.value).toHaveLength(310);
    tok.added_tokens.push({ id: 310, content: '<tool_call>', special: false });
    expect(() => tokenizerMetadata(tok, config, 310)).toThrow(
      new ExportError('tokenizer.json: added token "<tool_call>" has id 310, past the model\'s 310 embedding rows'),
    );
  });
});
