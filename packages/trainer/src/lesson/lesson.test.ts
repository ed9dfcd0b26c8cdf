import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../train/config.ts';
import {
  answerPrompts,
  type LessonEngine,
  LessonError,
  parseChecks,
  parseLesson,
  parsePrompts,
  passRates,
  SMOKE_TEST_PASS_SHARE,
  scoreAnswer,
  smokeTestVerdict,
} from './lesson.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..', '..');
const DEMO = join(ROOT, 'apps', 'studio', 'public', 'demo');
const read = (path: string) => readFileSync(path, 'utf8');
const lessonText = read(join(DEMO, 'lesson.json'));
const checksText = read(join(DEMO, 'checks.json'));

/** The lesson file with one change made to its parsed JSON (typed loosely: the tests break it on purpose). */
// biome-ignore lint/suspicious/noExplicitAny: a JSON tree edited by hand
type Loose = any;
function edited(change: (json: Loose) => void, text = lessonText): string {
  const json = JSON.parse(text);
  change(json);
  return JSON.stringify(json);
}

describe('the demo lesson', () => {
  it('reads the shipped lesson.json into two TRL configs', () => {
    const lesson = parseLesson(lessonText);
    expect(lesson.stages.sft.dataset).toBe('data/sft.jsonl');
    expect(lesson.stages.dpo.dataset).toBe('data/dpo.jsonl');
    const { sft, dpo } = { sft: lesson.stages.sft.config, dpo: lesson.stages.dpo.config };
    expect(sft.method).toBe('sft');
    expect(dpo.method).toBe('dpo');
    expect([sft.learningRate, sft.numTrainEpochs, sft.batchSize, sft.maxLength]).toEqual([1e-3, 3, 8, 128]);
    expect([dpo.learningRate, dpo.numTrainEpochs, dpo.beta, dpo.lossType]).toEqual([5e-5, 1, 0.1, 'sigmoid']);
    expect(dpo.lora).toEqual({
      r: 8,
      alpha: 16,
      dropout: 0,
      targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
      useRslora: false,
    });
    // What lesson.json leaves out is the default.
    expect(sft.adamBeta2).toBe(defaultConfig('sft').adamBeta2);
  });

  it("reads the quick preset: the recipe's config with the preset's settings over it", () => {
    const lesson = parseLesson(lessonText);
    expect(lesson.presets.map((p) => [p.id, p.prompts, p.adapters])).toEqual([['quick', 10, 'adapters/quick/']]);
    const { sft, dpo } = lesson.presets[0].configs;
    expect([sft.maxSteps, sft.learningRate, sft.batchSize, dpo.maxSteps, dpo.learningRate]).toEqual([70, 2e-3, 4, 8, 5e-4]);
    // Everything else is the whole recipe's.
    expect({ ...sft, maxSteps: -1, learningRate: 1e-3, batchSize: 8 }).toEqual(lesson.stages.sft.config);
    expect({ ...dpo, maxSteps: -1, learningRate: 5e-5 }).toEqual(lesson.stages.dpo.config);
  });

  it('reads the shipped checks.json and its held-out prompts', () => {
    const checks = parseChecks(checksText);
    expect(checks.checks.map((c) => [c.id, c.taughtBy])).toEqual([
      ['format', 'sft'],
      ['closing', 'dpo'],
    ]);
    const prompts = parsePrompts(read(join(DEMO, checks.evalPrompts)), checks.evalPrompts);
    expect(prompts).toHaveLength(40);
    expect(prompts.every((p) => checks.facts.has(p))).toBe(true);
  });

  // scripts/demo/lesson.py scores its PyTorch answers with Python's re; the same answers must score the same here.
  it('scores answers exactly as the independent PyTorch lesson did', () => {
    const fixture = JSON.parse(read(join(ROOT, 'packages', 'trainer', 'test', 'fixtures', 'demo-lesson.json')));
    const checks = parseChecks(checksText);
    for (const stage of ['base', 'sft', 'dpo']) {
      const outputs: string[] = fixture.outputs[stage];
      const scored = outputs.map((text, i) => scoreAnswer(checks, fixture.prompts[i], text));
      const rates = passRates(scored);
      const python = fixture.scores[stage];
      for (const id of ['format', 'closing', 'facts']) expect(rates[id], `${stage} ${id}`).toBeCloseTo(python[id], 4);
    }
    // The fixture is not degenerate: SFT teaches the format, DPO the closing line.
    expect(fixture.scores.base.format).toBe(0);
    expect(fixture.scores.sft.format).toBe(1);
    expect(fixture.scores.dpo.closing).toBeGreaterThan(fixture.scores.sft.closing);
  });
});

