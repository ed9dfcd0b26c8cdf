// The smoke test of the Train screen, before DPO (the user's account, step 2: "make sure the SFT model is producing
// outputs in the right shape; if it cannot get the format right, DPO will not save it"): a check the user writes, a
// regular expression or "is valid JSON", applied to the SFT model's answers on held-out prompts. It passes, as the
// Classroom's smoke test does, when at least SMOKE_TEST_PASS_SHARE of the answers pass.
import { SMOKE_TEST_PASS_SHARE } from '../lesson/lesson.ts';
import { PairsError } from './errors.ts';

/** The user's check: the answer (trimmed) matches the pattern somewhere, or parses as JSON. */
export type SmokeCheck = { kind: 'regex'; pattern: string } | { kind: 'json' };

export interface SmokeAnswer {
  prompt: string;
  text: string;
  passed: boolean;
}

export interface SmokeCheckVerdict {
  passed: boolean;
  /** Answers that pass, of `answers`. */
  passes: number;
  answers: number;
  /** Null when it passed; otherwise what failed and what to do, in plain words. */
  message: string | null;
}

/** What the check asks of answers, in words ("match /^\{/", "are valid JSON"). */
export const describeCheck = (c: SmokeCheck): string => (c.kind === 'json' ? 'are valid JSON' : `match /${c.pattern}/`);

/** The check as a function of an answer; a pattern that is not a regular expression is refused with the reason. */
export function compileCheck(c: SmokeCheck): (answer: string) => boolean {
  if (c.kind === 'json')
    return (answer) => {
      try {
        JSON.parse(answer.trim());
        return true;
      } catch {
        return false;
      }
    };
  if (c.pattern === '') throw new PairsError('the smoke test has no pattern: write the regular expression an answer must match');
  let re: RegExp;
  try {
    re = new RegExp(c.pattern, 'u');
  } catch (err) {
    throw new PairsError(`the smoke test's pattern /${c.pattern}/ is not a regular expression (${(err as Error).message}): correct it`);
  }
  return (answer) => re.test(answer.trim());
}

/** Each answer with whether it passes. */
export function scoreAnswers(c: SmokeCheck, answers: { prompt: string; text: string }[]): SmokeAnswer[] {
  const test = compileCheck(c);
  return answers.map((a) => ({ ...a, passed: test(a.text) }));
}

/** The verdict on the SFT model's scored answers: passed when at least SMOKE_TEST_PASS_SHARE of them pass. */
export function smokeCheckVerdict(c: SmokeCheck, scored: SmokeAnswer[]): SmokeCheckVerdict {
  const passes = scored.filter((a) => a.passed).length;
  const answers = scored.length;
  if (answers > 0 && passes >= SMOKE_TEST_PASS_SHARE * answers) return { passed: true, passes, answers, message: null };
  return {
    passed: false,
    passes,
    answers,
    message:
      `The smoke test failed: ${passes} of ${answers} of the SFT model's answers to held-out prompts ${describeCheck(c)}; ` +
      `${Math.round(SMOKE_TEST_PASS_SHARE * 100)}% should before DPO. DPO polishes what the SFT model already does; it cannot ` +
      'add a format the SFT model lacks. Train SFT longer (more epochs or steps, or more rows) and test again.',
  };
}
