// The classroom's shipped adapters on the command line (the record and its checks: trainer lesson/shipped.ts).
//   --ship DIR        train the preset as `classroom` does, the same run stopped after a few steps to save a snapshot
//                     and resumed, and write the adapters, the snapshots and shipped.json (scripts/demo/ship-adapters.sh)
//   --use-shipped     the smoke test and the evaluation on the shipped adapters, with no training
//   --verify-shipped  the fingerprint, the shipped adapters' recorded answer to the first held-out prompt, then the
//                     recipe's first steps trained fresh against the snapshots (--full: the whole run against the final adapters)
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, relative } from 'node:path';
import {
  ADAPTER_FILES,
  type AdapterFile,
  adapterTensors,
  compareAdapters,
  LessonError,
  type LessonMethod,
  type LessonPreset,
  lessonInputs,
  parseShipped,
  presetRecipe,
  SHIPPED_MANIFEST,
  SHIPPED_VERSION,
  type Shipped,
  type ShippedReport,
  SNAPSHOT_RTOL,
  sha256Hex,
  shippedMismatches,
  stageFolder,
} from '@webtune/trainer';
import { UsageError } from '../args.ts';
import type { Engine } from '../engine.ts';
import { readAdapterDir } from '../model-arg.ts';
import { OutputFolder } from '../out-dir.ts';
import type { ClassroomFiles, StageRun } from './classroom.ts';
import { importAdapterArg } from './shared.ts';

/**
 * Where each stage's run is stopped for its snapshot: as few steps as still check the run, so a fresh run of them is
 * cheap enough for CI. Not one: AdamW's first update is about lr * sign(gradient) elementwise (m / sqrt(v) with one
 * gradient), so it would check little more than the gradient's signs; the second depends on both steps' gradients in
 * full, on the second batch of the seeded data order and on the schedule's second learning rate.
 */
export const SNAPSHOT_STEPS: Record<LessonMethod, number> = { sft: 2, dpo: 2 };
/** The files shipped for each final adapter (a snapshot has only ADAPTER_FILES). */
const FINAL_FILES = [...ADAPTER_FILES, 'training_config.json', 'README.md'];
const METHODS = ['sft', 'dpo'] as const;

/** The preset's shipped folder (lesson.json's "adapters"), or a usage error saying the preset ships none. */
export function shippedDir(files: ClassroomFiles, preset: LessonPreset | null): string {
  const chosen = preset ?? files.lesson.presets.find((p) => p.adapters !== null) ?? null;
  if (!chosen?.adapters)
    throw new UsageError(
      `${preset ? `--preset ${preset.id}` : files.lessonFile} ships no adapters (lesson.json's presets.<name>.adapters); train them with scripts/demo/ship-adapters.sh`,
    );
  return join(files.dir, chosen.adapters);
}

/** The lesson now: the preset's recipe as lesson.json writes it, and the SHA-256 of every demo file a run reads. */
async function fingerprintNow(files: ClassroomFiles, preset: LessonPreset) {
  const inputs: Record<string, string> = {};
  for (const path of lessonInputs(files.lesson, files.checks)) {
    const full = join(files.dir, path);
    if (!existsSync(full))
      throw new UsageError(`${relative(process.cwd(), full)} is missing (read by the lesson); rebuild the demo with scripts/demo/build.sh`);
    inputs[path] = await sha256Hex(new Uint8Array(readFileSync(full)));
  }
  return { preset: preset.id, recipe: presetRecipe(readFileSync(files.lessonFile, 'utf8'), preset.id, files.lessonFile), inputs };
}

/**
 * The shipped record, checked before the browser starts: every shipped file as recorded, and the recipe and the demo's
 * files as they were when the adapters were trained. A usage error lists what differs and says to train them again.
 */
export async function checkShipped(files: ClassroomFiles, preset: LessonPreset): Promise<{ dir: string; shipped: Shipped }> {
  const dir = shippedDir(files, preset);
  const manifest = join(dir, SHIPPED_MANIFEST);
  const show = relative(process.cwd(), manifest);
  if (!existsSync(manifest)) throw new UsageError(`${show} is missing; train the shipped adapters with scripts/demo/ship-adapters.sh`);
  let shipped: Shipped;
  try {
    shipped = parseShipped(readFileSync(manifest, 'utf8'), show);
  } catch (err) {
    if (err instanceof LessonError) throw new UsageError(err.message);
    throw err;
  }
  const problems = shippedMismatches(shipped, await fingerprintNow(files, preset));
  for (const [name, hash] of Object.entries(shipped.files)) {
    const path = join(dir, name);
    if (!existsSync(path)) problems.push(`${name} is missing from the shipped folder`);
    else if ((await sha256Hex(new Uint8Array(readFileSync(path)))) !== hash)
      problems.push(`${name} is not the file recorded in ${SHIPPED_MANIFEST}`);
  }
  if (problems.length > 0)
    throw new UsageError(
      `the adapters in ${relative(process.cwd(), dir)} are not the lesson's as it is now: ${problems.join('; ')}. Train them again with scripts/demo/ship-adapters.sh`,
    );
  return { dir, shipped };
}

