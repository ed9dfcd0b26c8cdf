// `pnpm cli classroom`: the classroom path headless, on the shipped demo (model, data, lesson.json, checks.json),
// with one step per stage and one held-out prompt: SwiftShader is slow. One SFT step teaches no card, so the smoke
// test fails: without --train-dpo-anyway the lesson stops there; with it, it goes on. The report is checked against
// the demo's own files, read here by their definitions (the checks' regexes applied to the answers in Node), and the
// exported adapters by PEFT's layout. The same run takes the optional judging steps on two lesson prompts: a scores
// file's pairs join the DPO data, and KTO (one step) trains from the checks' thumbs after DPO and is measured beside
// it. A bad lesson or option is refused before Chromium starts: one here, each kind in Node by
// apps/cli/src/commands/classroom.test.ts.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@webtune/harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliResult } from './support/cli.ts';
import { expectOk, expectRejection, expectUsageError, readJson, readSafetensors, workspace } from './support/workspace.ts';

const DEMO = join(REPO_ROOT, 'apps/studio/public/demo');
const checks = JSON.parse(readFileSync(join(DEMO, 'checks.json'), 'utf8')) as {
  checks: { id: string; regex: string; flags: string }[];
  facts: { items: { prompt: string; regex: string }[] };
};
const ws = workspace();
const out = ws.path('classroom');
// The first answer of each judged prompt better than the second.
const scoresFile = writeText(ws.path('scores.jsonl'), '{"id": "prompt-1", "scores": [1, 0]}\n{"id": "prompt-2", "scores": [1, 0]}\n');
const DPO_ROWS = readFileSync(join(DEMO, 'data/dpo.jsonl'), 'utf8').trim().split('\n');

function writeText(path: string, text: string): string {
  writeFileSync(path, text);
  return path;
}
afterAll(() => ws.remove());

interface Answer {
  prompt: string;
  text: string;
  passed: Record<string, boolean>;
}
interface Report {
  held_out: { prompts: number; pairs: number };
  smoke_test: { passed: boolean; message: string | null };
  steps: { sft: number; dpo: number };
  seconds: Record<string, number>;
  train_flops_at_most: { sft: number; dpo: number };
  models: Record<'base' | 'sft' | 'dpo' | 'kto', Record<string, number>>;
  answers: Record<'base' | 'sft' | 'dpo' | 'kto', Answer[]>;
  last_train_metrics: Record<'sft' | 'dpo' | 'kto', Record<string, number>>;
  judging: {
    prompts: number;
    answers: { id: string; prompt: string; candidates: string[] }[];
    pairs: { judge: string; joined: { id: string; chosen: string; rejected: string }[]; tied: string[] };
    kto: { judge: string; thumbs: Record<string, number>; rows: { judged: number; shipped: number }; steps: number };
  };
}

/** What checks.json says an answer passes, computed from its regexes here. */
function expectedPasses(a: Answer): Record<string, boolean> {
  const text = a.text.trim();
  const passed: Record<string, boolean> = {};
  for (const c of checks.checks) passed[c.id] = new RegExp(c.regex, c.flags).test(text);
  const fact = checks.facts.items.find((f) => f.prompt === a.prompt);
  if (fact) passed.facts = new RegExp(fact.regex).test(text);
  return passed;
}

const SMOKE_FAILED =
  'The smoke test failed: the SFT model passed "Animal card format" on 0 of 1 held-out prompts; the lesson needs 80% before DPO. ' +
  'DPO polishes what the SFT model already does; it cannot add a format the SFT model lacks. ' +
  "Train SFT for more steps (this run took 1 of the whole recipe's 141), or run the whole recipe.";

describe('pnpm cli classroom stops after a failed smoke test', () => {
  it('exits 1 with what failed, why DPO cannot fix it and what to do; trains no DPO and writes nothing', async () => {
    const stopped = ws.path('stopped');
    const r = await ws.run(['classroom', '--sft-steps', '1', '--dpo-steps', '1', '--prompts', '1', '--out', stopped]);
    const message = expectRejection(r, 'classroom', 1);
    expect(message).toBe(`${SMOKE_FAILED} Or pass --train-dpo-anyway to go on to DPO all the same.`);
    expect(r.stderr).toMatch(/base model: Animal card format 0%, Friendly closing line 0%; SFT: Animal card format 0%/);
    expect(r.stderr).not.toContain('3. DPO for the polish');
    expect(existsSync(stopped)).toBe(false);
  });
});

