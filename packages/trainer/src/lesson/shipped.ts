// The lesson's shipped adapters (demo/adapters/<preset>/, written by `pnpm cli classroom --ship` from
// scripts/demo/ship-adapters.sh): the record of how they were trained (shipped.json), and the pure checks that tie them
// to the lesson as it is now. A teacher shows their result at once; these checks are why that result is the recipe's:
//  - the fingerprint: the recipe (lesson.json's stage configs with the preset's settings over them) and the SHA-256 of
//    every demo file the training read must equal what the adapters were trained with, and each shipped file its own;
//  - the snapshot: the same run was stopped after a few steps and saved (stopAfterStep, then resumed to the end), so a
//    fresh run of those first steps, minutes cheaper than the whole run, must give the same weights (compareAdapters).
// The run is deterministic (data order, LoRA init and dropout are seeded; every kernel is; a resumed run is bit-identical
// to an uninterrupted one: train/control.gpu.test.ts), so equal first steps on equal inputs and code mean equal ends.
import { isObject } from '../model/arch/fields.ts';
import { parseSafetensors, tensorToFloat32 } from '../model/safetensors.ts';
import { type Checks, type Lesson, LessonError, type LessonMethod, type ScoredAnswer } from './lesson.ts';

export const SHIPPED_VERSION = 1;
/** The record beside the shipped adapters, in their folder. */
export const SHIPPED_MANIFEST = 'shipped.json';
/** The adapters' files in each stage's folder (sft/, dpo/, and the snapshots <stage>-step<k>/). */
export const ADAPTER_FILES = ['adapter_config.json', 'adapter_model.safetensors'] as const;

/**
 * How far a fresh snapshot may sit from the shipped one: each element within SNAPSHOT_RTOL of its tensor's largest
 * magnitude. On the machine that trained them the two are equal bit for bit (measured: scripts/demo/README.md); another
 * CPU or GPU may sum in another order or fuse multiply-adds, a relative error of ~1e-7 per operation, which AdamW's
 * update (m / (sqrt(v) + eps), scale-free) passes on at about that size for the few steps of a snapshot. A change of
 * the recipe, the data order, the init or a kernel moves weights by about the learning rate a step, some 1e-2 of the
 * largest after three steps: far outside.
 */
export const SNAPSHOT_RTOL = 1e-4;

export interface ShippedStage {
  /** Optimizer steps the stage trained. */
  steps: number;
  /** The same run stopped after this step, saved in `<stage>-step<k>/`: what a cheap check trains again. */
  snapshotStep: number;
  /** Every log record of the run (TRL's names): the losses a fresh run's can be read against. */
  metrics: Record<string, number>[];
}

/** What the report of the run holds for a teacher: figures per model and every held-out answer. */
export interface ShippedReport {
  held_out: { prompts: number; pairs: number };
  smoke_test: { passed: boolean; message: string | null };
  models: Record<'base' | 'sft' | 'dpo', Record<string, number>>;
  answers: Record<'base' | 'sft' | 'dpo', ScoredAnswer[]>;
}

export interface Shipped {
  preset: string;
  /** Each stage's recipe as trained: lesson.json's config with the preset's settings over it, in TRL's names. */
  recipe: Record<LessonMethod, Record<string, unknown>>;
  /** The demo files the run read (relative to the lesson file), each with its SHA-256. */
  inputs: Record<string, string>;
  /** Each shipped file (relative to the shipped folder) with its SHA-256. */
  files: Record<string, string>;
  stages: Record<LessonMethod, ShippedStage>;
  /** Where and how they were trained (webtune's commit, the WebGPU adapter, the date, seconds): for people to read. */
  trained: Record<string, unknown>;
  report: ShippedReport;
}

type Json = Record<string, unknown>;
const METHODS = ['sft', 'dpo'] as const;
const STAGE_NAME: Record<LessonMethod, string> = { sft: 'SFT', dpo: 'DPO' };