/** The shipped SFT adapter, and the DPO adapter on top of it, imported into the engine. */
export async function importShipped(engine: Engine, dir: string): Promise<Record<LessonMethod, string>> {
  const sft = await importAdapterArg(engine, readAdapterDir(join(dir, stageFolder('sft')), 'use-shipped'));
  const dpo = await importAdapterArg(engine, readAdapterDir(join(dir, stageFolder('dpo')), 'use-shipped'), sft);
  return { sft, dpo };
}

/** A shipped stage as the classroom's run of it: its adapter, steps and metrics as recorded, no time spent. */
export function shippedRun(shipped: Shipped, method: LessonMethod, adapterId: string, recipeSteps: number): StageRun {
  const { steps, metrics } = shipped.stages[method];
  const result = { status: 'completed' as const, message: 'shipped', adapterId, metrics: metrics as never, runId: '' };
  return { result, seconds: 0, steps, flops: 0, recipeSteps, snapshot: null };
}

/** Write the shipped folder from a --ship run: each stage's final adapter and snapshot, and shipped.json. */
export async function writeShipped(
  engine: Engine,
  files: ClassroomFiles,
  preset: LessonPreset,
  runs: Record<LessonMethod, StageRun>,
  report: ShippedReport,
  folder: OutputFolder,
): Promise<void> {
  const out: Record<string, Uint8Array> = {};
  for (const m of METHODS) {
    const { result, snapshot } = runs[m];
    if (!snapshot) throw new Error(`the ${m.toUpperCase()} run has no snapshot to ship`);
    const final = await engine.call('exportAdapter', result.adapterId as string, { stacked: false });
    for (const f of final) if (FINAL_FILES.includes(f.name)) out[`${stageFolder(m)}${f.name}`] = f.data;
    for (const f of snapshot.files)
      if ((ADAPTER_FILES as readonly string[]).includes(f.name)) out[`${stageFolder(m, snapshot.step)}${f.name}`] = f.data;
  }
  const fileHashes: Record<string, string> = {};
  for (const [name, data] of Object.entries(out)) fileHashes[name] = await sha256Hex(data);
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout: the record says so
  }
  const { preset: _, recipe, inputs } = await fingerprintNow(files, preset);
  const shipped: Shipped & { version: number } = {
    version: SHIPPED_VERSION,
    preset: preset.id,
    recipe,
    inputs,
    files: fileHashes,
    stages: Object.fromEntries(
      METHODS.map((m) => [m, { steps: runs[m].steps, snapshotStep: runs[m].snapshot?.step, metrics: runs[m].result.metrics }]),
    ) as unknown as Shipped['stages'],
    trained: {
      command: `pnpm cli classroom --preset ${preset.id} --ship ${relative(process.cwd(), folder.path)}`,
      webtune_commit: commit,
      date: new Date().toISOString(),
      cpus: cpus().length,
      load_average_at_end: loadavg().map((x) => Math.round(x * 100) / 100),
      seconds: (report as unknown as { seconds: unknown }).seconds,
    },
    report,
  };
  // The whole folder is replaced: no file of an earlier shipping stays beside the new ones.
  for (const [name, data] of Object.entries(out)) folder.add(name, data);
  folder.add(SHIPPED_MANIFEST, `${JSON.stringify(shipped, null, 1)}\n`);
  folder.commit();
}

/**
 * --ship DIR, checked before the browser starts: the folder is replaced whole, so one that holds files and no
 * shipped.json (not an earlier shipping) needs --overwrite.
 */
export function shipFolder(arg: string, overwrite: boolean): OutputFolder {
  const folder = OutputFolder.check(arg, 'ship');
  if (folder.existing.includes(SHIPPED_MANIFEST)) return folder;
  return folder.requireEmptyOr(overwrite);
}

/** One stage's fresh adapter against the shipped one, as a line for the user, and its problems. */
function compareStage(method: LessonMethod, step: number, fresh: AdapterFile[], dir: string, folder: string) {
  const name = 'adapter_model.safetensors';
  const freshBytes = fresh.find((f) => f.name === name)?.data;
  if (!freshBytes) throw new Error(`the fresh ${method.toUpperCase()} adapter has no ${name}`);
  const shippedPath = join(dir, folder, name);
  const cmp = compareAdapters(
    adapterTensors(`fresh ${method} ${name}`, freshBytes),
    adapterTensors(shippedPath, new Uint8Array(readFileSync(shippedPath))),
  );
  const w = cmp.worst;
  const line =
    `${method.toUpperCase()} after step ${step}: ${cmp.identical ? 'identical bit for bit to' : 'within tolerance of'} ${folder}` +
    (w && !cmp.identical
      ? ` (largest difference ${w.diff.toExponential(2)} in ${w.tensor}, whose largest value is ${w.scale.toExponential(2)})`
      : '');
  return { line, problems: cmp.problems.map((p) => `${method.toUpperCase()} after step ${step}: ${p}`), identical: cmp.identical };
}

