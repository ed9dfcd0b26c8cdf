import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readKtoDataset } from '../data/formats.ts';
import { candidateSeeds } from '../pairs/candidates.ts';
import { judge, judgedPairs } from '../pairs/judging.ts';
import { pairsFromScores } from '../pairs/pairs.ts';
import {
  checksPassed,
  dpoDataWithJudged,
  JUDGE_SAMPLING,
  judgingPrompts,
  ktoConfig,
  ktoLessonRows,
  ktoRowsFromThumbs,
  nextThumbsItem,
  rateAnswer,
  readThumbsFile,
  sampleAnswers,
  scoresFromChecks,
  thumbsFromChecks,
  thumbsItems,
  undoRating,
  writeKtoRows,
} from './judging.ts';
import { LessonError, parseChecks, parseLesson } from './lesson.ts';

const DEMO = join(import.meta.dirname, '..', '..', '..', '..', 'apps', 'studio', 'public', 'demo');
const read = (p: string) => readFileSync(join(DEMO, p), 'utf8');
const checks = parseChecks(read('checks.json'));
const dpoText = read('data/dpo.jsonl');
const lesson = parseLesson(read('lesson.json'));

const PROMPT = 'Question: Describe the arctic fox.\nAnswer:\n';
const CARD = 'Animal: arctic fox\nHome: ice\nFood: lemmings\nSize: small';
const CLOSED = `${CARD}\nHope this helps!`;
const PROSE = 'The arctic fox is a small animal that lives on the ice.';

/** An engine that answers each (prompt, seed) from a table, recording the requests. */
function fakeEngine(answers: string[][]) {
  const requests: { prompt: unknown; seed?: number; temperature?: number; adapterId: string | null }[] = [];
  let n = 0;
  return {
    requests,
    generate: async (r: { prompt: unknown; seed?: number; temperature?: number; adapterId: string | null }) => {
      requests.push(r);
      const text = answers[Math.floor(n / 2)][n % 2];
      n++;
      return { text, tokens: 1 };
    },
  };
}

async function sets(answers: string[][]) {
  const prompts = judgingPrompts(dpoText, 'dpo.jsonl', answers.length);
  return sampleAnswers(fakeEngine(answers), checks, prompts, { id: 'sft-id', name: 'Classroom SFT' }, 'demo');
}

