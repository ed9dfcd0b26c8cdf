// The DPO loop of issue 15 from the command line, on the shipped demo model: candidates for held-out prompts, a
// script's scores, pairs, one DPO step on them, then a blind A/B of the base model against that adapter with a
// verdicts file. Kept small (3 prompts, 8 new tokens, one step): SwiftShader is slow.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@webtune/harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk, expectUsageError, readJson, readJsonl, type Workspace, workspace } from './support/workspace.ts';

const DEMO = join(REPO_ROOT, 'apps/studio/public/demo');
const MODEL = join(DEMO, 'model');
const ws: Workspace = workspace();
afterAll(() => ws.remove());

const PROMPTS = readFileSync(join(DEMO, 'data/eval-prompts.jsonl'), 'utf8').split('\n').slice(0, 3);
const promptsFile = ws.jsonl('prompts.jsonl', PROMPTS);
const GEN = ['--max-new-tokens', '8'];

/** A script judge: prefers the longer answer (ties when equal), so the test knows which candidate wins. */
function scoreByLength(candidatesFile: string): string {
  const rows = readJsonl(candidatesFile) as unknown as { id: string; candidates: string[] }[];
  return ws.jsonl(
    'scores.jsonl',
    rows.map((r) => ({ id: r.id, scores: r.candidates.map((c) => c.length) })),
  );
}

