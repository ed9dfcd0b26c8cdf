// The Train screen's smoke test: a regex or "is valid JSON" over the SFT model's held-out answers, passing at the
// Classroom's share, with the bad pattern refused by its reason.
import { describe, expect, it } from 'vitest';
import { SMOKE_TEST_PASS_SHARE } from '../lesson/lesson.ts';
import { compileCheck, scoreAnswers, smokeCheckVerdict } from './smoke-test.ts';

const answers = (...texts: string[]) => texts.map((text, i) => ({ prompt: `p${i}`, text }));

describe('smoke test checks', () => {
  it('"is valid JSON" parses the trimmed answer', () => {
    const json = compileCheck({ kind: 'json' });
    expect(json(' {"name": "Ada", "age": 36}\n')).toBe(true);
    expect(json('[1, 2]')).toBe(true);
    expect(json('{"name": "Ada",}')).toBe(false);
    expect(json('Sure! {"name": "Ada"}')).toBe(false);
  });

  it('a regex matches anywhere in the trimmed answer (anchors as written)', () => {
    const card = compileCheck({ kind: 'regex', pattern: '^Name: .+\\nHome: ' });
    expect(card('  Name: Fox\nHome: woods')).toBe(true);
    expect(card('The fox lives in the woods')).toBe(false);
  });

  it('refuses a pattern that is not a regular expression, or none', () => {
    expect(() => compileCheck({ kind: 'regex', pattern: 'Name: (' })).toThrow(
      /^the smoke test's pattern \/Name: \(\/ is not a regular expression \(.+\): correct it$/,
    );
    expect(() => compileCheck({ kind: 'regex', pattern: '' })).toThrow(
      'the smoke test has no pattern: write the regular expression an answer must match',
    );
  });
});

describe('smokeCheckVerdict', () => {
  const check = { kind: 'json' } as const;
  it(`passes at ${SMOKE_TEST_PASS_SHARE * 100}% of the answers, as the Classroom's smoke test`, () => {
    const four = scoreAnswers(check, answers('{}', '{}', '{}', '{}', 'no'));
    expect(smokeCheckVerdict(check, four)).toEqual({ passed: true, passes: 4, answers: 5, message: null });
  });

  it('fails below it, saying what failed, why DPO cannot fix it, and what to do', () => {
    const three = scoreAnswers(check, answers('{}', '{}', '{}', 'no', 'no'));
    const v = smokeCheckVerdict(check, three);
    expect(v.passed).toBe(false);
    expect(v.message).toBe(
      "The smoke test failed: 3 of 5 of the SFT model's answers to held-out prompts are valid JSON; 80% should before DPO. " +
        'DPO polishes what the SFT model already does; it cannot add a format the SFT model lacks. Train SFT longer (more epochs or steps, or more rows) and test again.',
    );
  });

  it('fails with no answers', () => {
    expect(smokeCheckVerdict(check, []).passed).toBe(false);
  });
});
