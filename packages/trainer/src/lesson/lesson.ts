// The classroom lesson as data: the demo's two-stage recipe (SFT, then DPO on top of the SFT adapter) in TRL's names
// (demo/lesson.json), and the automatic checks that score a generated answer (demo/checks.json). Pure logic: the
// studio's Classroom screen and `pnpm cli classroom` read the files, run the steps through the engine and score what
// comes back with the functions here, so both report the same numbers for the same answers.

import type { GenerateRequest, GenerateResult } from '../api.ts';
import { parseJsonl } from '../data/jsonl.ts';
import { isObject } from '../model/arch/fields.ts';
import { fromTrlConfig, HYPER_PARAMS, type TrainConfig } from '../train/config.ts';

export const LESSON_VERSION = 1;
export const CHECKS_VERSION = 1;

/** A lesson or checks file that cannot be used: the message names the file, the key and what to do. */
export class LessonError extends Error {
  override name = 'LessonError';
}

/** The lesson's two stages, by the method each trains. */
export type LessonMethod = 'sft' | 'dpo';

export interface LessonStage {
  /** The stage's dataset, relative to the lesson file. */
  dataset: string;
  config: TrainConfig;
}

/** A shorter way through the lesson: its stage settings over the whole recipe's, and how many held-out prompts. */
export interface LessonPreset {
  id: string;
  title: string;
  description: string;
  /** The first this many held-out prompts and pairs (null: all). */
  prompts: number | null;
  /** A folder (relative to the lesson file, ending in /) with sft/ and dpo/: PEFT adapters this preset trained, or null. */
  adapters: string | null;
  /** Each stage's config: the whole recipe's with the preset's settings over it (max_steps set: TRL's, it wins over epochs). */
  configs: Record<LessonMethod, TrainConfig>;
}

export interface Lesson {
  title: string;
  description: string;
  /** The model folder, relative to the lesson file. */
  model: string;
  /** The checks file, relative to the lesson file. */
  checks: string;
  stages: Record<LessonMethod, LessonStage>;
  presets: LessonPreset[];
}

export interface Check {
  id: string;
  label: string;
  /** The stage whose data teaches the property. */
  taughtBy: LessonMethod;
  description: string;
  regex: RegExp;
}

export interface Checks {
  /** Greedy decoding, stopped at EOS or after this many new tokens. */
  maxNewTokens: number;
  /** Held-out prompts ({"prompt"} per line) and preference pairs, relative to the checks file. */
  evalPrompts: string;
  evalPairs: string;
  checks: Check[];
  /** Per held-out prompt: the regex an answer with that animal's true facts matches. */
  facts: Map<string, RegExp>;
}

/** An answer and the checks it passes (each check's id, and `facts` when its prompt has facts). */
export interface ScoredAnswer {
  prompt: string;
  text: string;
  passed: Record<string, boolean>;
}

type Json = Record<string, unknown>;

function parseJson(text: string, file: string, version: number): Json {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new LessonError(`${file} is not JSON (${(e as Error).message}); fix the file or rebuild it with scripts/demo/build.sh.`);
  }
  if (!isObject(json)) throw new LessonError(`${file} must hold a JSON object.`);
  if (json.version !== version)
    throw new LessonError(
      `${file} has version ${JSON.stringify(json.version)}; this webtune reads version ${version}. Rebuild it with scripts/demo/build.sh or update webtune.`,
    );
  return json;
}

function field<T>(obj: Json, key: string, where: string, type: 'string' | 'number', file: string): T {
  const v = obj[key];
  if (typeof v !== type || (type === 'string' && (v as string).trim() === ''))
    throw new LessonError(
      `${file}: ${where}${key} must be a${type === 'string' ? ' non-empty string' : ' number'}, got ${JSON.stringify(v)}.`,
    );
  return v as T;
}

// Keys of a stage's config: TRL's hyper-parameter names, and what toTrlConfig writes beside them.
const TRL_KEYS = new Set(['trainer', 'peft_config', ...HYPER_PARAMS.filter((p) => !p.lora).map((p) => p.trl)]);
const PEFT_KEYS = new Set(HYPER_PARAMS.filter((p) => p.lora).map((p) => p.trl));
const TRAINER: Record<LessonMethod, string> = { sft: 'SFTTrainer', dpo: 'DPOTrainer' };