describe('the classroom judging stage', () => {
  it("judges the lesson's training prompts (never the held-out ones), distinct, in file order", () => {
    const prompts = judgingPrompts(dpoText, 'dpo.jsonl', 3);
    expect(prompts[0]).toBe(PROMPT);
    expect(new Set(prompts).size).toBe(3);
    const heldOut = read('data/eval-prompts.jsonl');
    for (const p of prompts) expect(heldOut).not.toContain(JSON.stringify(p));
    expect(() => judgingPrompts('{"x": 1}\n', 'x.jsonl', 2)).toThrow(
      new LessonError('x.jsonl has no rows with a "prompt" string to answer.'),
    );
  });

  it("samples two answers per prompt from the SFT adapter with the Pairs screen's seeds", async () => {
    const engine = fakeEngine([
      [CLOSED, CARD],
      [PROSE, PROSE],
    ]);
    const prompts = judgingPrompts(dpoText, 'dpo.jsonl', 2);
    const s = await sampleAnswers(engine, checks, prompts, { id: 'sft-id', name: 'Classroom SFT' }, 'demo');
    expect(s.map((x) => x.id)).toEqual(['prompt-1', 'prompt-2']);
    expect(s[1].seeds).toEqual(candidateSeeds(JUDGE_SAMPLING.seed, 1, 2));
    expect(engine.requests.map((r) => r.seed)).toEqual([...s[0].seeds, ...s[1].seeds]);
    expect(engine.requests.every((r) => r.adapterId === 'sft-id' && r.temperature === JUDGE_SAMPLING.temperature)).toBe(true);
    expect(s[0]).toMatchObject({ adapter: 'Classroom SFT', model: 'demo', sampling: { max_new_tokens: checks.maxNewTokens } });
  });

  it('asks a thumb once per distinct answer; undo takes the last back; skips make no row', async () => {
    const s = await sets([
      [CLOSED, CARD],
      [PROSE, PROSE],
    ]);
    expect(thumbsItems(s).map((i) => i.key)).toEqual(['prompt-1:0', 'prompt-1:1', 'prompt-2:0']); // the repeat is not asked
    let session = { sets: s, decisions: [] as { key: string; thumb: 'up' | 'down' | 'skip' }[] };
    session = rateAnswer(session, 'up');
    session = rateAnswer(session, 'skip');
    session = undoRating(session);
    expect(nextThumbsItem(session)?.key).toBe('prompt-1:1');
    session = rateAnswer(rateAnswer(session, 'down'), 'down');
    expect(nextThumbsItem(session)).toBeNull();
    expect(() => rateAnswer(session, 'up')).toThrow(/every answer is rated already/);
    expect(ktoRowsFromThumbs(session)).toEqual([
      { prompt: PROMPT, completion: CLOSED, label: true, source: 'judged' },
      { prompt: PROMPT, completion: CARD, label: false, source: 'judged' },
      { prompt: s[1].prompt, completion: PROSE, label: false, source: 'judged' },
    ]);
    expect(ktoRowsFromThumbs({ sets: s, decisions: [{ key: 'prompt-1:0', thumb: 'skip' }] })).toEqual([]);
  });

  it('the checks judge headless: a score per passed check for pairs, thumbs up only when all pass', async () => {
    const s = await sets([
      [CLOSED, CARD],
      [PROSE, CARD.replace('arctic fox', 'rhino')],
    ]);
    expect(checksPassed(checks, PROMPT, CLOSED)).toEqual({ passed: 2, of: 2 }); // no facts for a training prompt
    const scores = scoresFromChecks(checks, s);
    expect(scores.map((r) => r.scores)).toEqual([
      [2, 1],
      [0, 1],
    ]);
    const { pairs, tied } = pairsFromScores(s, scores, 'the lesson checks');
    expect(pairs.map((p) => [p.chosen, p.rejected])).toEqual([
      [CLOSED, CARD],
      [s[1].candidates[1], PROSE],
    ]);
    expect(tied).toEqual([]);
    expect(thumbsFromChecks(checks, s).decisions.map((d) => d.thumb)).toEqual(['up', 'down', 'down', 'down']);
  });

  it('reads a labels file (true, false, null per answer), naming the line of a bad one', async () => {
    const s = await sets([
      [CLOSED, CARD],
      [PROSE, PROSE],
    ]);
    const session = readThumbsFile(
      '{"id": "prompt-1", "labels": [true, null]}\n{"id": "prompt-2", "labels": [false, false]}\n',
      'l.jsonl',
      s,
    );
    expect(session.decisions).toEqual([
      { key: 'prompt-1:0', thumb: 'up' },
      { key: 'prompt-1:1', thumb: 'skip' },
      { key: 'prompt-2:0', thumb: 'down' },
    ]);
    const bad = (text: string, message: string) => expect(() => readThumbsFile(text, 'l.jsonl', s)).toThrow(new LessonError(message));
    bad(
      '{"id": "prompt-1", "labels": [1, 0]}',
      'l.jsonl line 1: each line must be {"id": "prompt-N", "labels": [true | false | null, ...]}.',
    );
    bad(
      '\n{"id": "prompt-9", "labels": [true, true]}',
      'l.jsonl line 2: "prompt-9" is not one of the judged prompts (prompt-1, prompt-2).',
    );
    bad(
      '{"id": "prompt-1", "labels": [true]}',
      'l.jsonl line 1: 1 labels for "prompt-1", which has 2 answers: one label per answer, in order.',
    );
    bad(
      '{"id": "prompt-1", "labels": [true, true]}\n{"id": "prompt-1", "labels": [true, true]}',
      'l.jsonl line 2: "prompt-1" is labelled twice.',
    );
    expect(() => readThumbsFile('{', 'l.jsonl', s)).toThrow(/^l\.jsonl line 1: invalid JSON/);
  });

  it('judged pairs join after the shipped ones, which stay as they are, line for line', async () => {
    const s = await sets([[CLOSED, CARD]]);
    const session = judge({ sets: s, seed: 0, decisions: [] }, 'left');
    const { pairs } = judgedPairs(session);
    const text = dpoDataWithJudged(dpoText.trimEnd(), pairs);
    expect(text.startsWith(dpoText)).toBe(true);
    const added = text
      .slice(dpoText.length)
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(added).toEqual([{ prompt: PROMPT, chosen: pairs[0].chosen, rejected: pairs[0].rejected }]);
    expect(dpoDataWithJudged(dpoText, [])).toBe(dpoText);
  });

  it("KTO rows: the judged first, then every shipped pair unpaired (chosen up, rejected down) in the lesson seed's order", () => {
    const judged = [{ prompt: PROMPT, completion: CARD, label: false, source: 'judged' as const }];
    const shipped = { text: dpoText, file: 'dpo.jsonl' };
    const rows = ktoLessonRows(judged, shipped, 42);
    const pairs = dpoText
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(1 + 2 * pairs.length);
    expect(rows[0]).toEqual(judged[0]);
    const key = (r: { prompt: string; completion: string; label: boolean }) => JSON.stringify([r.prompt, r.completion, r.label]);
    const want = pairs.flatMap((p) => [
      key({ prompt: p.prompt, completion: p.chosen, label: true }),
      key({ prompt: p.prompt, completion: p.rejected, label: false }),
    ]);
    expect(rows.slice(1).map(key).sort()).toEqual(want.sort());
    expect(ktoLessonRows(judged, shipped, 42)).toEqual(rows); // the same seed, the same file
    // Shuffled: the first batch of 8 mixes the labels (TRL's unpairing alone puts 376 thumbs up first).
    expect(new Set(rows.slice(1, 9).map((r) => r.label)).size).toBe(2);
    expect(ktoLessonRows(judged, null, 42)).toEqual(judged);
    expect(() => ktoLessonRows([], null, 42)).toThrow(/KTO has no rows: rate at least one answer/);
    expect(() => ktoLessonRows([], { text: '{"prompt": "p", "chosen": 1}\n', file: 'x.jsonl' }, 1)).toThrow(
      new LessonError('x.jsonl line 1: a lesson pair must be {"prompt", "chosen", "rejected"} strings.'),
    );
    // The file KTO reads: TRL's unpaired rows, every one kept, the balance as labelled.
    const { kind, report } = readKtoDataset(writeKtoRows(rows), 'kto.jsonl');
    expect(kind).toBe('unpaired');
    expect(report.rows).toHaveLength(rows.length);
    expect(report.rejected).toEqual([]);
  });

  it("KTO's config is DPO's as TRL's KTOTrainer (loss kto, weights 1), with the steps given", () => {
    const dpo = lesson.stages.dpo.config;
    const kto = ktoConfig(dpo, 10);
    expect(kto).toEqual({
      ...dpo,
      method: 'kto',
      lossType: 'kto',
      labelSmoothing: 0,
      desirableWeight: 1,
      undesirableWeight: 1,
      maxSteps: 10,
    });
  });
});
