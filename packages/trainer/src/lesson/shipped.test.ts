// The shipped adapters' record and checks, on small made-up inputs (the real shipped folder is checked against the demo
// by apps/cli/src/commands/classroom-shipped.test.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../hash.ts';
import { writeSafetensors } from '../model/safetensors.ts';
import { LessonError, parseChecks, parseLesson } from './lesson.ts';
import { adapterTensors, compareAdapters, lessonInputs, parseShipped, presetRecipe, SNAPSHOT_RTOL, shippedMismatches } from './shipped.ts';

const DEMO = join(import.meta.dirname, '..', '..', '..', '..', 'apps', 'studio', 'public', 'demo');
const lessonText = readFileSync(join(DEMO, 'lesson.json'), 'utf8');
const HASH = 'a'.repeat(64);

/** A JSON tree edited by hand (typed loosely: the tests break it on purpose). */
// biome-ignore lint/suspicious/noExplicitAny: a JSON tree edited by hand
type Loose = Record<string, any>;

/** A shipped.json with every field filled; `change` edits it. */
function manifest(change: (j: Loose) => void = () => {}): string {
  const stage = { steps: 10, snapshotStep: 3, metrics: [{ step: 1, loss: 1 }] };
  const j: Loose = {
    version: 1,
    preset: 'quick',
    recipe: presetRecipe(lessonText, 'quick'),
    inputs: { 'data/sft.jsonl': HASH },
    files: { 'sft/adapter_model.safetensors': HASH },
    stages: { sft: stage, dpo: { ...stage } },
    trained: {},
    report: { models: {}, answers: {} },
  };
  change(j);
  return JSON.stringify(j);
}