describe('candidates -> scores -> pairs -> train DPO -> ab', () => {
  const candOut = ws.path('candidates');
  const pairsOut = ws.path('pairs');
  const dpoOut = ws.path('dpo');
  const abOut = ws.path('ab');
  const summaryOut = ws.path('ab-summary');
  let candidates: { id: string; prompt: string; candidates: string[]; seeds: number[]; sampling: Record<string, number> }[];

  beforeAll(async () => {
    expectOk(await ws.run(['candidates', '--model', MODEL, '--prompts', promptsFile, '--out', candOut, '--k', '3', '--seed', '5', ...GEN]));
    candidates = readJsonl(join(candOut, 'candidates.jsonl')) as unknown as typeof candidates;
  });

  it('candidates: K answers per prompt with their seeds and sampling', () => {
    expect(candidates.map((c) => c.id)).toEqual(['line-1', 'line-2', 'line-3']);
    expect(candidates.map((c) => c.prompt)).toEqual(PROMPTS.map((p) => JSON.parse(p).prompt));
    for (const c of candidates) {
      expect(c.candidates).toHaveLength(3);
      expect(new Set(c.seeds).size).toBe(3);
      expect(c.sampling).toEqual({ temperature: 0.8, top_p: 1, max_new_tokens: 8, seed: 5 });
    }
  });

  it('pairs --rejected-candidates / --degrade: synthetic pairs, labelled synthetic in the sidecar', async () => {
    const file = join(candOut, 'candidates.jsonl');
    // Another model's candidates for the same prompts: here the same rows with other answers (the first prompt's kept, to be dropped).
    const other = ws.jsonl(
      'base-candidates.jsonl',
      candidates.map((c, i) => ({ ...c, adapter: null, candidates: c.candidates.map((t) => (i === 0 ? t : `base says ${i}`)) })),
    );
    const vsBase = await ws.run(['pairs', '--candidates', file, '--rejected-candidates', other, '--out', ws.path('synthetic')]);
    expectOk(vsBase);
    expect(JSON.parse(vsBase.stdout)).toMatchObject({ pairs: 2, prompts: 3, synthetic: true, same: 1, missing: 0 });
    const rows = readJsonl(join(ws.path('synthetic'), 'pairs.jsonl'));
    expect(rows.map((r) => [r.chosen, r.rejected])).toEqual([
      [candidates[1].candidates[0], 'base says 1'],
      [candidates[2].candidates[0], 'base says 2'],
    ]);
    const prov = readJsonl(join(ws.path('synthetic'), 'pairs.provenance.jsonl'));
    expect(prov.map((p) => [p.line, p.id, p.source, p.rule])).toEqual([
      [1, 'line-2', 'synthetic', 'chosen model over rejected model'],
      [2, 'line-3', 'synthetic', 'chosen model over rejected model'],
    ]);
    const degraded = await ws.run(['pairs', '--candidates', file, '--degrade', '--out', ws.path('degraded')]);
    expectOk(degraded);
    const prov2 = readJsonl(join(ws.path('degraded'), 'pairs.provenance.jsonl')) as unknown as { source: string; rule: string }[];
    expect(prov2.length).toBeGreaterThan(0);
    for (const p of prov2) expect([p.source, p.rule]).toEqual(['synthetic', 'answer over its first half (degraded)']);
    expectUsageError(
      await ws.run(['pairs', '--candidates', file, '--degrade', '--scores', other, '--out', ws.path('both')]),
      'pairs',
      "give one of --scores (a judge), --rejected-candidates or --degrade (synthetic pairs): where each pair's verdict comes from",
    );
  });

  it('pairs: best vs worst per prompt as TRL rows, ties dropped and counted, provenance line for line', async () => {
    const scores = scoreByLength(join(candOut, 'candidates.jsonl'));
    // One prompt all tied: every candidate scores the same.
    const rows = readJsonl(scores) as unknown as { id: string; scores: number[] }[];
    rows[2].scores = [1, 1, 1];
    writeFileSync(scores, rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
    const r = await ws.run(['pairs', '--candidates', join(candOut, 'candidates.jsonl'), '--scores', scores, '--out', pairsOut]);
    expectOk(r);
    const data = readJsonl(join(pairsOut, 'pairs.jsonl'));
    const provenance = readJsonl(join(pairsOut, 'pairs.provenance.jsonl'));
    const expected = candidates.slice(0, 2).flatMap((c, i) => {
      const s = rows[i].scores;
      const best = s.indexOf(Math.max(...s));
      const worst = s.indexOf(Math.min(...s));
      return s[best] === s[worst] ? [] : [{ prompt: c.prompt, chosen: c.candidates[best], rejected: c.candidates[worst] }];
    });
    expect(data).toEqual(expected);
    expect(provenance.map((p) => [p.line, p.source])).toEqual(expected.map((_, i) => [i + 1, 'scores']));
    expect(JSON.parse(r.stdout)).toMatchObject({ pairs: expected.length, prompts: 3, tied: 3 - expected.length, unscored: 0 });
  });

  it('train --method dpo takes the pairs as they are, and warns that no SFT adapter is under it', async () => {
    const r = await ws.run([
      'train',
      '--method',
      'dpo',
      '--model',
      MODEL,
      '--data',
      join(pairsOut, 'pairs.jsonl'),
      '--out',
      dpoOut,
      '--max-steps',
      '1',
      '--max-length',
      '48',
    ]);
    expectOk(r);
    expect(existsSync(join(dpoOut, 'adapter_model.safetensors'))).toBe(true);
    expect(r.stderr).toContain('warning: DPO is starting from the base model with no SFT adapter.');
    expect(r.stderr).toMatch(/note: \d pairs?\. A practical start for DPO is 500 to 2,000 pairs/);
  });

  it('ab: blind answers for the judge, then the summary with Wilson intervals from a verdicts file', async () => {
    expectOk(
      await ws.run([
        'ab',
        '--model',
        MODEL,
        '--prompts',
        promptsFile,
        '--out',
        abOut,
        '--first',
        'base',
        '--second',
        dpoOut,
        '--second-name',
        'DPO',
        ...GEN,
      ]),
    );
    const blind = readJsonl(join(abOut, 'blind.jsonl'));
    expect(blind.map((b) => Object.keys(b).sort())).toEqual(blind.map(() => ['A', 'B', 'id', 'prompt']));
    const verdicts = ws.jsonl('verdicts.jsonl', [
      { id: blind[0].id, verdict: 'A' },
      { id: blind[1].id, verdict: 'B' },
      { id: blind[2].id, verdict: 'tie' },
    ]);
    const r = await ws.run(['ab', '--run', abOut, '--verdicts', verdicts, '--out', summaryOut]);
    expectOk(r);
    const summary = JSON.parse(r.stdout);
    const run = readJson(join(abOut, 'ab-run.json')) as unknown as { rows: { firstIs: string }[] };
    // A on prompt 1 and B on prompt 2: the base model wins where it was shown under that label.
    const baseWins = (run.rows[0].firstIs === 'A' ? 1 : 0) + (run.rows[1].firstIs === 'B' ? 1 : 0);
    expect(summary).toMatchObject({ prompts: 3, judged: 3, tied: 1, ties: 'split', models: { first: 'base', second: 'DPO' } });
    expect(summary.first.wins).toBe(baseWins);
    expect(summary.second.wins).toBe(2 - baseWins);
    // Wilson 95% for (wins + 1/2) of 3, z = 1.959964 (written out here, not through webtune's code).
    const k = baseWins + 0.5;
    const z = 1.959963984540054;
    const p = k / 3;
    const centre = (p + (z * z) / 6) / (1 + (z * z) / 3);
    const half = (z / (1 + (z * z) / 3)) * Math.sqrt((p * (1 - p)) / 3 + (z * z) / 36);
    expect(summary.first.rate).toBeCloseTo(p, 12);
    expect(summary.first.interval.low).toBeCloseTo(centre - half, 12);
    expect(summary.first.interval.high).toBeCloseTo(centre + half, 12);
    expect(readJsonl(join(summaryOut, 'results.jsonl')).map((x) => x.verdict)).toEqual(['A', 'B', 'tie']);
  });
});

describe('bad input, refused before the browser starts (exit 2, one line)', () => {
  const out = ws.path('refused-out');
  const cands = ws.jsonl('cands.jsonl', [{ id: 'p1', prompt: 'Q', candidates: ['a', 'b'] }]);
  const abRun = ws.path('ab-run');
  mkdirSync(abRun);
  writeFileSync(
    join(abRun, 'ab-run.json'),
    JSON.stringify({ models: { first: 'x', second: 'y' }, rows: [{ id: 'p1', prompt: 'Q', first: 'a', second: 'b', firstIs: 'A' }] }),
  );
  // One refusal per command through the real command line; the others are the same UsageError, checked in Node
  // (apps/cli/src/refusals.test.ts).
  const cases: { name: string; args: string[]; command: string; expect: string }[] = [
    {
      name: 'K out of range',
      command: 'candidates',
      args: ['--model', MODEL, '--prompts', promptsFile, '--out', out, '--k', '5'],
      expect: '--k must be a whole number from 2 to 4 (got 5)',
    },
    {
      name: 'an unknown format',
      command: 'pairs',
      args: ['--candidates', cands, '--scores', cands, '--out', out, '--format', 'xml'],
      expect: '--format must be trl or openai (got "xml")',
    },
    {
      name: 'a bad tie rule',
      command: 'ab',
      args: ['--run', abRun, '--verdicts', cands, '--ties', 'half'],
      expect: '--ties must be split or excluded (got "half")',
    },
  ];
  it.each(cases)('$command: $name', async (c) => {
    expectUsageError(await ws.run([c.command, ...c.args]), c.command, c.expect);
    expect(existsSync(out)).toBe(false);
  });
});
