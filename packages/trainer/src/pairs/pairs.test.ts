// Candidates -> a judge's scores -> pairs -> TRL's file, which the DPO reader takes back as written.
import { describe, expect, it } from 'vitest';
import { readDpoDataset } from '../data/formats.ts';
import { type CandidateSet, candidateSeeds, checkCandidateCount, readCandidates, writeCandidates } from './candidates.ts';
import { PairsError } from './errors.ts';
import { pairsFromScores, readScores, writePairs } from './pairs.ts';

const sampling = { temperature: 0.8, top_p: 1, max_new_tokens: 32, seed: 7 };
const set = (id: string, candidates: string[], prompt: CandidateSet['prompt'] = `Q${id}?`): CandidateSet => ({
  id,
  prompt,
  candidates,
  model: 'demo',
  adapter: 'sft',
  sampling,
  seeds: candidateSeeds(7, Number(id.slice(1)), candidates.length),
});
const jsonl = (...rows: unknown[]) => rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n');

describe('candidates files', () => {
  it('round-trip, seeds distinct per candidate and per prompt and the same for the same run', () => {
    const sets = [set('p0', ['a', 'b', 'c']), set('p1', ['d', 'e'], [{ role: 'user', content: 'Hi' }])];
    expect(readCandidates(writeCandidates(sets), 'c.jsonl')).toEqual(sets);
    const seeds = [...candidateSeeds(7, 0, 4), ...candidateSeeds(7, 1, 4)];
    expect(new Set(seeds).size).toBe(8);
    expect(candidateSeeds(7, 1, 4)).toEqual(candidateSeeds(7, 1, 4));
  });

  it('refuse a bad row by line', () => {
    const ok = { id: 'p0', prompt: 'Q', candidates: ['a', 'b'] };
    const cases: [unknown, string][] = [
      [{ ...ok, id: 3 }, 'c.jsonl line 2: field "id" must be a non-empty string (got a number)'],
      [ok, 'c.jsonl line 2: id "p0" is also on line 1: every prompt needs its own id'],
      [{ ...ok, id: 'p1', candidates: ['a'] }, 'c.jsonl line 2: field "candidates" has 1 answers: give 2 to 4'],
      [{ ...ok, id: 'p1', candidates: 'a' }, 'c.jsonl line 2: field "candidates" must be a list of answer strings (got a string)'],
      [{ ...ok, id: 'p1', prompt: '' }, 'c.jsonl line 2: field "prompt" is empty'],
      [{ ...ok, id: 'p1', prompt: 4 }, 'c.jsonl line 2: field "prompt" is not a list of messages: got a number'],
      ['{oops', 'c.jsonl line 2: invalid JSON'],
    ];
    for (const [bad, message] of cases) {
      const err = (() => {
        try {
          readCandidates(jsonl(ok, bad), 'c.jsonl');
        } catch (e) {
          return e as Error;
        }
      })();
      expect(err, message).toBeInstanceOf(PairsError);
      expect(err?.message.startsWith(message), `${err?.message} / ${message}`).toBe(true);
    }
    expect(() => readCandidates('', 'c.jsonl')).toThrow(new PairsError('c.jsonl: no candidates: the file is empty'));
    expect(() => checkCandidateCount(5)).toThrow(new PairsError('the number of candidates must be a whole number from 2 to 4 (got 5)'));
    expect(() => checkCandidateCount(1, '--k')).toThrow(new PairsError('--k must be a whole number from 2 to 4 (got 1)'));
  });
});

describe('pairs from scores', () => {
  const sets = [set('p0', ['good', 'bad', 'ok']), set('p1', ['x', 'y']), set('p2', ['same', 'same']), set('p3', ['m', 'n'])];

  it('takes best vs worst per prompt, drops and counts ties, lists the unscored', () => {
    const scores = readScores(
      jsonl({ id: 'p0', scores: [3, 1, 2] }, { id: 'p1', scores: [2, 2] }, { id: 'p2', scores: [5, 1] }),
      's.jsonl',
    );
    const r = pairsFromScores(sets, scores, 's.jsonl');
    expect(r.tied).toEqual(['p1', 'p2']);
    expect(r.unscored).toEqual(['p3']);
    expect(r.pairs).toEqual([
      {
        prompt: 'Qp0?',
        chosen: 'good',
        rejected: 'bad',
        provenance: {
          id: 'p0',
          source: 'scores',
          model: 'demo',
          adapter: 'sft',
          sampling,
          chosen_index: 0,
          rejected_index: 1,
          chosen_seed: sets[0].seeds[0],
          rejected_seed: sets[0].seeds[1],
          scores: [3, 1, 2],
        },
      },
    ]);
  });

  it('refuses scores that do not fit the candidates, by line', () => {
    const bad = (text: string) => () => pairsFromScores(sets, readScores(text, 's.jsonl'), 's.jsonl');
    expect(bad(jsonl({ id: 'p9', scores: [1, 2] }))).toThrow(new PairsError('s.jsonl line 1: id "p9" is not in the candidates file'));
    expect(bad(jsonl({ id: 'p1', scores: [1, 2] }, { id: 'p0', scores: [1] }))).toThrow(
      new PairsError('s.jsonl line 2: 1 scores for "p0", which has 3 candidates: give one score per candidate, in order'),
    );
    expect(bad(jsonl({ id: 'p1', scores: [1, 2] }, { id: 'p1', scores: [1, 2] }))).toThrow(
      new PairsError('s.jsonl line 2: id "p1" is scored again (first on line 1)'),
    );
    expect(bad(jsonl({ id: 'p1', scores: [1, '2'] }))).toThrow(
      new PairsError('s.jsonl line 1: each line must be {"id": "<candidates id>", "scores": [<a number per candidate>]}'),
    );
    expect(bad('\n')).toThrow(new PairsError('s.jsonl: no scores: the file is empty'));
  });
});

describe('writePairs', () => {
  const pair = (id: string, prompt: CandidateSet['prompt']) => ({
    prompt,
    chosen: 'Blue.',
    rejected: 'Green.',
    provenance: { id, source: 'human' as const, edited: true },
  });

  it('writes TRL rows the DPO reader takes back, and the sidecar line for line', () => {
    const text = writePairs([pair('a', 'Sky?'), pair('b', 'Grass?')]);
    const r = readDpoDataset(text.data, 'pairs.jsonl');
    expect(r.format).toBe('standard');
    expect(r.rows[0]).toEqual({ kind: 'standard', prompt: 'Sky?', chosen: 'Blue.', rejected: 'Green.' });
    expect(text.provenance).toBe(
      '{"line":1,"id":"a","source":"human","edited":true}\n{"line":2,"id":"b","source":"human","edited":true}\n',
    );
    const chat = readDpoDataset(writePairs([pair('c', [{ role: 'user', content: 'Sky?' }])]).data, 'pairs.jsonl');
    expect(chat.format).toBe('conversational');
    expect(chat.rows[0]).toEqual({
      kind: 'conversational',
      prompt: [{ role: 'user', content: 'Sky?' }],
      chosen: [{ role: 'assistant', content: 'Blue.' }],
      rejected: [{ role: 'assistant', content: 'Green.' }],
    });
  });

  it('refuses nothing to save and mixed prompt kinds', () => {
    expect(() => writePairs([])).toThrow(
      new PairsError('no pairs to save: judge or score at least one prompt with a better and a worse answer'),
    );
    expect(() => writePairs([pair('a', 'Sky?'), pair('b', [{ role: 'user', content: 'x' }])])).toThrow(
      new PairsError('pair "b" has a chat prompt but "a" a text one: one DPO file holds one kind'),
    );
  });
});