describe('shipped.json', () => {
  it('reads a complete record', () => {
    const s = parseShipped(manifest());
    expect([s.preset, s.stages.sft.snapshotStep, s.recipe.sft.max_steps]).toEqual(['quick', 3, 70]);
  });

  it.each([
    ['not JSON', () => '{', /shipped\.json is not JSON/],
    ['another version', () => manifest((j) => (j.version = 2)), /version 2 is not 1, the one this webtune reads/],
    ['no preset', () => manifest((j) => delete j.preset), /"preset" must name the preset/],
    [
      'a hash that is not SHA-256',
      () => manifest((j) => (j.inputs['data/sft.jsonl'] = 'abc')),
      /"inputs" must map each demo file to its SHA-256/,
    ],
    ['no DPO recipe', () => manifest((j) => delete j.recipe.dpo), /"recipe\.dpo" must be an object/],
    [
      'a snapshot at the last step',
      () => manifest((j) => (j.stages.sft.snapshotStep = 10)),
      /"stages\.sft\.snapshotStep" must come before its last step/,
    ],
    ['steps not whole', () => manifest((j) => (j.stages.dpo.steps = 2.5)), /"stages\.dpo" needs whole numbers/],
    ['no metrics', () => manifest((j) => delete j.stages.dpo.metrics), /"stages\.dpo\.metrics" must be the run's list/],
    ['no report', () => manifest((j) => delete j.report), /"report" needs the figures and answers/],
  ])('refuses %s, naming the field and what to do', (_, text, message) => {
    expect(() => parseShipped(text(), 'adapters/quick/shipped.json')).toThrow(LessonError);
    expect(() => parseShipped(text(), 'adapters/quick/shipped.json')).toThrow(message);
    expect(() => parseShipped(text())).toThrow(/write it again with scripts\/demo\/ship-adapters\.sh/);
  });
});

describe('the fingerprint', () => {
  const now = () => ({
    preset: 'quick',
    recipe: presetRecipe(lessonText, 'quick'),
    inputs: { 'data/sft.jsonl': HASH } as Record<string, string>,
  });

  it("presetRecipe is lesson.json's stage config with the preset's settings over it, as written", () => {
    const { sft, dpo } = presetRecipe(lessonText, 'quick');
    expect([sft.trainer, sft.learning_rate, sft.max_steps, sft.per_device_train_batch_size, sft.num_train_epochs, sft.seed]).toEqual([
      'SFTTrainer',
      0.002,
      70,
      4,
      3,
      42,
    ]);
    expect([dpo.trainer, dpo.learning_rate, dpo.max_steps, dpo.per_device_train_batch_size, dpo.beta]).toEqual([
      'DPOTrainer',
      0.0005,
      8,
      8,
      0.1,
    ]);
    expect(() => presetRecipe(lessonText, 'slow')).toThrow('lesson.json has no preset "slow".');
  });

  it('lists the files a run reads: the model, both datasets, the checks and the held-out files', () => {
    const lesson = parseLesson(lessonText);
    const checks = parseChecks(readFileSync(join(DEMO, lesson.checks), 'utf8'));
    expect(lessonInputs(lesson, checks)).toEqual([
      'model/config.json',
      'model/model.safetensors',
      'model/tokenizer.json',
      'model/tokenizer_config.json',
      'data/sft.jsonl',
      'data/dpo.jsonl',
      'checks.json',
      'data/eval-prompts.jsonl',
      'data/eval-pairs.jsonl',
    ]);
  });

  it('finds nothing when the recipe and the files are those recorded', () => {
    expect(shippedMismatches(parseShipped(manifest()), now())).toEqual([]);
  });

  it('names each difference: the preset, a recipe key, a changed, new or dropped file', () => {
    const shipped = parseShipped(manifest());
    const n = now();
    n.preset = 'slow';
    n.recipe.sft = { ...n.recipe.sft, learning_rate: 0.001, warmup_steps: undefined };
    n.inputs = { 'data/sft.jsonl': 'b'.repeat(64), 'data/new.jsonl': HASH };
    expect(shippedMismatches(shipped, n)).toEqual([
      'they were trained with the preset "quick", not "slow"',
      "the SFT recipe's learning_rate is 0.001 in lesson.json, 0.002 when they were trained",
      "the SFT recipe's warmup_steps is absent in lesson.json, 0 when they were trained",
      'data/new.jsonl is read by the lesson but was not recorded when they were trained',
      `data/sft.jsonl has changed since they were trained (SHA-256 ${'b'.repeat(12)}…, then ${'a'.repeat(12)}…)`,
    ]);
    n.inputs = {};
    expect(shippedMismatches(shipped, n).at(-1)).toBe('data/sft.jsonl was read when they were trained but is not read by the lesson now');
  });

  it('sha256Hex is the SHA-256 of the bytes as they are (what sha256sum prints)', async () => {
    expect(await sha256Hex(new TextEncoder().encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('compareAdapters', () => {
  const A = 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight';
  const B = 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight';
  const adapter = (a: number[], b: number[]) =>
    new Map([
      [A, Float32Array.from(a)],
      [B, Float32Array.from(b)],
    ]);

  it('reads an adapter file into float32 tensors by name', () => {
    const bytes = writeSafetensors([{ name: A, shape: [1, 2], data: Float32Array.from([1, -2]) }]);
    expect([...adapterTensors('x.safetensors', bytes)].map(([k, v]) => [k, [...v]])).toEqual([[A, [1, -2]]]);
  });

  it('says identical only when every bit is', () => {
    const same = compareAdapters(adapter([0.5, -0.25], [1e-3, 0]), adapter([0.5, -0.25], [1e-3, 0]));
    expect(same).toEqual({ identical: true, worst: { tensor: A, diff: 0, scale: 0.5 }, problems: [] });
    const negZero = compareAdapters(adapter([0.5, -0.25], [1e-3, -0]), adapter([0.5, -0.25], [1e-3, 0]));
    expect([negZero.identical, negZero.problems]).toEqual([false, []]);
  });

  it("accepts differences within SNAPSHOT_RTOL of each tensor's largest value, and names the tensor past it", () => {
    const scaleB = 2e-3;
    const near = compareAdapters(adapter([0.5, -0.25], [scaleB, 0.5 * SNAPSHOT_RTOL * scaleB]), adapter([0.5, -0.25], [scaleB, 0]));
    expect([near.identical, near.problems, near.worst?.tensor]).toEqual([false, [], B]);
    const far = compareAdapters(adapter([0.5, -0.25], [scaleB, 2 * SNAPSHOT_RTOL * scaleB]), adapter([0.5, -0.25], [scaleB, 0]));
    expect(far.problems).toEqual([`${B} differs by up to 4.00e-7, past ${SNAPSHOT_RTOL} of its largest value 2.00e-3`]);
  });

  it('refuses a NaN, a missing tensor and another size', () => {
    expect(compareAdapters(adapter([Number.NaN, 0], [1, 1]), adapter([1, 0], [1, 1])).problems[0]).toMatch(
      /^.*lora_A\.weight differs by up to Infinity/,
    );
    const missing = compareAdapters(new Map([[A, Float32Array.from([1])]]), adapter([1], [1]));
    expect(missing.problems).toEqual([`${B} is only in the shipped adapter`]);
    const size = compareAdapters(adapter([1, 2, 3], [1]), adapter([1, 2], [1]));
    expect(size.problems).toEqual([`${A} has 3 elements fresh, 2 shipped`]);
  });
});