describe('pnpm cli classroom', () => {
  let r: CliResult;
  let report: Report;
  beforeAll(async () => {
    r = await ws.run([
      ...['classroom', '--sft-steps', '1', '--dpo-steps', '1', '--prompts', '1', '--train-dpo-anyway', '--json', '--out', out],
      ...['--judged-pairs', scoresFile, '--kto', 'auto', '--judge-prompts', '2'],
    ]);
    expectOk(r);
    report = JSON.parse(r.stdout);
  });

  it('walks the four steps, in order, and prints the figures', () => {
    const order = ['1. SFT for the basics', '2. smoke test', '3. DPO for the polish', '4. evaluate'].map((s) => r.stderr.indexOf(s));
    expect(order.every((i) => i >= 0) && order.every((i, k) => k === 0 || i > order[k - 1]), r.stderr).toBe(true);
    expect(r.stderr).toMatch(/model\s+Animal card format\s+Friendly closing line\s+true facts\s+reward acc\.\s+margin/);
    expect(report.steps).toEqual({ sft: 1, dpo: 1 });
    // The smoke test failed, and --train-dpo-anyway went past it, saying so.
    expect(report.smoke_test).toEqual({ passed: false, message: SMOKE_FAILED });
    expect(r.stderr).toContain(`${SMOKE_FAILED} Going on to DPO all the same (--train-dpo-anyway).`);
    expect(report.held_out).toEqual({ prompts: 1, pairs: 1 });
    for (const k of ['sft', 'smoke_test', 'dpo', 'evaluate', 'total']) expect(report.seconds[k]).toBeGreaterThan(0);
    expect(report.train_flops_at_most.dpo).toBeGreaterThan(report.train_flops_at_most.sft); // a pair is two sequences
  });

  it("scores every answer by checks.json's regexes, and each model's rates are its answers'", () => {
    for (const m of ['base', 'sft', 'dpo'] as const) {
      expect(report.answers[m]).toHaveLength(1);
      for (const a of report.answers[m]) expect(a.passed, `${m}: ${JSON.stringify(a.text)}`).toEqual(expectedPasses(a));
      for (const id of ['format', 'closing', 'facts']) expect(report.models[m][id]).toBe(report.answers[m][0].passed[id] ? 1 : 0);
    }
    // The pretrained demo model answers in prose: no card before SFT.
    expect(report.answers.base[0].text.trim()).toMatch(/^The \w+/);
    expect(report.models.base.format).toBe(0);
  });

  it('measures reward accuracy against the SFT model: all ties before DPO, moved after', () => {
    expect(report.models.sft['rewards/accuracies']).toBe(0);
    expect(report.models.sft['rewards/margins']).toBe(0);
    expect(report.models.dpo['rewards/margins']).not.toBe(0);
    expect(report.last_train_metrics.dpo.loss).toBeCloseTo(Math.log(2), 6); // one step: the policy started as the reference
  });

  it('writes both adapters as PEFT folders (DPO stacked on the base) and the report', () => {
    const sft = readJson(join(out, 'sft', 'adapter_config.json'));
    const dpo = readJson(join(out, 'dpo', 'adapter_config.json'));
    expect([sft.peft_type, sft.r, sft.lora_alpha]).toEqual(['LORA', 8, 16]);
    expect((sft.target_modules as string[]).sort()).toEqual(['down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj', 'up_proj', 'v_proj']);
    expect(dpo.r).toBe(16); // SFT's rank 8 and DPO's rank 8, stacked exactly
    const { header } = readSafetensors(join(out, 'dpo', 'adapter_model.safetensors'));
    expect(header['base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'].shape).toEqual([16, 192]);
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'))).toEqual(report);
  });
  describe('the judging steps', () => {
    it("answers two lesson training prompts twice with the SFT model; the scores file's better answers join the DPO data", () => {
      const { answers, pairs } = report.judging;
      const prompts = DPO_ROWS.map((l) => JSON.parse(l).prompt as string).filter((p, i, all) => all.indexOf(p) === i);
      expect(answers.map((a) => [a.id, a.prompt])).toEqual([
        ['prompt-1', prompts[0]],
        ['prompt-2', prompts[1]],
      ]);
      expect(answers.every((a) => a.candidates.length === 2)).toBe(true);
      // Best vs worst per prompt; two identical answers make no pair (tied).
      const differ = answers.filter((a) => a.candidates[0] !== a.candidates[1]);
      expect(differ.length, JSON.stringify(answers)).toBeGreaterThan(0);
      expect(pairs.joined).toEqual(differ.map((a) => ({ id: a.id, chosen: a.candidates[0], rejected: a.candidates[1] })));
      expect(pairs.tied).toEqual(answers.filter((a) => a.candidates[0] === a.candidates[1]).map((a) => a.id));
      expect(r.stderr).toContain(
        `data: apps/studio/public/demo/data/dpo.jsonl + ${differ.length} judged pairs (standard): ${DPO_ROWS.length + differ.length} rows kept`,
      );
      const saved = readFileSync(join(out, 'judging', 'pairs.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(saved).toEqual(differ.map((a) => ({ prompt: a.prompt, chosen: a.candidates[0], rejected: a.candidates[1] })));
    });

    it("trains KTO from the checks' thumbs (topped up with the lesson pairs unpaired) on the SFT adapter, beside DPO", () => {
      const { kto, answers } = report.judging;
      const distinct = answers.reduce((n, a) => n + new Set(a.candidates).size, 0);
      // One SFT step writes no card: every answer fails the checks, a thumbs down each.
      expect(kto).toEqual({
        judge: 'checks',
        thumbs: { up: 0, down: distinct, skip: 0 },
        rows: { judged: distinct, shipped: 2 * DPO_ROWS.length },
        steps: 1,
      });
      const rows = readFileSync(join(out, 'judging', 'kto.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(rows.slice(0, distinct).every((row) => row.label === false)).toBe(true);
      expect(rows.filter((row) => row.label).length).toBe(DPO_ROWS.length);
      expect(r.stderr).toContain(`${DPO_ROWS.length} desirable (label true), ${DPO_ROWS.length + distinct} undesirable (label false)`);
      // At its first step the policy is the reference: rewards 0, KL 0, each row's loss 1 - sigmoid(0).
      expect(report.last_train_metrics.kto.loss).toBeCloseTo(0.5, 6);
      expect(r.stderr).toMatch(/^SFT \+ KTO\s/m);
      expect(report.models.kto['rewards/margins']).not.toBe(0);
      expect(report.answers.kto).toHaveLength(1);
      for (const a of report.answers.kto) expect(a.passed).toEqual(expectedPasses(a));
      expect(readJson(join(out, 'kto', 'adapter_config.json')).r).toBe(16); // SFT's rank 8 and KTO's, stacked
    });
  });
});

/**
 * The shipped adapters (apps/studio/public/demo/adapters/quick/, scripts/demo/ship-adapters.sh) are what the recipe
 * trains: each stage's first steps trained fresh here give the snapshot the shipped run saved of itself after those
 * steps (it was stopped there and resumed to the end, which is bit-identical to running straight through). With the
 * fingerprint checked first (the recipe, the demo's files, the shipped files: apps/cli/src/commands/classroom-shipped.test.ts)
 * and a deterministic trainer, equal first steps mean equal adapters; the whole run is `VERIFY=full` in the script.
 * First, the shipped adapters imported as --use-shipped and the studio's "Show the result now" import them answer as
 * shipped.json recorded, so the figures those show without training are the adapters'.
 */
describe('pnpm cli classroom --verify-shipped', () => {
  it("answers as recorded with the shipped adapters; trains each stage's first steps fresh and gets the shipped snapshots, bit for bit here (within 1e-4 on another CPU)", async () => {
    const shipped = JSON.parse(readFileSync(join(DEMO, 'adapters/quick/shipped.json'), 'utf8'));
    const r = await ws.run(['classroom', '--verify-shipped']);
    expectOk(r);
    for (const m of ['SFT', 'DPO'])
      expect(r.stdout).toMatch(new RegExp(`^the shipped ${m} adapter's answer to held-out prompt 1: as recorded in shipped\\.json$`, 'm'));
    const [sft, dpo] = [shipped.stages.sft.snapshotStep, shipped.stages.dpo.snapshotStep];
    expect(r.stdout).toMatch(new RegExp(`^SFT after step ${sft}: (identical bit for bit to|within tolerance of) sft-step${sft}/`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^DPO after step ${dpo}: (identical bit for bit to|within tolerance of) dpo-step${dpo}/`, 'm'));
    // The fresh runs logged the very losses the shipped run logged at those steps.
    for (const [m, step] of [
      ['SFT', sft],
      ['DPO', dpo],
    ] as const) {
      const logged = [...r.stderr.matchAll(/^step (\d+) {2}loss ([\d.]+)/gm)].map((x) => [Number(x[1]), Number(x[2])]);
      expect(logged.length, r.stderr).toBeGreaterThanOrEqual(step);
      const recorded = shipped.stages[m.toLowerCase()].metrics[step - 1].loss as number;
      expect(
        logged.some(([s, loss]) => s === step && Math.abs(loss - recorded) <= 5e-3 * Math.abs(recorded)),
        `${m} step ${step}`,
      ).toBe(true);
    }
  });
});

describe('pnpm cli classroom refuses a bad lesson or option before the browser starts', () => {
  // One through the real command line (one line, exit 2); each kind of refusal is apps/cli/src/commands/classroom.test.ts's.
  it('a preset the lesson does not have', async () => {
    expectUsageError(
      await ws.run(['classroom', '--preset', 'slow']),
      'classroom',
      /--preset slow is not in .*lesson\.json; its presets are quick/,
    );
  });
});