describe('scoring', () => {
  const checks = parseChecks(checksText);
  const fox = 'Question: Tell me about the fox.\nAnswer:\n';
  const card = 'Animal: fox\nHome: forest\nFood: mice\nSize: small';

  it('checks the answer with white space trimmed at both ends, and facts only where the prompt has them', () => {
    expect(scoreAnswer(checks, fox, `  ${card}\nHope this helps!\n`).passed).toEqual({ format: true, closing: true, facts: true });
    expect(scoreAnswer(checks, fox, card).passed).toEqual({ format: true, closing: false, facts: true });
    expect(scoreAnswer(checks, fox, card.replace('mice', 'fish')).passed.facts).toBe(false);
    expect(scoreAnswer(checks, fox, 'The fox is a small animal.').passed).toEqual({ format: false, closing: false, facts: false });
    expect(scoreAnswer(checks, 'Question: Tell me about the owl.\nAnswer:\n', card).passed).toEqual({ format: true, closing: false });
  });

  it("checks the true facts on the facts alone: the base model's true sentences pass, a card with a wrong fact fails", () => {
    const sentence = 'The fox is a small animal that lives in the forest. Its favourite food is mice.';
    expect(scoreAnswer(checks, fox, sentence).passed).toEqual({ format: false, closing: false, facts: true });
    // Every real answer of the pretrained model (scripts/demo/lesson.py's), in prose, states its animal's true facts.
    const fixture = JSON.parse(read(join(ROOT, 'packages', 'trainer', 'test', 'fixtures', 'demo-lesson.json')));
    const base = (fixture.outputs.base as string[]).map((text, i) => scoreAnswer(checks, fixture.prompts[i], text).passed);
    expect(base.every((p) => p.facts && !p.format)).toBe(true);
    // Any format: the facts in another order and layout.
    expect(scoreAnswer(checks, fox, 'Fox. Size: small. Eats mice; home: forest.').passed.facts).toBe(true);
    // One wrong fact fails, in a card or a sentence, and so does a wrong value beside the right one.
    for (const [right, wrong] of [
      ['forest', 'desert'],
      ['mice', 'fish'],
      ['small', 'huge'],
    ]) {
      expect(scoreAnswer(checks, fox, card.replace(right, wrong)).passed, wrong).toEqual({ format: true, closing: false, facts: false });
      expect(scoreAnswer(checks, fox, sentence.replace(right, wrong)).passed.facts, wrong).toBe(false);
      expect(scoreAnswer(checks, fox, sentence.replace(right, `${right} or ${wrong}`)).passed.facts, wrong).toBe(false);
    }
    // Whole words: "smaller" is not "small".
    expect(scoreAnswer(checks, fox, sentence.replace('small', 'smaller')).passed.facts).toBe(false);
  });

  it('rates each check over the answers that have it', () => {
    const a = [scoreAnswer(checks, fox, card), scoreAnswer(checks, 'no facts for this one', `${card}\nThanks for asking!`)];
    expect(passRates(a)).toEqual({ format: 1, closing: 0.5, facts: 1 });
  });

  it('answers each prompt greedily with the length checks.json sets', async () => {
    const seen: unknown[] = [];
    const engine: LessonEngine = {
      generate: async (r) => {
        seen.push(r);
        return { text: ` ${card} `, tokens: 9 };
      },
    };
    const got = await answerPrompts(engine, checks, [fox], 'sft-id');
    expect(seen).toEqual([{ prompt: fox, adapterId: 'sft-id', maxNewTokens: 48, temperature: 0 }]);
    expect(got[0].passed.format).toBe(true);
  });
});

describe('the smoke test verdict', () => {
  const checks = parseChecks(checksText);
  const fixture = JSON.parse(read(join(ROOT, 'packages', 'trainer', 'test', 'fixtures', 'demo-lesson.json')));
  /** The PyTorch lesson's real held-out answers of one model, scored. */
  const answersOf = (stage: 'base' | 'sft' | 'dpo') =>
    (fixture.outputs[stage] as string[]).map((text, i) => scoreAnswer(checks, fixture.prompts[i], text));
  const steps = { trained: 141, recipe: 141 };

  it('passes the SFT model of the whole recipe (every answer a card)', () => {
    expect(smokeTestVerdict(checks, answersOf('sft'), steps)).toEqual({ passed: true, failures: [], message: null });
  });

  it('fails a model that answers in prose, saying what failed, on how many prompts, why DPO cannot help and what to do', () => {
    const v = smokeTestVerdict(checks, answersOf('base'), { trained: 2, recipe: 141 });
    expect(v.passed).toBe(false);
    expect(v.failures.map((f) => [f.check.id, f.passed, f.answers])).toEqual([['format', 0, 40]]);
    expect(v.message).toBe(
      'The smoke test failed: the SFT model passed "Animal card format" on 0 of 40 held-out prompts; the lesson needs 80% before DPO. ' +
        'DPO polishes what the SFT model already does; it cannot add a format the SFT model lacks. ' +
        "Train SFT for more steps (this run took 2 of the whole recipe's 141), or run the whole recipe.",
    );
    // After the whole recipe, more of the same is not the remedy.
    expect(smokeTestVerdict(checks, answersOf('base'), steps).message).toMatch(
      /Train SFT again with more epochs or a higher learning rate/,
    );
  });

  it('judges only the checks SFT teaches: the closing line and the facts are not its job', () => {
    const sft = answersOf('sft');
    expect(sft.some((a) => !a.passed.closing)).toBe(true);
    expect(smokeTestVerdict(checks, sft, steps).passed).toBe(true);
  });

  it(`passes at exactly ${SMOKE_TEST_PASS_SHARE * 100}% of the answers, fails one answer short`, () => {
    const cards = answersOf('sft').slice(0, 10);
    const prose = answersOf('base').slice(0, 10);
    expect(smokeTestVerdict(checks, [...cards.slice(0, 8), ...prose.slice(0, 2)], steps).passed).toBe(true);
    const short = smokeTestVerdict(checks, [...cards.slice(0, 7), ...prose.slice(0, 3)], steps);
    expect(short.passed).toBe(false);
    expect(short.message).toMatch(/"Animal card format" on 7 of 10 held-out prompts/);
  });

  it('fails when there are no answers to judge', () => {
    expect(smokeTestVerdict(checks, [], steps).passed).toBe(false);
  });
});