/** A stage's folder in the shipped folder: the final adapter, or the snapshot after `step`. */
export const stageFolder = (method: LessonMethod, step?: number) => (step === undefined ? `${method}/` : `${method}-step${step}/`);

/** lesson.json's recipe for each stage with preset `presetId`'s settings over it, as written (TRL's names). */
export function presetRecipe(lessonText: string, presetId: string, file = 'lesson.json'): Record<LessonMethod, Json> {
  const lesson = JSON.parse(lessonText) as Json; // parseLesson has read it already: its errors are said there
  const preset = isObject(lesson.presets) ? lesson.presets[presetId] : undefined;
  if (!isObject(preset)) throw new LessonError(`${file} has no preset "${presetId}".`);
  const out = {} as Record<LessonMethod, Json>;
  for (const m of METHODS) {
    const stage = (lesson.stages as Json)[m] as Json;
    const over = isObject(preset.stages) && isObject(preset.stages[m]) ? preset.stages[m] : {};
    out[m] = { ...(stage.config as Json), ...over };
  }
  return out;
}

/** The demo files a run of the lesson reads, relative to the lesson file: the model, the data, the checks. */
export function lessonInputs(lesson: Lesson, checks: Checks): string[] {
  const near = (base: string, path: string) => `${base.includes('/') ? base.slice(0, base.lastIndexOf('/') + 1) : ''}${path}`;
  const model = lesson.model.endsWith('/') ? lesson.model : `${lesson.model}/`;
  return [
    ...['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'].map((f) => `${model}${f}`),
    lesson.stages.sft.dataset,
    lesson.stages.dpo.dataset,
    lesson.checks,
    near(lesson.checks, checks.evalPrompts),
    near(lesson.checks, checks.evalPairs),
  ];
}

function need(ok: boolean, file: string, what: string): void {
  if (!ok) throw new LessonError(`${file}: ${what}; write it again with scripts/demo/ship-adapters.sh.`);
}

const isHashMap = (v: unknown) => isObject(v) && Object.values(v).every((h) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h));

export function parseShipped(text: string, file = SHIPPED_MANIFEST): Shipped {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new LessonError(`${file} is not JSON (${(e as Error).message}); write it again with scripts/demo/ship-adapters.sh.`);
  }
  need(isObject(json), file, 'it must hold a JSON object');
  const j = json as Json;
  need(j.version === SHIPPED_VERSION, file, `version ${JSON.stringify(j.version)} is not ${SHIPPED_VERSION}, the one this webtune reads`);
  need(typeof j.preset === 'string' && j.preset !== '', file, '"preset" must name the preset of lesson.json it trained');
  need(isHashMap(j.inputs), file, '"inputs" must map each demo file to its SHA-256 (64 hex digits)');
  need(isHashMap(j.files), file, '"files" must map each shipped file to its SHA-256 (64 hex digits)');
  for (const key of ['recipe', 'stages'] as const)
    for (const m of METHODS) need(isObject(j[key]) && isObject((j[key] as Json)[m]), file, `"${key}.${m}" must be an object`);
  for (const m of METHODS) {
    const s = (j.stages as Json)[m] as Json;
    const whole = (v: unknown) => Number.isInteger(v) && (v as number) >= 1;
    need(whole(s.steps) && whole(s.snapshotStep), file, `"stages.${m}" needs whole numbers "steps" and "snapshotStep"`);
    need((s.snapshotStep as number) < (s.steps as number), file, `"stages.${m}.snapshotStep" must come before its last step`);
    need(Array.isArray(s.metrics), file, `"stages.${m}.metrics" must be the run's list of log records`);
  }
  const report = j.report as Json;
  need(isObject(report) && isObject(report.models) && isObject(report.answers), file, '"report" needs the figures and answers');
  return j as unknown as Shipped;
}

/**
 * What differs between the shipped adapters' record and the lesson now: the preset, each recipe key, each input file
 * (by SHA-256). Empty when the adapters are the recipe's on these files.
 */
