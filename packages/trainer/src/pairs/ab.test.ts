import { describe, expect, it } from 'vitest';
import { type AbRow, blindRow, exportAb, firstLabel, pairsFromAb, readVerdicts, summariseAb } from './ab.ts';
import { PairsError } from './errors.ts';
import { wilsonInterval } from './wilson.ts';

const models = { first: 'SFT', second: 'SFT+DPO' };
const rows: AbRow[] = [
  { id: 'q1', prompt: 'Sky?', first: 'Green.', second: 'Blue.', firstIs: 'A' },
  { id: 'q2', prompt: 'Grass?', first: 'Green.', second: 'Red.', firstIs: 'B' },
  { id: 'q3', prompt: 'Sun?', first: 'Hot.', second: 'Warm.', firstIs: 'B' },
  { id: 'q4', prompt: 'Sea?', first: 'Wet.', second: 'Salty.', firstIs: 'A' },
];
const jsonl = (...r: unknown[]) => r.map((x) => JSON.stringify(x)).join('\n');

describe('blind A/B', () => {
  it('draws sides per prompt from the seed, both sides used, replayed exactly', () => {
    const sides = Array.from({ length: 40 }, (_, i) => firstLabel(3, i));
    expect(new Set(sides)).toEqual(new Set(['A', 'B']));
    expect(Array.from({ length: 40 }, (_, i) => firstLabel(3, i))).toEqual(sides);
    expect(Array.from({ length: 40 }, (_, i) => firstLabel(4, i))).not.toEqual(sides);
  });

  it('shows the judge answers under their labels only', () => {
    expect(blindRow(rows[1])).toEqual({ id: 'q2', prompt: 'Grass?', A: 'Red.', B: 'Green.' });
    expect(Object.keys(blindRow(rows[0])).sort()).toEqual(['A', 'B', 'id', 'prompt']);
  });

  it('summarises verdicts into wins per model, ties split, with Wilson intervals', () => {
    const verdicts = readVerdicts(
      jsonl({ id: 'q1', verdict: 'B' }, { id: 'q2', verdict: 'A' }, { id: 'q3', verdict: 'tie' }),
      'v.jsonl',
      rows,
    );
    const judged = rows.map((r) => ({ ...r, verdict: verdicts.get(r.id) }));
    const s = summariseAb(judged, models, 'split');
    // q1: B is SFT+DPO; q2: A is SFT+DPO (first is B); q3 tie; q4 not judged.
    expect(s.first).toMatchObject({ name: 'SFT', wins: 0 });
    expect(s.second).toMatchObject({ name: 'SFT+DPO', wins: 2 });
    expect(s).toMatchObject({ prompts: 4, judged: 3, tied: 1, ties: 'split' });
    expect(s.second.rate).toBeCloseTo(2.5 / 3, 12);
    expect(s.second.interval.low).toBeCloseTo(wilsonInterval(2.5, 3).low, 12);
    expect(s.table.map((t) => t.winner)).toEqual(['SFT+DPO', 'SFT+DPO', 'tie', null]);
    const excluded = summariseAb(judged, models, 'excluded');
    expect(excluded.second.rate).toBe(1);
    expect(excluded.second.interval.low).toBeCloseTo(wilsonInterval(2, 2).low, 12);
    expect(excluded.second.interval.high).toBe(1);

    expect(pairsFromAb(judged, models)).toEqual([
      {
        prompt: 'Sky?',
        chosen: 'Blue.',
        rejected: 'Green.',
        provenance: { id: 'q1', source: 'ab', chosen_model: 'SFT+DPO', rejected_model: 'SFT', verdict: 'B' },
      },
      {
        prompt: 'Grass?',
        chosen: 'Red.',
        rejected: 'Green.',
        provenance: { id: 'q2', source: 'ab', chosen_model: 'SFT+DPO', rejected_model: 'SFT', verdict: 'A' },
      },
    ]);
    expect(JSON.parse(exportAb(judged, models).split('\n')[1])).toEqual({
      id: 'q2',
      prompt: 'Grass?',
      SFT: 'Green.',
      'SFT+DPO': 'Red.',
      A: 'SFT+DPO',
      verdict: 'A',
      winner: 'SFT+DPO',
    });
  });

  it('refuses bad verdict lines by line', () => {
    const bad = (text: string) => () => readVerdicts(text, 'v.jsonl', rows);
    expect(bad(jsonl({ id: 'q1', verdict: 'a' }))).toThrow(
      new PairsError('v.jsonl line 1: each line must be {"id": "<prompt id>", "verdict": "A" | "B" | "tie"} (got "a")'),
    );
    expect(bad(jsonl({ id: 'q1', verdict: 'A' }, { id: 'q9', verdict: 'A' }))).toThrow(
      new PairsError('v.jsonl line 2: id "q9" is not a prompt of this A/B run'),
    );
    expect(bad(jsonl({ id: 'q1', verdict: 'A' }, { id: 'q1', verdict: 'B' }))).toThrow(
      new PairsError('v.jsonl line 2: id "q1" has a verdict already'),
    );
    expect(bad('')).toThrow(new PairsError('v.jsonl: no verdicts: the file is empty'));
    expect(bad('[1]')).toThrow(
      new PairsError('v.jsonl line 1: each line must be {"id": "<prompt id>", "verdict": "A" | "B" | "tie"} (got a list)'),
    );
  });
});