export interface VerifyStage {
  /** Train the stage fresh (on top of `parentAdapterId`), stopped after `stopAfterStep` (null: to its end). */
  train(method: LessonMethod, parentAdapterId: string | null, stopAfterStep: number | null): Promise<{ adapterId: string }>;
  /** The adapter's greedy answer to `prompt`, decoded as the classroom decodes it (checks.json). */
  answer(prompt: string, adapterId: string): Promise<string>;
}

/**
 * What ships, checked in the browser. First the shipped adapters as the classroom imports them (--use-shipped, Show
 * the result now) answer the first held-out prompt as shipped.json recorded (the figures shown without training are
 * theirs). Then each stage trained fresh with the recipe, compared with what ships: its first snapshotStep steps
 * against the snapshot, or with `full` the whole run against the final adapter. DPO trains on top of the shipped SFT
 * adapter, as the shipped DPO run trained on top of that very adapter. Returns the lines to print; throws when any differs.
 */
export async function verifyShipped(engine: Engine, dir: string, shipped: Shipped, full: boolean, stage: VerifyStage): Promise<string[]> {
  const lines: string[] = [];
  const problems: string[] = [];
  const ids = await importShipped(engine, dir);
  for (const m of METHODS) {
    const { prompt, text } = shipped.report.answers[m][0];
    const now = await stage.answer(prompt, ids[m]);
    const what = `the shipped ${m.toUpperCase()} adapter's answer to held-out prompt 1`;
    if (now === text) lines.push(`${what}: as recorded in ${SHIPPED_MANIFEST}`);
    else problems.push(`${what} is ${JSON.stringify(now)}, recorded ${JSON.stringify(text)}`);
  }
  const parent = ids.sft;
  for (const m of METHODS) {
    const { steps, snapshotStep } = shipped.stages[m];
    const step = full ? steps : snapshotStep;
    const { adapterId } = await stage.train(m, m === 'dpo' ? parent : null, full ? null : step);
    const fresh = await engine.call('exportAdapter', adapterId, { stacked: false });
    const r = compareStage(m, step, fresh, dir, full ? stageFolder(m) : stageFolder(m, step));
    lines.push(r.line);
    problems.push(...r.problems);
  }
  if (problems.length > 0)
    throw new Error(
      `the shipped adapters are not what the recipe gives now (each tensor within ${SNAPSHOT_RTOL} of its largest value, each answer as recorded): ${problems.join('; ')}. ` +
        'The code or its numerics changed since they were trained: train them again with scripts/demo/ship-adapters.sh',
    );
  return lines;
}

type ShippedMode = 'use' | 'verify' | 'ship' | null;

/** Which of --use-shipped, --verify-shipped and --ship the command line asks for, refusing what cannot go with it. */
export function shippedMode(values: Record<string, string | boolean | undefined>): ShippedMode {
  const asked = (['use-shipped', 'verify-shipped', 'ship'] as const).filter((f) => values[f] !== undefined);
  if (asked.length > 1) throw new UsageError(`--${asked[0]} and --${asked[1]} cannot go together: give one`);
  if (values.full !== undefined && !asked.includes('verify-shipped'))
    throw new UsageError('--full goes with --verify-shipped (the whole recipe trained fresh against the shipped adapters)');
  const mode = asked[0];
  if (!mode) return null;
  // The shipped adapters are the preset's: other step counts or prompts would make other adapters or other figures.
  const conflicts = ['sft-steps', 'dpo-steps', 'train-dpo-anyway', ...(mode === 'use-shipped' ? [] : ['prompts'])];
  const bad = conflicts.find((f) => values[f] !== undefined);
  if (bad) throw new UsageError(`--${bad} cannot go with --${mode}: the shipped adapters are the preset's own recipe`);
  if (mode === 'ship' && values.preset === undefined) throw new UsageError("--ship needs --preset: the shipped adapters are a preset's");
  return mode === 'use-shipped' ? 'use' : mode === 'verify-shipped' ? 'verify' : 'ship';
}

/** The preset whose adapters ship (--use-shipped and --verify-shipped without --preset), or a usage error. */
export function shippingPreset(files: ClassroomFiles): string {
  const preset = files.lesson.presets.find((p) => p.adapters !== null);
  if (!preset)
    throw new UsageError(
      `${files.lessonFile} has no preset that ships adapters (presets.<name>.adapters); train them with scripts/demo/ship-adapters.sh`,
    );
  return preset.id;
}