describe('bad lesson files are refused, naming the file, the key and what to do', () => {
  const cases: [string, string, RegExp][] = [
    ['not JSON', '{"version": 1,', /^lesson\.json is not JSON .*rebuild it with scripts\/demo\/build\.sh/],
    ['another version', edited((j) => (j.version = 2)), /lesson\.json has version 2; this webtune reads version 1/],
    ['no DPO stage', edited((j) => delete j.stages.dpo), /lesson\.json: stages\.dpo is missing/],
    ['no dataset', edited((j) => delete j.stages.sft.dataset), /stages\.sft\.dataset must be a non-empty string/],
    [
      'an unknown key',
      edited((j) => (j.stages.sft.config.learning_rat = 1)),
      /stages\.sft\.config has unknown key learning_rat; use TRL's names/,
    ],
    ['an unknown PEFT key', edited((j) => (j.stages.dpo.config.peft_config.rank = 4)), /unknown key peft_config\.rank/],
    [
      'a preset with an unknown key',
      edited((j) => (j.presets.quick.stages.sft.steps = 5)),
      /presets\.quick\.stages\.sft has unknown key steps/,
    ],
    [
      'a preset value out of range',
      edited((j) => (j.presets.quick.stages.dpo.learning_rate = -1)),
      /presets\.quick\.stages\.dpo: --learning-rate \(learning_rate\) must be between 0 and 1, got -1/,
    ],
    ['a preset without a title', edited((j) => delete j.presets.quick.title), /presets\.quick\.title must be a non-empty string/],
    [
      'a preset of 0 prompts',
      edited((j) => (j.presets.quick.held_out_prompts = 0)),
      /held_out_prompts must be a whole number of at least 1, got 0/,
    ],
    [
      'a preset adapters folder outside',
      edited((j) => (j.presets.quick.adapters = '../x/')),
      /presets\.quick\.adapters must be a folder inside/,
    ],
    ['the wrong trainer', edited((j) => (j.stages.dpo.config.trainer = 'SFTTrainer')), /stages\.dpo\.config\.trainer must be "DPOTrainer"/],
    [
      'a value out of range',
      edited((j) => (j.stages.sft.config.learning_rate = 5)),
      /stages\.sft\.config: --learning-rate \(learning_rate\) must be between 0 and 1, got 5/,
    ],
  ];
  for (const [name, text, message] of cases)
    it(name, () => {
      expect(() => parseLesson(text)).toThrow(LessonError);
      expect(() => parseLesson(text)).toThrow(message);
    });
});

describe('bad checks files are refused', () => {
  const cases: [string, string, RegExp][] = [
    [
      'a broken regex',
      edited((j) => (j.checks[0].regex = '(['), checksText),
      /checks\.json: check "format"\.regex is not a JavaScript regular expression/,
    ],
    ['two checks with one id', edited((j) => (j.checks[1].id = 'format'), checksText), /two checks have the id "format"/],
    ['no generation length', edited((j) => delete j.generation.max_new_tokens, checksText), /generation\.max_new_tokens must be a number/],
    [
      'a bad stage',
      edited((j) => (j.checks[0].taught_by = 'rlhf'), checksText),
      /checks\[0\]\.taught_by must be "sft" or "dpo", got "rlhf"/,
    ],
    ['a fact without a prompt', edited((j) => delete j.facts.items[3].prompt, checksText), /facts\.items\[3\] needs a "prompt" string/],
  ];
  for (const [name, text, message] of cases) it(name, () => expect(() => parseChecks(text)).toThrow(message));

  it('a prompts file with a bad line names the line', () => {
    expect(() => parsePrompts('{"prompt": "a"}\n{"text": "b"}\nnot json\n', 'eval-prompts.jsonl')).toThrow(
      'eval-prompts.jsonl line 2: each line must be {"prompt": "<text>"} (and 1 more lines).',
    );
    expect(() => parsePrompts('\n', 'empty.jsonl')).toThrow('empty.jsonl has no prompts.');
  });
});