/** A stage's TRL config (`where` names it in messages), checked key by key and read into webtune's. */
function trlConfig(config: Json, method: LessonMethod, where: string, file: string): TrainConfig {
  const unknown = Object.keys(config).filter((k) => !TRL_KEYS.has(k));
  const peft = config.peft_config;
  if (isObject(peft))
    unknown.push(
      ...Object.keys(peft)
        .filter((k) => !PEFT_KEYS.has(k))
        .map((k) => `peft_config.${k}`),
    );
  if (unknown.length > 0)
    throw new LessonError(
      `${file}: ${where} has unknown key${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; use TRL's names (${[...TRL_KEYS].join(', ')}).`,
    );
  if (config.trainer !== TRAINER[method])
    throw new LessonError(`${file}: ${where}.trainer must be "${TRAINER[method]}", got ${JSON.stringify(config.trainer)}.`);
  try {
    return fromTrlConfig(config);
  } catch (e) {
    throw new LessonError(`${file}: ${where}: ${(e as Error).message}.`);
  }
}

function stageConfig(lesson: Json, method: LessonMethod, file: string): Json {
  const stages = lesson.stages;
  const s = isObject(stages) ? stages[method] : undefined;
  const where = `stages.${method}`;
  if (!isObject(s)) throw new LessonError(`${file}: ${where} is missing; a lesson has an "sft" and a "dpo" stage.`);
  if (!isObject(s.config)) throw new LessonError(`${file}: ${where}.config must be an object of TRL hyper-parameters.`);
  return s.config;
}

function stage(lesson: Json, method: LessonMethod, file: string): LessonStage {
  const config = stageConfig(lesson, method, file);
  const dataset = field<string>((lesson.stages as Json)[method] as Json, 'dataset', `stages.${method}.`, 'string', file);
  return { dataset, config: trlConfig(config, method, `stages.${method}.config`, file) };
}

function adapterFolder(v: unknown, where: string, file: string): string {
  if (typeof v !== 'string' || !v.endsWith('/') || v.startsWith('/') || v.includes('..'))
    throw new LessonError(
      `${file}: ${where} must be a folder inside the lesson's, ending in "/" (like "adapters/quick/"), got ${JSON.stringify(v)}.`,
    );
  return v;
}

/** lesson.json's "presets": each a title, a description, held_out_prompts, and TRL settings per stage over the recipe's. */
function presets(lesson: Json, file: string): LessonPreset[] {
  if (lesson.presets === undefined) return [];
  if (!isObject(lesson.presets)) throw new LessonError(`${file}: "presets" must be an object of named presets.`);
  return Object.entries(lesson.presets).map(([id, p]): LessonPreset => {
    const where = `presets.${id}.`;
    if (!isObject(p)) throw new LessonError(`${file}: ${where.slice(0, -1)} must be an object.`);
    const prompts = p.held_out_prompts;
    if (prompts !== undefined && !(Number.isInteger(prompts) && (prompts as number) >= 1))
      throw new LessonError(`${file}: ${where}held_out_prompts must be a whole number of at least 1, got ${JSON.stringify(prompts)}.`);
    const stages = p.stages ?? {};
    if (!isObject(stages)) throw new LessonError(`${file}: ${where}stages must be an object ("sft", "dpo": TRL settings).`);
    const extra = Object.keys(stages).filter((k) => k !== 'sft' && k !== 'dpo');
    if (extra.length > 0) throw new LessonError(`${file}: ${where}stages has ${extra.join(', ')}; a lesson's stages are "sft" and "dpo".`);
    const configs = {} as Record<LessonMethod, TrainConfig>;
    for (const m of ['sft', 'dpo'] as const) {
      const over = stages[m] ?? {};
      if (!isObject(over)) throw new LessonError(`${file}: ${where}stages.${m} must be an object of TRL settings.`);
      configs[m] = trlConfig({ ...stageConfig(lesson, m, file), ...over }, m, `${where}stages.${m}`, file);
    }
    return {
      id,
      title: field<string>(p, 'title', where, 'string', file),
      description: typeof p.description === 'string' ? p.description : '',
      prompts: (prompts as number | undefined) ?? null,
      adapters: p.adapters === undefined ? null : adapterFolder(p.adapters, `${where}adapters`, file),
      configs,
    };
  });
}

