// KTO, ORPO and SimPO from the command line on the tiny Llama fixture: `train --method` writes a PEFT adapter, a
// training_config.json that names TRL's trainer and its settings, and metrics.jsonl with TRL's metric names;
// `eval --method` prints the same metrics for the adapter. Two steps each: this checks the wiring, the goldens
// (objectives.gpu.test.ts) check the numbers.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliResult } from './support/cli.ts';
import { DPO_ROWS, expectOk, LLAMA, readJson, readJsonl, type Workspace, workspace } from './support/workspace.ts';

const ws: Workspace = workspace();
afterAll(() => ws.remove());

// Line 5 is refused (its label is a string): KTO reports it by line and trains on the other four.
const KTO_ROWS = [
  { prompt: 'Hello', completion: ' world', label: true },
  { prompt: 'The cat', completion: ' ran away', label: false },
  { prompt: 'One two', completion: ' three', label: true },
  { prompt: 'Red green', completion: ' car', label: false },
  { prompt: 'Up', completion: ' down', label: 'yes' },
];
const data = { kto: ws.jsonl('kto.jsonl', KTO_ROWS), orpo: ws.jsonl('pairs.jsonl', DPO_ROWS), simpo: ws.jsonl('pairs.jsonl', DPO_ROWS) };

/** What TRL's trainers log for each method besides its loop's loss, grad_norm, learning_rate, epoch and num_tokens. */
const PAIRS = ['rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected'];
const LOGGED = {
  kto: ['kl', 'rewards/chosen', 'rewards/rejected', 'logps/chosen', 'logps/rejected', 'rewards/margins'],
  orpo: [...PAIRS, 'nll_loss', 'log_odds_ratio', 'log_odds_chosen'],
  simpo: [...PAIRS, 'nll_loss'],
};
const LOOP = ['step', 'loss', 'grad_norm', 'learning_rate', 'epoch', 'num_tokens'];

/** Each method's own flags, and what training_config.json must hold for TRL to repeat the run. */
const RUNS = {
  kto: {
    flags: ['--beta', '0.2', '--desirable-weight', '1.5', '--undesirable-weight', '0.8'],
    config: { trainer: 'KTOTrainer', loss_type: 'kto', beta: 0.2, desirable_weight: 1.5, undesirable_weight: 0.8 },
  },
  orpo: { flags: ['--beta', '0.3'], config: { trainer: 'ORPOTrainer', beta: 0.3 } },
  simpo: {
    flags: ['--beta', '2.5', '--simpo-gamma', '0.7', '--cpo-alpha', '0.1'],
    config: { trainer: 'CPOTrainer', loss_type: 'simpo', beta: 2.5, simpo_gamma: 0.7, cpo_alpha: 0.1 },
  },
};
const METHODS = ['kto', 'orpo', 'simpo'] as const;
const out = (m: string) => ws.path(`${m}-adapter`);
const common = ['--model', LLAMA, '--max-length', '32', '--batch-size', '2'];

const trainRuns: Partial<Record<(typeof METHODS)[number], CliResult>> = {};
beforeAll(async () => {
  const results = await Promise.all(
    METHODS.map((m) =>
      ws.run(['train', '--method', m, ...common, '--data', data[m], '--out', out(m), '--max-steps', '2', ...RUNS[m].flags]),
    ),
  );
  for (const [i, m] of METHODS.entries()) trainRuns[m] = results[i];
});

describe.each(METHODS)('train --method %s', (method) => {
  it('exits 0 and writes the PEFT adapter, training_config.json in TRL names and metrics.jsonl', () => {
    const r = trainRuns[method] as CliResult;
    expectOk(r);
    for (const f of ['adapter_model.safetensors', 'adapter_config.json', 'training_config.json', 'metrics.jsonl', 'README.md'])
      expect(existsSync(join(out(method), f)), f).toBe(true);
    expect(readJson(join(out(method), 'adapter_config.json'))).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM' });
    expect(readJson(join(out(method), 'training_config.json'))).toMatchObject({ ...RUNS[method].config, max_steps: 2, max_length: 32 });
  });

  it("metrics.jsonl: one line per step with exactly TRL's metric names, all finite", () => {
    const metrics = readJsonl(join(out(method), 'metrics.jsonl'));
    expect(metrics.map((m) => m.step)).toEqual([1, 2]);
    for (const m of metrics) {
      expect(Object.keys(m).sort()).toEqual([...LOOP, ...LOGGED[method]].sort());
      for (const [k, v] of Object.entries(m)) expect(Number.isFinite(v), k).toBe(true);
    }
    // KTO starts at its reference: every reward and the KL estimate are 0 at step 1.
    if (method === 'kto') for (const k of ['kl', 'rewards/chosen', 'rewards/rejected']) expect(metrics[0][k], k).toBe(0);
  });
});

it('train --method kto reports the refused row by its line and the desirable/undesirable balance', () => {
  const { stderr } = trainRuns.kto as CliResult;
  expect(stderr).toContain('data: kto.jsonl (prompt-completion): 4 rows kept, 1 rejected');
  expect(stderr).toMatch(/line 5 rejected: field "label" is not a boolean/);
  expect(stderr).toContain('2 desirable (label true), 2 undesirable (label false)');
});

describe('eval --method kto|orpo|simpo --json', () => {
  const evals: Partial<Record<(typeof METHODS)[number], CliResult>> = {};
  beforeAll(async () => {
    const results = await Promise.all(
      METHODS.map((m) => ws.run(['eval', '--method', m, ...common, '--data', data[m], '--adapter', out(m), ...RUNS[m].flags, '--json'])),
    );
    for (const [i, m] of METHODS.entries()) evals[m] = results[i];
  });

  it.each(METHODS)("%s: one JSON object of the method's metrics", (method) => {
    const r = evals[method] as CliResult;
    expectOk(r);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const m = JSON.parse(r.stdout) as Record<string, number>;
    expect(Object.keys(m).sort()).toEqual(['loss', ...LOGGED[method]].sort());
    for (const [k, v] of Object.entries(m)) expect(Number.isFinite(v), k).toBe(true);
    expect(m['rewards/margins']).toBeCloseTo(m['rewards/chosen'] - m['rewards/rejected'], 9);
  });
});
