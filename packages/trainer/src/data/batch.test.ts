import { readFileSync } from 'node:fs';
import { IGNORE_INDEX as KERNELS_IGNORE } from '@webtune/kernels';
import { describe, expect, it } from 'vitest';
import { dpoBatch, IGNORE_INDEX, paddedLength, sftBatch, shuffled } from './batch.ts';
import { prepareDpo, prepareSft, type Sequence } from './tokenize.ts';
import { TextTokenizer } from './tokenizer.ts';

const I = IGNORE_INDEX;
const read = (name: string, file: string) =>
  JSON.parse(readFileSync(new URL(`../../test/fixtures/${name}/${file}`, import.meta.url), 'utf8'));
const rows = <T>(a: ArrayLike<T>, T: number) => Array.from({ length: a.length / T }, (_, s) => Array.from(a).slice(s * T, (s + 1) * T));

describe('paddedLength', () => {
  it('rounds up to the multiple, at least one multiple', () => {
    expect([0, 1, 7, 8, 9, 16, 17].map((n) => paddedLength(n))).toEqual([8, 8, 8, 8, 16, 16, 24]);
    expect([1, 5, 9].map((n) => paddedLength(n, 1))).toEqual([1, 5, 9]);
    expect(paddedLength(100, 64)).toBe(128);
  });

  it('rejects bad arguments', () => {
    expect(() => paddedLength(-1)).toThrow('paddedLength: length must be a non-negative integer, got -1');
    expect(() => paddedLength(1.5)).toThrow('paddedLength: length must be a non-negative integer, got 1.5');
    expect(() => paddedLength(4, 0)).toThrow('paddedLength: multiple must be a positive integer, got 0');
  });
});

describe('sftBatch', () => {
  it('right pads, numbers positions, and shifts targets onto completion tokens only', () => {
    const a: Sequence = { ids: [10, 11, 12, 13, 14], completionStart: 2 };
    const b: Sequence = { ids: [20, 21, 22], completionStart: 0 };
    const batch = sftBatch(
      [
        { line: 1, seq: a },
        { line: 2, seq: b },
      ],
      99,
    );
    expect([batch.B, batch.T]).toEqual([2, 8]);
    expect(rows(batch.ids, 8)).toEqual([
      [10, 11, 12, 13, 14, 99, 99, 99],
      [20, 21, 22, 99, 99, 99, 99, 99],
    ]);
    expect(rows(batch.positions, 8)).toEqual([
      [0, 1, 2, 3, 4, 5, 6, 7],
      [0, 1, 2, 3, 4, 5, 6, 7],
    ]);
    // Row t predicts token t+1: prompt tokens (10, 11) and the first token of a prompt-less sequence are never
    // targets; the last real position and padding have none.
    expect(rows(batch.targets, 8)).toEqual([
      [I, 12, 13, 14, I, I, I, I],
      [21, 22, I, I, I, I, I, I],
    ]);
    expect(batch.tokens).toBe(5);
  });

  it('uses the kernels IGNORE_INDEX', () => {
    expect(IGNORE_INDEX).toBe(KERNELS_IGNORE);
    expect(IGNORE_INDEX).toBe(0xffffffff);
  });

  it('rejects bad input', () => {
    const ok = { line: 1, seq: { ids: [1, 2], completionStart: 1 } };
    expect(() => sftBatch([], 0)).toThrow('sftBatch: no examples');
    expect(() => sftBatch([ok], -1)).toThrow('pad id must be a token id, got -1');
    expect(() => sftBatch([ok], IGNORE_INDEX)).toThrow('pad id must be a token id, got 4294967295');
    expect(() => sftBatch([{ line: 1, seq: { ids: [1, 2], completionStart: 3 } }], 0)).toThrow(
      'sequence 0: completionStart 3 is outside its 2 tokens',
    );
    expect(() => sftBatch([ok, { line: 2, seq: { ids: [1, 2.5], completionStart: 1 } }], 0)).toThrow(
      'sequence 1: token 1 is 2.5, not a token id',
    );
  });
});

describe('dpoBatch', () => {
  it('puts chosen in rows 0..P-1 and rejected in P..2P-1, one T for all, with a mask of the targets', () => {
    const batch = dpoBatch(
      [
        { line: 1, chosen: { ids: [1, 2, 3], completionStart: 1 }, rejected: { ids: [1, 2, 4, 5, 6, 7, 8, 9, 10], completionStart: 1 } },
        { line: 2, chosen: { ids: [5, 6], completionStart: 1 }, rejected: { ids: [5, 7, 8], completionStart: 1 } },
      ],
      0,
    );
    expect([batch.B, batch.T]).toEqual([4, 16]);
    const ids = rows(batch.ids, 16).map((r) => r.slice(0, 9));
    expect(ids).toEqual([
      [1, 2, 3, 0, 0, 0, 0, 0, 0],
      [5, 6, 0, 0, 0, 0, 0, 0, 0],
      [1, 2, 4, 5, 6, 7, 8, 9, 10],
      [5, 7, 8, 0, 0, 0, 0, 0, 0],
    ]);
    const targets = rows(batch.targets, 16).map((r) => r.slice(0, 9));
    expect(targets).toEqual([
      [2, 3, I, I, I, I, I, I, I],
      [6, I, I, I, I, I, I, I, I],
      [2, 4, 5, 6, 7, 8, 9, 10, I],
      [7, 8, I, I, I, I, I, I, I],
    ]);
    expect(rows(batch.targets, 16).every((r) => r.slice(9).every((t) => t === I))).toBe(true);
    expect(Array.from(batch.mask)).toEqual(Array.from(batch.targets, (t) => (t === I ? 0 : 1)));
    expect(batch.tokens).toBe(13);
    expect(() => dpoBatch([], 0)).toThrow('dpoBatch: no examples');
  });
});

