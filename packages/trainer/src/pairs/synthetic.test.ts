// Synthetic pairs: SFT's answer over the base model's, or over a degraded copy; labelled synthetic, line for line in
// the provenance sidecar; same answers and missing prompts counted, different prompts refused.
import { describe, expect, it } from 'vitest';
import type { CandidateSet } from './candidates.ts';
import { writePairs } from './pairs.ts';
import { degradedAnswer, degradedPairs, syntheticPairs } from './synthetic.ts';

const set = (id: string, prompt: string, answer: string, adapter: string | null): CandidateSet => ({
  id,
  prompt,
  candidates: [answer, `${answer} again`],
  model: 'demo',
  adapter,
  sampling: { temperature: 0, top_p: 1, max_new_tokens: 32, seed: 5 },
  seeds: [11, 12],
});

const sft = [
  set('p1', 'A fox?', 'Name: Fox\nHome: woods', 'sft'),
  set('p2', 'A cat?', 'Name: Cat\nHome: house', 'sft'),
  set('p3', 'An owl?', 'Name: Owl', 'sft'),
];
const base = [set('p1', 'A fox?', 'foxes are nice', null), set('p2', 'A cat?', 'Name: Cat\nHome: house', null)];

describe('syntheticPairs', () => {
  it("puts the SFT model's answer over the base model's, labelled synthetic with both origins", () => {
    const made = syntheticPairs(sft, base);
    expect(made.pairs.map((p) => [p.prompt, p.chosen, p.rejected])).toEqual([['A fox?', 'Name: Fox\nHome: woods', 'foxes are nice']]);
    expect(made.same).toEqual(['p2']);
    expect(made.missing).toEqual(['p3']);
    const { data, provenance } = writePairs(made.pairs);
    expect(JSON.parse(data)).toEqual({ prompt: 'A fox?', chosen: 'Name: Fox\nHome: woods', rejected: 'foxes are nice' });
    expect(JSON.parse(provenance)).toEqual({
      line: 1,
      id: 'p1',
      source: 'synthetic',
      rule: 'chosen model over rejected model',
      chosen_from: { model: 'demo', adapter: 'sft', sampling: sft[0].sampling, seed: 11 },
      rejected_from: { model: 'demo', adapter: null, sampling: base[0].sampling, seed: 11 },
    });
  });

  it('refuses sets whose prompts differ under one id', () => {
    expect(() => syntheticPairs(sft, [set('p1', 'A wolf?', 'x', null)])).toThrow(
      'prompt "p1" differs between the two candidates files: make both from the same prompts file',
    );
  });
});

describe('degradedPairs', () => {
  it('cuts an answer to the first half of its words', () => {
    expect(degradedAnswer('one two three four five')).toBe('one two');
    expect(degradedAnswer(' word ')).toBe('');
  });

  it('puts each answer over its degraded copy, labelled synthetic', () => {
    const made = degradedPairs(sft);
    expect(made.pairs.map((p) => p.rejected)).toEqual(['Name: Fox', 'Name: Cat', 'Name:']);
    expect(made.pairs[0].provenance).toMatchObject({ source: 'synthetic', rule: 'answer over its first half (degraded)' });
  });
});