export function parseLesson(text: string, file = 'lesson.json'): Lesson {
  const json = parseJson(text, file, LESSON_VERSION);
  return {
    title: field<string>(json, 'title', '', 'string', file),
    description: typeof json.description === 'string' ? json.description : '',
    model: field<string>(json, 'model', '', 'string', file),
    checks: field<string>(json, 'checks', '', 'string', file),
    stages: { sft: stage(json, 'sft', file), dpo: stage(json, 'dpo', file) },
    presets: presets(json, file),
  };
}

function regex(source: unknown, flags: unknown, where: string, file: string): RegExp {
  if (typeof source !== 'string') throw new LessonError(`${file}: ${where}.regex must be a string.`);
  try {
    return new RegExp(source, typeof flags === 'string' ? flags : '');
  } catch (e) {
    throw new LessonError(`${file}: ${where}.regex is not a JavaScript regular expression (${(e as Error).message}).`);
  }
}

export function parseChecks(text: string, file = 'checks.json'): Checks {
  const json = parseJson(text, file, CHECKS_VERSION);
  const generation = isObject(json.generation) ? json.generation : {};
  const maxNewTokens = field<number>(generation, 'max_new_tokens', 'generation.', 'number', file);
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1)
    throw new LessonError(`${file}: generation.max_new_tokens must be a whole number above 0, got ${maxNewTokens}.`);
  if (!Array.isArray(json.checks) || json.checks.length === 0) throw new LessonError(`${file}: "checks" must be a non-empty list.`);
  const checks = json.checks.map((c: unknown, i: number): Check => {
    const where = `checks[${i}]`;
    if (!isObject(c)) throw new LessonError(`${file}: ${where} must be an object.`);
    const id = field<string>(c, 'id', `${where}.`, 'string', file);
    if (c.taught_by !== 'sft' && c.taught_by !== 'dpo')
      throw new LessonError(`${file}: ${where}.taught_by must be "sft" or "dpo", got ${JSON.stringify(c.taught_by)}.`);
    return {
      id,
      label: typeof c.label === 'string' ? c.label : id,
      taughtBy: c.taught_by,
      description: typeof c.description === 'string' ? c.description : '',
      regex: regex(c.regex, c.flags, `check "${id}"`, file),
    };
  });
  const ids = checks.map((c) => c.id);
  const twice = ids.find((id, i) => ids.indexOf(id) !== i);
  if (twice) throw new LessonError(`${file}: two checks have the id "${twice}".`);
  const facts = new Map<string, RegExp>();
  const items = isObject(json.facts) && Array.isArray(json.facts.items) ? json.facts.items : [];
  items.forEach((item: unknown, i: number) => {
    const where = `facts.items[${i}]`;
    if (!isObject(item) || typeof item.prompt !== 'string') throw new LessonError(`${file}: ${where} needs a "prompt" string.`);
    facts.set(item.prompt, regex(item.regex, item.flags, where, file));
  });
  return {
    maxNewTokens,
    evalPrompts: field<string>(json, 'eval_prompts', '', 'string', file),
    evalPairs: field<string>(json, 'eval_pairs', '', 'string', file),
    checks,
    facts,
  };
}

/** Held-out prompts: one {"prompt": "..."} per line, exactly as the model gets them (white space matters). */
export function parsePrompts(text: string, file: string): string[] {
  const { rows, errors } = parseJsonl(text);
  const bad = [...errors];
  const prompts: string[] = [];
  for (const { line, value } of rows) {
    if (isObject(value) && typeof value.prompt === 'string' && value.prompt !== '') prompts.push(value.prompt);
    else bad.push({ line, reason: 'each line must be {"prompt": "<text>"}' });
  }
  if (bad.length > 0) {
    bad.sort((a, b) => a.line - b.line);
    throw new LessonError(`${file} line ${bad[0].line}: ${bad[0].reason}${bad.length > 1 ? ` (and ${bad.length - 1} more lines)` : ''}.`);
  }
  if (prompts.length === 0) throw new LessonError(`${file} has no prompts.`);
  return prompts;
}

/** Apply every check to an answer, as checks.json says: to the decoded text with white space trimmed at both ends. */
export function scoreAnswer(checks: Checks, prompt: string, text: string): ScoredAnswer {
  const answer = text.trim();
  const passed: Record<string, boolean> = {};
  for (const c of checks.checks) passed[c.id] = c.regex.test(answer);
  const fact = checks.facts.get(prompt);
  if (fact) passed.facts = fact.test(answer);
  return { prompt, text, passed };
}