describe.each(['llama-gqa-bf16', 'llama-tied-f32', 'qwen2-bias-f16'])('%s golden inputs', (name) => {
  const golden = read(name, 'golden.json');
  const { input_ids, attention_mask, completion_mask, prompt_lengths, pairs, pad_token_id } = golden.inputs as {
    input_ids: number[][];
    attention_mask: number[][];
    completion_mask: number[][];
    prompt_lengths: number[];
    pairs: [number, number][];
    pad_token_id: number;
  };
  const T = input_ids[0].length;
  const seqs: Sequence[] = input_ids.map((ids, b) => ({
    ids: ids.slice(
      0,
      attention_mask[b].reduce((n, m) => n + m, 0),
    ),
    completionStart: prompt_lengths[b],
  }));

  it('reproduces the golden batch: padding, and a target exactly where the next token is a completion token', () => {
    const batch = dpoBatch(
      pairs.map(([c, r], p) => ({ line: p + 1, chosen: seqs[c], rejected: seqs[r] })),
      pad_token_id,
    );
    expect(pairs).toEqual([
      [0, 2],
      [1, 3],
    ]);
    expect(batch.B).toBe(4);
    expect(batch.T).toBe(paddedLength(T));
    for (let b = 0; b < 4; b++) {
      const row = (a: ArrayLike<number>) => Array.from(a).slice(b * batch.T, (b + 1) * batch.T);
      expect(row(batch.ids).slice(0, T)).toEqual(input_ids[b]);
      expect(
        row(batch.ids)
          .slice(T)
          .every((id) => id === pad_token_id),
      ).toBe(true);
      expect(row(batch.positions)).toEqual(Array.from({ length: batch.T }, (_, t) => t));
      // golden: token_logps[b, t] counts when completion_mask[b, t] = 1 (t >= 1); ours: row t predicts token t+1.
      const want = Array.from({ length: batch.T }, (_, t) => (t + 1 < T && completion_mask[b][t + 1] === 1 ? input_ids[b][t + 1] : I));
      expect(row(batch.targets)).toEqual(want);
      expect(row(batch.mask).reduce((n, m) => n + m, 0)).toBe(golden.completion_token_counts[b]);
    }
    expect(batch.tokens).toBe(golden.num_completion_tokens);
    const sft = sftBatch(
      seqs.map((seq, i) => ({ line: i + 1, seq })),
      pad_token_id,
    );
    expect(Array.from(sft.targets)).toEqual(Array.from(batch.targets));
    expect(sft.tokens).toBe(golden.num_completion_tokens);
  });
});

describe('tokenised data into batches', () => {
  it('counts every completion token, EOS included, and nothing of the prompt', () => {
    const tok = TextTokenizer.fromJson(read('qwen2-bias-f16', 'tokenizer.json'), read('qwen2-bias-f16', 'tokenizer_config.json'));
    const sft = prepareSft(
      tok,
      [
        { kind: 'prompt-completion', prompt: 'Hello', completion: ' world!' },
        { kind: 'text', text: 'Hi' },
      ],
      [1, 2],
      64,
    );
    const batch = sftBatch(sft.examples, tok.padTokenId);
    const completionTokens = sft.examples.reduce((n, e) => n + e.seq.ids.length - Math.max(e.seq.completionStart, 1), 0);
    expect(batch.tokens).toBe(completionTokens);
    expect(rows(batch.targets, batch.T)[0].filter((t) => t !== I)).toEqual([...tok.encode(' world!'), tok.eosTokenId]);
    expect(rows(batch.ids, batch.T)[1].slice(0, 4)).toEqual([72, 105, 294, 292]);

    const dpo = prepareDpo(tok, [{ kind: 'standard', prompt: 'Q:', chosen: ' yes', rejected: ' no' }], [1], 64);
    const pair = dpoBatch(dpo.examples, tok.padTokenId);
    expect(rows(pair.targets, pair.T).map((r) => r.filter((t) => t !== I))).toEqual([
      [...tok.encode(' yes'), 294],
      [...tok.encode(' no'), 294],
    ]);
  });
});

describe('shuffled', () => {
  const items = Array.from({ length: 50 }, (_, i) => i);

  it('is a permutation fixed by (seed, epoch), leaving its input alone', () => {
    const a = shuffled(items, 42, 0);
    expect(a).toEqual(shuffled(items, 42, 0));
    expect([...a].sort((x, y) => x - y)).toEqual(items);
    expect(a).not.toEqual(items);
    expect(items).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('changes with the epoch and the seed', () => {
    const orders = [shuffled(items, 42, 0), shuffled(items, 42, 1), shuffled(items, 43, 0), shuffled(items, 42 + 2 ** 32, 0)];
    for (let i = 0; i < orders.length; i++) for (let j = i + 1; j < orders.length; j++) expect(orders[i]).not.toEqual(orders[j]);
  });

  it('handles empty and single lists', () => {
    expect(shuffled([], 1, 0)).toEqual([]);
    expect(shuffled(['x'], 1, 0)).toEqual(['x']);
  });
});