export function shippedMismatches(
  shipped: Shipped,
  now: { preset: string; recipe: Record<LessonMethod, Json>; inputs: Record<string, string> },
): string[] {
  const out: string[] = [];
  if (shipped.preset !== now.preset) out.push(`they were trained with the preset "${shipped.preset}", not "${now.preset}"`);
  for (const m of METHODS) {
    const [then, current] = [shipped.recipe[m], now.recipe[m]];
    for (const key of [...new Set([...Object.keys(current), ...Object.keys(then)])].sort()) {
      const [a, b] = [JSON.stringify(then[key]), JSON.stringify(current[key])];
      if (a !== b)
        out.push(`the ${STAGE_NAME[m]} recipe's ${key} is ${b ?? 'absent'} in lesson.json, ${a ?? 'absent'} when they were trained`);
    }
  }
  for (const path of [...new Set([...Object.keys(now.inputs), ...Object.keys(shipped.inputs)])].sort()) {
    const [then, current] = [shipped.inputs[path], now.inputs[path]];
    if (then === undefined) out.push(`${path} is read by the lesson but was not recorded when they were trained`);
    else if (current === undefined) out.push(`${path} was read when they were trained but is not read by the lesson now`);
    else if (then !== current)
      out.push(`${path} has changed since they were trained (SHA-256 ${current.slice(0, 12)}…, then ${then.slice(0, 12)}…)`);
  }
  return out;
}

/** An adapter_model.safetensors as float32 tensors by name. */
export function adapterTensors(file: string, bytes: Uint8Array): Map<string, Float32Array> {
  const parsed = parseSafetensors(file, bytes);
  const out = new Map<string, Float32Array>();
  for (const [name, info] of parsed.tensors) out.set(name, tensorToFloat32(file, bytes, parsed.dataOffset, info));
  return out;
}

export interface AdapterComparison {
  /** Every element has the same bits. */
  identical: boolean;
  /** The tensor whose largest difference is the largest share of its scale (its largest magnitude). */
  worst: { tensor: string; diff: number; scale: number } | null;
  /** What is outside the tolerance, missing or of another shape, in words (empty: within it). */
  problems: string[];
}

/** A freshly trained adapter against the shipped one: the same tensors, each element within rtol of its tensor's scale. */
export function compareAdapters(
  fresh: Map<string, Float32Array>,
  shipped: Map<string, Float32Array>,
  rtol = SNAPSHOT_RTOL,
): AdapterComparison {
  const problems: string[] = [];
  let identical = true;
  let worst: AdapterComparison['worst'] = null;
  for (const name of [...new Set([...fresh.keys(), ...shipped.keys()])].sort()) {
    const [a, b] = [fresh.get(name), shipped.get(name)];
    if (!a || !b) {
      problems.push(`${name} is only in the ${a ? 'fresh' : 'shipped'} adapter`);
      identical = false;
      continue;
    }
    if (a.length !== b.length) {
      problems.push(`${name} has ${a.length} elements fresh, ${b.length} shipped`);
      identical = false;
      continue;
    }
    let scale = 0;
    let diff = 0;
    const [ua, ub] = [new Uint32Array(a.buffer, a.byteOffset, a.length), new Uint32Array(b.buffer, b.byteOffset, b.length)];
    for (let i = 0; i < a.length; i++) {
      scale = Math.max(scale, Math.abs(b[i]));
      const d = Math.abs(a[i] - b[i]);
      diff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(diff, d);
      if (ua[i] !== ub[i]) identical = false;
    }
    if (!worst || diff / (scale || 1) > worst.diff / (worst.scale || 1)) worst = { tensor: name, diff, scale };
    if (diff > rtol * scale)
      problems.push(`${name} differs by up to ${diff.toExponential(2)}, past ${rtol} of its largest value ${scale.toExponential(2)}`);
  }
  return { identical, worst, problems };
}
