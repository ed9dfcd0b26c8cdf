// Sampling and the decoding loop, without a GPU: greedy is argmax, temperature divides the logits, top-p keeps the
// smallest set of most likely tokens whose mass reaches p, a seed repeats a run, and a stop id ends it unemitted.
import { seededRandom } from '@webtune/kernels';
import { describe, expect, it } from 'vitest';
import { decode, type GenerateOptions, sampleNext } from './generate.ts';

/** A rand() that returns `u` every time: sampleNext then picks the token where the kept mass first reaches u. */
const fixed = (u: number) => () => u;
const opts = { temperature: 1, topP: 1, vocabLimit: 100 };

describe('sampleNext', () => {
  it('temperature 0 is argmax (the first of equal maxima), within vocabLimit', () => {
    const logits = Float32Array.from([0.5, 3, -1, 3, 9]);
    expect(sampleNext(logits, { ...opts, temperature: 0 }, fixed(0.5))).toBe(4);
    // Ids at or past vocabLimit (rows of vocab_size the tokenizer does not have) are never produced.
    expect(sampleNext(logits, { ...opts, temperature: 0, vocabLimit: 4 }, fixed(0.5))).toBe(1);
    expect(sampleNext(Float32Array.from([-2, -2]), { ...opts, temperature: 0 }, fixed(0.9))).toBe(0);
  });

  it('temperature t samples from softmax(logits / t)', () => {
    // logits [0, ln 2]: at t = 1, p = [1/3, 2/3]; sorted by probability, token 1 covers u in (0, 2/3], token 0 the rest.
    const logits = Float32Array.from([0, Math.LN2]);
    expect(sampleNext(logits, opts, fixed(0.66))).toBe(1);
    expect(sampleNext(logits, opts, fixed(0.67))).toBe(0);
    // At t = 2, p ∝ [1, sqrt 2]: token 1 has sqrt2 / (1 + sqrt2) = 0.5858 of the mass.
    expect(sampleNext(logits, { ...opts, temperature: 2 }, fixed(0.585))).toBe(1);
    expect(sampleNext(logits, { ...opts, temperature: 2 }, fixed(0.587))).toBe(0);
    // At t = 0.5, p ∝ [1, 4]: 0.8.
    expect(sampleNext(logits, { ...opts, temperature: 0.5 }, fixed(0.799))).toBe(1);
    expect(sampleNext(logits, { ...opts, temperature: 0.5 }, fixed(0.801))).toBe(0);
  });

  it('top-p keeps the smallest set of most likely tokens whose probability reaches p, and renormalises over it', () => {
    // p = [0.1, 0.5, 0.15, 0.25] (token 1, then 3, 2, 0). u = 0.9999 picks the last token kept.
    const logits = Float32Array.from([0.1, 0.5, 0.15, 0.25].map(Math.log));
    const last = (topP: number) => sampleNext(logits, { ...opts, topP }, fixed(0.9999));
    expect(last(0.3)).toBe(1); // 0.5 >= 0.3: the top token alone
    expect(last(0.6)).toBe(3); // 0.5 < 0.6 <= 0.75
    expect(last(0.8)).toBe(2); // 0.75 < 0.8 <= 0.9
    expect(last(0.95)).toBe(0);
    expect(last(1)).toBe(0);
    // Renormalised over {1, 3} (p 0.6): token 1 covers u up to 0.5 / 0.75 = 0.667.
    expect(sampleNext(logits, { ...opts, topP: 0.6 }, fixed(0.66))).toBe(1);
    expect(sampleNext(logits, { ...opts, topP: 0.6 }, fixed(0.67))).toBe(3);
  });

  it('is repeatable from a seed, and another seed draws otherwise', () => {
    const logits = Float32Array.from({ length: 50 }, (_, i) => Math.sin(i));
    const draw = (seed: number) => {
      const rand = seededRandom(seed);
      return Array.from({ length: 40 }, () => sampleNext(logits, { ...opts, temperature: 1.5, topP: 0.9 }, rand));
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(8)).not.toEqual(draw(7));
    // Every draw is one of the tokens top-p keeps.
    const p = Array.from(logits, (l) => Math.exp(l / 1.5));
    const order = p.map((_, i) => i).sort((a, b) => p[b] - p[a]);
    const total = p.reduce((a, b) => a + b, 0);
    const kept = new Set<number>();
    for (let mass = 0, k = 0; mass < 0.9 * total; k++) {
      kept.add(order[k]);
      mass += p[order[k]];
    }
    for (const id of draw(7)) expect(kept.has(id), `token ${id}`).toBe(true);
  });
});

describe('decode', () => {
  /** A model that answers `script[k]` at its k-th call (a one-hot row of logits) and records what it was fed. */
  function scripted(script: number[]) {
    const calls: string[] = [];
    const next = async (input: number[], pos: number) => {
      calls.push(`${input.join(' ')} @${pos}`);
      const logits = new Float32Array(10).fill(-5);
      logits[script[calls.length - 1]] = 5;
      return logits;
    };
    return { calls, next };
  }
  const o: GenerateOptions = { maxNewTokens: 8, temperature: 0, topP: 1, seed: 0, stopIds: [2], vocabLimit: 10 };

  it('feeds the prompt, then each new token at the next position, and stops at a stop id without emitting it', async () => {
    const m = scripted([5, 7, 2, 9]);
    const emitted: number[] = [];
    const seen: number[] = [];
    const out = await decode([1, 4, 4], { ...o, onToken: (id) => emitted.push(id), onLogits: (l) => seen.push(l.indexOf(5)) }, m.next);
    expect(out).toEqual([5, 7]);
    expect(emitted).toEqual([5, 7]);
    expect(seen).toEqual([5, 7, 2]);
    expect(m.calls).toEqual(['1 4 4 @0', '5 @3', '7 @4']);
  });

  it('stops at any of the stop ids (the tokenizer EOS and the config eos_token_id list)', async () => {
    expect(await decode([1], { ...o, stopIds: [2, 3] }, scripted([6, 3, 2]).next)).toEqual([6]);
  });

  it('stops after max_new_tokens, without a forward pass more', async () => {
    const m = scripted([5, 6, 7, 8]);
    expect(await decode([1], { ...o, maxNewTokens: 2 }, m.next)).toEqual([5, 6]);
    expect(m.calls).toHaveLength(2);
    expect(await decode([1], { ...o, maxNewTokens: 0 }, m.next)).toEqual([]);
  });

  it('refuses logits that are not finite, naming the token, instead of drawing token 0 (a NUL) from NaN', async () => {
    const emitted: number[] = [];
    const next = async (_: number[], pos: number) => {
      const logits = new Float32Array(12).fill(-5); // the last two are past vocabLimit: never read
      logits[5] = 5;
      if (pos > 0) logits.fill(Number.NaN, 0, 3);
      logits[11] = Number.NaN;
      return logits;
    };
    await expect(decode([1], { ...o, onToken: (id) => emitted.push(id) }, next)).rejects.toThrow(
      'Generation stopped at new token 2: 3 of the 10 logits are NaN or infinite',
    );
    expect(emitted).toEqual([5]);
  });

  it('stops when the signal is aborted', async () => {
    const stop = new AbortController();
    const m = scripted([5, 6, 7]);
    const out = await decode([1], { ...o, signal: stop.signal, onToken: () => stop.abort() }, m.next);
    expect(out).toEqual([5]);
    expect(m.calls).toHaveLength(1);
  });
});
