// `pnpm cli classroom` refuses a bad lesson folder, judging option or step count before the browser starts: run here
// in Node, in process (each refusal is a UsageError, which main.ts prints as one line with exit 2; test/cli-classroom
// runs one through the real command line). What the lesson does in the browser is test/cli-classroom.test.ts's.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../args.ts';
import { run } from './classroom.ts';

const DEMO = join(import.meta.dirname, '..', '..', '..', 'studio', 'public', 'demo');
const temp = mkdtempSync(join(tmpdir(), 'webtune-classroom-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** A copy of the demo's text files (no model: these fail before it is needed), with `change` applied. */
function brokenDemo(name: string, change: (dir: string) => void): string {
  const dir = join(temp, name);
  cpSync(DEMO, dir, { recursive: true, filter: (src) => !src.startsWith(join(DEMO, 'model')) && !src.startsWith(join(DEMO, 'adapters')) });
  change(dir);
  return dir;
}
const edit = (dir: string, file: string, f: (json: Record<string, unknown>) => void) => {
  const json = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  f(json);
  writeFileSync(join(dir, file), JSON.stringify(json));
};

/** The refusal of `argv` (the demo folder unless it names one), which must be a usage error matching `message`. */
async function refusal(argv: string[], message: string | RegExp): Promise<void> {
  const args = argv.includes('--demo') ? argv : ['--demo', DEMO, ...argv];
  const err = await run(args).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, `classroom ${argv.join(' ')}`).toBeInstanceOf(UsageError);
  expect((err as Error).message).toMatch(message);
}

describe('pnpm cli classroom refuses a bad lesson folder before the browser starts', () => {
  it('a folder without lesson.json', async () => {
    await refusal(['--demo', temp], 'has no lesson.json; give the demo folder');
  });
  it('a lesson.json of another version', async () => {
    const dir = brokenDemo('v2', (d) => edit(d, 'lesson.json', (j) => (j.version = 2)));
    await refusal(['--demo', dir], 'lesson.json has version 2; this webtune reads version 1');
  });
  it('a lesson whose dataset is missing', async () => {
    const dir = brokenDemo('no-data', (d) => rmSync(join(d, 'data', 'dpo.jsonl')));
    await refusal(['--demo', dir], 'dpo.jsonl is missing (the DPO dataset)');
  });
  it('a checks.json with a broken regex', async () => {
    const dir = brokenDemo('bad-regex', (d) => edit(d, 'checks.json', (j) => ((j.checks as { regex: string }[])[1].regex = '(')));
    await refusal(['--demo', dir], 'check "closing".regex is not a JavaScript regular expression');
  });
});

describe('pnpm cli classroom refuses options that cannot work, naming them', () => {
  it('judging options without a judge, a judge file that is missing or has a bad line', async () => {
    await refusal(['--judge-prompts', '2'], '--judge-prompts needs --judged-pairs or --kto');
    await refusal(['--kto', 'nope.jsonl'], '--kto nope.jsonl: no such file; give "auto"');
    const bad = join(temp, 'bad-scores.jsonl');
    writeFileSync(bad, '{"id": "prompt-1", "scores": ["good"]}\n');
    await refusal(['--judged-pairs', bad], 'bad-scores.jsonl line 1: each line must be {"id"');
    // A folder, or bytes that are not UTF-8 (never read with replacement characters), as every data file is refused.
    await refusal(['--judged-pairs', temp], `--judged-pairs ${temp} is a folder`);
    const latin1 = join(temp, 'latin1-thumbs.jsonl');
    writeFileSync(latin1, Buffer.from('{"id": "prompt-1", "thumbs": ["caf\xe9"]}\n', 'latin1'));
    await refusal(['--kto', latin1], `--kto ${latin1} line 1 is not valid UTF-8 (near byte 34 of the file): save the file as UTF-8`);
    await refusal(
      ['--use-shipped', '--judged-pairs', 'auto'],
      '--judged-pairs needs a DPO run: the shipped DPO adapter was trained on the lesson pairs alone',
    );
  });
  it('step counts that are not whole numbers of at least 1', async () => {
    await refusal(['--sft-steps', '0'], '--sft-steps must be at least 1 (got 0)');
    await refusal(['--dpo-steps', '2.5'], '--dpo-steps must be a whole number');
    await refusal(['--prompts', 'all'], '--prompts must be a number');
  });
});