/** The fraction of answers that pass each check (a check only some answers have, like `facts`, over those). */
export function passRates(answers: ScoredAnswer[]): Record<string, number> {
  const passed: Record<string, number> = {};
  const seen: Record<string, number> = {};
  for (const a of answers)
    for (const [id, ok] of Object.entries(a.passed)) {
      seen[id] = (seen[id] ?? 0) + 1;
      passed[id] = (passed[id] ?? 0) + (ok ? 1 : 0);
    }
  return Object.fromEntries(Object.keys(seen).map((id) => [id, passed[id] / seen[id]]));
}

/** What the lesson needs of the engine: the worker's client in the studio, the headless page in the CLI. */
export interface LessonEngine {
  generate(request: GenerateRequest): Promise<GenerateResult>;
}

/**
 * Answer each prompt with one model (the base for null, else an adapter with the adapters it was trained on), decoded
 * as checks.json prescribes (greedy, stop at EOS, at most maxNewTokens), and score each answer.
 */
export async function answerPrompts(
  engine: LessonEngine,
  checks: Checks,
  prompts: string[],
  adapterId: string | null,
  onAnswer?: (index: number, answer: ScoredAnswer) => void,
): Promise<ScoredAnswer[]> {
  const out: ScoredAnswer[] = [];
  for (const [i, prompt] of prompts.entries()) {
    const { text } = await engine.generate({ prompt, adapterId, maxNewTokens: checks.maxNewTokens, temperature: 0 });
    const scored = scoreAnswer(checks, prompt, text);
    out.push(scored);
    onAnswer?.(i, scored);
  }
  return out;
}

/**
 * The share of held-out answers that must pass each check SFT teaches before the lesson goes on to DPO. DPO polishes a
 * behaviour the model already has: its pairs are two cards, and the SFT model is both where the policy starts and
 * the reference it is measured against, so a format the SFT model writes only now and then is not there to polish.
 * Four answers in five is "the model writes the card": the whole recipe reaches 100% (scripts/demo/README.md), and
 * the margin leaves room for the odd slip of a short run without waving through a coin flip.
 */
export const SMOKE_TEST_PASS_SHARE = 0.8;

/** A check SFT teaches that too few SFT answers pass. */
export interface SmokeTestFailure {
  check: Check;
  passed: number;
  answers: number;
}

export interface SmokeTestVerdict {
  passed: boolean;
  failures: SmokeTestFailure[];
  /** Null when it passed; otherwise what failed, why DPO cannot fix it, and what to do, in plain words. */
  message: string | null;
}

/**
 * The smoke test's verdict on the SFT model's held-out answers: does it pass every check SFT teaches on at least
 * SMOKE_TEST_PASS_SHARE of them? `steps` (what SFT ran, and what the lesson's whole recipe runs) names the remedy.
 */
export function smokeTestVerdict(checks: Checks, sftAnswers: ScoredAnswer[], steps: { trained: number; recipe: number }): SmokeTestVerdict {
  const failures: SmokeTestFailure[] = [];
  for (const check of checks.checks.filter((c) => c.taughtBy === 'sft')) {
    const passed = sftAnswers.filter((a) => a.passed[check.id]).length;
    if (sftAnswers.length === 0 || passed < SMOKE_TEST_PASS_SHARE * sftAnswers.length)
      failures.push({ check, passed, answers: sftAnswers.length });
  }
  if (failures.length === 0) return { passed: true, failures, message: null };
  const what = failures.map((f) => `"${f.check.label}" on ${f.passed} of ${f.answers} held-out prompts`).join(' and ');
  const more =
    steps.trained < steps.recipe
      ? `Train SFT for more steps (this run took ${steps.trained} of the whole recipe's ${steps.recipe}), or run the whole recipe`
      : 'Train SFT again with more epochs or a higher learning rate';
  return {
    passed: false,
    failures,
    message:
      `The smoke test failed: the SFT model passed ${what}; the lesson needs ${Math.round(SMOKE_TEST_PASS_SHARE * 100)}% before DPO. ` +
      'DPO polishes what the SFT model already does; it cannot add a format the SFT model lacks. ' +
      `${more}.`,
  };
}
