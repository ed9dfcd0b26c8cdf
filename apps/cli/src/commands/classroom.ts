// `pnpm cli classroom`: the studio's classroom path, headless. SFT for the basics, a smoke test, DPO for the polish,
// and an evaluation on held-out prompts and pairs, with the demo's recipe (demo/lesson.json) and checks
// (demo/checks.json); prints the before/after figures, and with --json the whole report.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { REPO_ROOT } from '@webtune/harness';
import {
  type AdapterFile,
  answerPrompts,
  type Checks,
  ktoConfig,
  type LessonEngine,
  LessonError,
  type LessonMethod,
  type LessonPreset,
  loraStepFlops,
  parseChecks,
  parseLesson,
  parseModelConfig,
  parsePrompts,
  passRates,
  type ScoredAnswer,
  type ShippedReport,
  SNAPSHOT_RTOL,
  smokeTestVerdict,
  type TrainConfig,
  type TrainEvent,
  type TrainResult,
  totalSteps,
  writeKtoRows,
} from '@webtune/trainer';
import { integerOption, parseCommandArgs, RUNTIME_HELP, UsageError } from '../args.ts';
import type { Engine } from '../engine.ts';
import { OutputFolder } from '../out-dir.ts';
import type { ProgressPrinter } from '../progress.ts';
import { formatDuration } from '../progress.ts';
import { formatTable } from '../table.ts';
import {
  dpoData,
  type Judged,
  judgeSftAnswers,
  judgingHelp,
  judgingOptions,
  judgingPlan,
  judgingReport,
  ktoRows,
  writeJudging,
} from './classroom-judging.ts';
import {
  checkShipped,
  importShipped,
  SNAPSHOT_STEPS,
  shipFolder,
  shippedMode,
  shippedRun,
  shippingPreset,
  verifyShipped,
  writeShipped,
} from './classroom-shipped.ts';
import { loadData, modelArg, openWithModel } from './shared.ts';

const DEFAULT_DEMO = join(REPO_ROOT, 'apps/studio/public/demo');

export const help = `pnpm cli classroom [--demo <dir>] [--preset quick] [--sft-steps N] [--dpo-steps N] [--prompts N] [--train-dpo-anyway]
                     [--out <dir>] [--json] [--use-shipped | --verify-shipped [--full] | --ship <dir>]
                     [--judged-pairs auto|FILE] [--kto auto|FILE] [--kto-judged-only] [--judge-prompts N]

The classroom path of the studio, headless, on the demo model:
  1. SFT for the basics     LoRA SFT with the lesson's recipe
  2. smoke test             held-out prompts through the base model and the SFT model, scored by the checks;
                            the lesson stops here (exit 1, with why and what to do) unless the SFT model passes
                            what SFT teaches on enough of them: DPO cannot add a format the SFT model lacks
  3. DPO for the polish     LoRA DPO on top of the SFT adapter (merged: the starting policy and the reference)
  4. evaluate               reward accuracy on held-out pairs, and the held-out answers of the DPO model
Prints what each model's answers pass (the format SFT teaches, the taste DPO teaches, the true facts) and
the reward accuracy before and after DPO, with the steps and the time each stage took.

  --demo DIR         folder with lesson.json, checks.json, the model and the data (default ${DEFAULT_DEMO})
  --preset NAME      a shorter lesson from lesson.json's presets (the demo's "quick": a visible effect in minutes
                     on a CPU); its steps, learning rates and held-out prompts, unless the flags below say otherwise
  --sft-steps N      stop SFT after N optimizer steps (default: the lesson's epochs, or the preset's steps)
  --dpo-steps N      stop DPO after N optimizer steps (default: the lesson's epochs, or the preset's steps)
  --prompts N        use the first N held-out prompts and pairs (default: all, or the preset's)
  --train-dpo-anyway go on to DPO after a failed smoke test (to show what DPO does without the basics)
  --out DIR          write sft/ and dpo/ (PEFT adapters; dpo/ stacked on the base; kto/ too with --kto) and report.json
  --overwrite        replace --out (or a --ship folder that holds other files) if it holds files
  --json             print the report as one JSON object on stdout
  --use-shipped      no training: the smoke test and the evaluation on the adapters the preset ships (lesson.json's
                     presets.<name>.adapters), refused if the recipe or the demo's files changed since they were trained
  --verify-shipped   check that the shipped adapters answer the first held-out prompt as recorded, then train the
                     recipe's first steps fresh and compare with the shipped snapshots of the same run (each tensor
                     within ${SNAPSHOT_RTOL} of its largest value; bit for bit on the machine that trained them);
                     with --full the whole recipe against the shipped adapters (minutes)
  --ship DIR         train the preset, stopping each stage's run after ${SNAPSHOT_STEPS.sft} steps for a snapshot and resuming it, and
                     write the adapters, the snapshots and shipped.json (scripts/demo/ship-adapters.sh)
${RUNTIME_HELP}
  --verbose          forward the page's console

${judgingHelp}`;

/** Everything the lesson reads (also the shipped adapters' checks, classroom-shipped.ts). */
export type ClassroomFiles = Files;
interface Files {
  dir: string;
  lessonFile: string;
  lesson: ReturnType<typeof parseLesson>;
  checks: Checks;
  modelDir: string;
  data: Record<LessonMethod, { text: string; file: string }>;
  prompts: string[];
  pairs: { text: string; file: string };
}

/** Everything the lesson reads, read and checked in Node before Chromium starts. */
export function readLesson(demoArg: string): Files {
  const dir = resolve(demoArg);
  const lessonFile = join(dir, 'lesson.json');
  if (!existsSync(lessonFile)) throw new UsageError(`--demo ${demoArg} has no lesson.json; give the demo folder (default ${DEFAULT_DEMO})`);
  // Paths as the user would type them: relative inside the working folder, absolute elsewhere.
  const show = (path: string) => (path.startsWith(process.cwd() + sep) ? relative(process.cwd(), path) : path);
  const readText = (path: string, what: string) => {
    if (!existsSync(path)) throw new UsageError(`${show(path)} is missing (${what}); rebuild the demo with scripts/demo/build.sh`);
    return readFileSync(path, 'utf8');
  };
  try {
    const lesson = parseLesson(readText(lessonFile, 'the lesson'), show(lessonFile));
    const checksFile = join(dir, lesson.checks);
    const checks = parseChecks(readText(checksFile, 'the checks named by lesson.json'), show(checksFile));
    const near = (p: string) => join(dirname(checksFile), p);
    const data = {} as Files['data'];
    for (const m of ['sft', 'dpo'] as const) {
      const path = join(dir, lesson.stages[m].dataset);
      data[m] = { text: readText(path, `the ${m.toUpperCase()} dataset`), file: show(path) };
    }
    const prompts = parsePrompts(readText(near(checks.evalPrompts), 'the held-out prompts'), show(near(checks.evalPrompts)));
    const pairsText = readText(near(checks.evalPairs), 'the held-out pairs');
    return {
      dir,
      lessonFile,
      lesson,
      checks,
      modelDir: join(dir, lesson.model),
      data,
      prompts,
      pairs: { text: pairsText, file: show(near(checks.evalPairs)) },
    };
  } catch (err) {
    if (err instanceof LessonError) throw new UsageError(err.message);
    throw err;
  }
}

/** The preset --preset names, or null for the whole recipe. */
export function choosePreset(files: Files, name: string | undefined): LessonPreset | null {
  if (name === undefined) return null;
  const preset = files.lesson.presets.find((p) => p.id === name);
  if (!preset) {
    const names = files.lesson.presets.map((p) => p.id);
    throw new UsageError(
      `--preset ${name} is not in ${files.lessonFile}; ${names.length > 0 ? `its presets are ${names.join(', ')}` : 'it has no presets'}`,
    );
  }
  return preset;
}

export interface StageRun {
  result: TrainResult;
  /** --ship: the same run stopped after `step` (stopAfterStep), exported before it was resumed. */
  snapshot: { step: number; files: AdapterFile[] } | null;
  seconds: number;
  steps: number;
  /** An upper bound: every micro-batch counted at the dataset's longest row. */
  flops: number;
  /** Optimizer steps of the lesson's whole recipe for this stage (its epochs over the rows kept). */
  recipeSteps: number;
}

async function trainStage(
  opened: { engine: Engine; progress: ProgressPrinter; modelConfig: ReturnType<typeof parseModelConfig> },
  files: Files,
  config: TrainConfig,
  parentAdapterId: string | null,
  name: string,
  stop: { snapshotStep?: number; stopAfterStep?: number } = {},
  data = files.data[config.method as LessonMethod],
): Promise<StageRun> {
  const { engine, progress, modelConfig } = opened;
  // KTO's weights go along for the balance line (its data is made here, not shipped).
  const ds = await loadData(
    engine,
    progress,
    config.method,
    data,
    config.maxLength,
    undefined,
    config.method === 'kto' ? config : undefined,
  );
  const t0 = performance.now();
  const request = { config, datasetId: ds.id, parentAdapterId, name };
  const train = async (more: { stopAfterStep?: number; resumeRunId?: string }) => {
    const r = await engine.stream('train', [{ ...request, ...more }], (e: TrainEvent) => progress.event(e));
    progress.done();
    const stoppedAsAsked = more.stopAfterStep !== undefined && r.status === 'cancelled' && r.metrics.at(-1)?.step === more.stopAfterStep;
    if ((r.status !== 'completed' && !stoppedAsAsked) || !r.adapterId) throw new Error(`${name}: ${r.message}`);
    return r;
  };
  let snapshot: StageRun['snapshot'] = null;
  let result: TrainResult;
  if (stop.snapshotStep) {
    // One run, stopped for the snapshot and resumed (bit-identical to running straight through): its first steps are
    // what --verify-shipped trains again.
    const first = await train({ stopAfterStep: stop.snapshotStep });
    snapshot = { step: stop.snapshotStep, files: await engine.call('exportAdapter', first.adapterId as string, { stacked: false }) };
    progress.line(`snapshot after step ${stop.snapshotStep}; resuming the run`);
    result = await train({ resumeRunId: first.runId });
  } else result = await train({ stopAfterStep: stop.stopAfterStep });
  const seconds = (performance.now() - t0) / 1000;
  const steps = result.metrics.at(-1)?.step ?? 0;
  const longest = Math.max(...ds.lengths);
  // A DPO pair is two sequences; a KTO row's KL row is a second (forward only: counted with a backward, a bound).
  const sequences = config.batchSize * (config.method === 'sft' ? 1 : 2);
  const perStep = loraStepFlops(modelConfig, {
    sequences,
    length: longest,
    lora: config.lora,
    backward: true,
    recompute: config.gradientCheckpointing,
  });
  // KTO is no stage of the recipe: it takes DPO's steps.
  const recipeSteps =
    config.method === 'kto' ? steps : totalSteps(files.lesson.stages[config.method as LessonMethod].config, ds.kept).total;
  return { result, seconds, steps, flops: steps * config.gradientAccumulationSteps * perStep, recipeSteps, snapshot };
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('classroom', argv, {
    demo: { type: 'string' },
    preset: { type: 'string' },
    'sft-steps': { type: 'string' },
    'dpo-steps': { type: 'string' },
    prompts: { type: 'string' },
    'train-dpo-anyway': { type: 'boolean' },
    out: { type: 'string' },
    overwrite: { type: 'boolean' },
    json: { type: 'boolean' },
    ...judgingOptions,
    'use-shipped': { type: 'boolean' },
    'verify-shipped': { type: 'boolean' },
    full: { type: 'boolean' },
    ship: { type: 'string' },
    gpu: { type: 'string' },
    runtime: { type: 'string' },
    verbose: { type: 'boolean' },
  });
  const steps = (flag: 'sft-steps' | 'dpo-steps') => {
    return integerOption(flag, values[flag], -1, 1);
  };
  const sftSteps = steps('sft-steps');
  const dpoSteps = steps('dpo-steps');
  const files = readLesson((values.demo as string | undefined) ?? DEFAULT_DEMO);
  const mode = shippedMode(values);
  const plan = judgingPlan(values);
  if (plan && (mode === 'verify' || mode === 'ship' || (mode === 'use' && plan.pairs)))
    throw new UsageError(
      mode === 'use'
        ? '--judged-pairs needs a DPO run: the shipped DPO adapter was trained on the lesson pairs alone (--kto may go with --use-shipped)'
        : `--judged-pairs and --kto do not go with --${mode === 'ship' ? 'ship' : 'verify-shipped'}: the shipped adapters are the recipe's alone`,
    );
  const preset = choosePreset(
    files,
    (values.preset as string | undefined) ?? (mode === 'use' || mode === 'verify' ? shippingPreset(files) : undefined),
  );
  const limit = values.prompts === undefined ? (preset?.prompts ?? null) : integerOption('prompts', values.prompts, 0, 1);
  if (limit !== null) {
    files.prompts = files.prompts.slice(0, limit);
    files.pairs.text = `${files.pairs.text.split('\n').slice(0, limit).join('\n')}\n`;
  }
  const configs = preset?.configs ?? { sft: files.lesson.stages.sft.config, dpo: files.lesson.stages.dpo.config };
  // -1: the stage's own length (the recipe's epochs, or the preset's max_steps).
  const sft = { ...configs.sft, maxSteps: sftSteps > 0 ? sftSteps : configs.sft.maxSteps };
  const dpo = { ...configs.dpo, maxSteps: dpoSteps > 0 ? dpoSteps : configs.dpo.maxSteps };
  const modelConfig = parseModelConfig(readFileSync(join(files.modelDir, 'config.json'), 'utf8'), join(files.modelDir, 'config.json'));
  const shipped = preset && (mode === 'use' || mode === 'verify') ? await checkShipped(files, preset) : null;
  // Where the lesson writes, checked now: a bad folder costs a second, not a lesson.
  const overwrite = values.overwrite === true;
  const outFolder = values.out
    ? OutputFolder.check(values.out as string, 'out', [
        { flag: 'demo', path: values.demo as string | undefined },
        { flag: 'judged-pairs', path: values['judged-pairs'] as string | undefined },
        { flag: 'kto', path: values.kto as string | undefined },
      ]).requireEmptyOr(overwrite)
    : null;
  const ship = mode === 'ship' ? shipFolder(values.ship as string, overwrite) : null;

  const t0 = performance.now();
  const { engine, progress, model } = await openWithModel(
    modelArg(files.modelDir),
    values as { gpu?: string; runtime?: string; verbose?: boolean },
  );
  const generator: LessonEngine = { generate: (request) => engine.call('generate', request) };
  try {
    const opened = { engine, progress, modelConfig };
    const answer = async (label: string, adapterId: string | null) => {
      progress.line(`answering ${files.prompts.length} held-out prompts with ${label}`);
      return answerPrompts(generator, files.checks, files.prompts, adapterId);
    };

    if (shipped && mode === 'verify') {
      const stage = (m: LessonMethod, parent: string | null, stopAfterStep: number | null) =>
        trainStage(opened, files, m === 'sft' ? sft : dpo, parent, `verify ${m.toUpperCase()}`, stopAfterStep ? { stopAfterStep } : {});
      const train = async (m: LessonMethod, parent: string | null, stop: number | null) => ({
        adapterId: (await stage(m, parent, stop)).result.adapterId as string,
      });
      const answer = async (prompt: string, adapterId: string) =>
        (await answerPrompts(generator, files.checks, [prompt], adapterId))[0].text;
      for (const line of await verifyShipped(engine, shipped.dir, shipped.shipped, values.full === true, { train, answer }))
        process.stdout.write(`${line}\n`);
      return 0;
    }
    const shippedIds = shipped ? await importShipped(engine, shipped.dir) : null;
    const snapshotStep = (m: LessonMethod) => (mode === 'ship' ? { snapshotStep: SNAPSHOT_STEPS[m] } : {});
    const rowCount = (m: LessonMethod) => files.data[m].text.split('\n').filter((l) => l.trim() !== '').length;
    const recipeSteps = (m: LessonMethod) => totalSteps(files.lesson.stages[m].config, rowCount(m)).total;

    progress.line(`1. SFT for the basics (${files.lesson.title})${shipped ? `: the shipped adapter (${shipped.dir})` : ''}`);
    const sftRun =
      shipped && shippedIds
        ? shippedRun(shipped.shipped, 'sft', shippedIds.sft, recipeSteps('sft'))
        : await trainStage(opened, files, sft, null, 'classroom SFT', snapshotStep('sft'));
    const sftId = sftRun.result.adapterId as string;

    progress.line('2. smoke test');
    let t = performance.now();
    const answers: Record<'base' | 'sft' | 'dpo', ScoredAnswer[]> = {
      base: await answer('the base model', null),
      sft: await answer('the SFT model', sftId),
      dpo: [],
    };
    const smokeSeconds = (performance.now() - t) / 1000;
    const smoke = smokeTestVerdict(files.checks, answers.sft, { trained: sftRun.steps, recipe: sftRun.recipeSteps });
    if (smoke.message) {
      const rates = (m: 'base' | 'sft') =>
        files.checks.checks.map((c) => `${c.label} ${Math.round((passRates(answers[m])[c.id] ?? 0) * 100)}%`).join(', ');
      progress.line(`base model: ${rates('base')}; SFT: ${rates('sft')}`);
      // The one-line error and exit 1 of every failed command (main.ts); the engine closes on the way out.
      if (!values['train-dpo-anyway']) throw new Error(`${smoke.message} Or pass --train-dpo-anyway to go on to DPO all the same.`);
      progress.line(`${smoke.message} Going on to DPO all the same (--train-dpo-anyway).`);
    }

    const judged: Judged | null =
      plan &&
      (await judgeSftAnswers(plan, generator, files.checks, files.data.dpo, { id: sftId, name: 'classroom SFT' }, model.id, progress));

    progress.line(`3. DPO for the polish, on top of the SFT adapter${shipped ? ': the shipped adapter' : ''}`);
    const dpoRun =
      shipped && shippedIds
        ? shippedRun(shipped.shipped, 'dpo', shippedIds.dpo, recipeSteps('dpo'))
        : await trainStage(opened, files, dpo, sftId, 'classroom DPO', snapshotStep('dpo'), dpoData(files.data.dpo, judged));
    const dpoId = dpoRun.result.adapterId as string;

    progress.line('4. evaluate on held-out pairs and prompts');
    t = performance.now();
    const pairs = await loadData(engine, progress, 'dpo', files.pairs, dpo.maxLength);
    const evaluate = (adapterId: string | null) =>
      engine.call('evaluate', {
        datasetId: pairs.id,
        refAdapterId: sftId,
        adapterId,
        beta: dpo.beta,
        lossType: dpo.lossType as 'sigmoid' | 'ipo' | 'hinge',
      });
    const before = await evaluate(null); // the policy is the reference: every reward is 0
    const after = await evaluate(dpoId);
    answers.dpo = await answer('the DPO model', dpoId);
    const evalSeconds = (performance.now() - t) / 1000;

    // 5. KTO from the thumbs, on the same SFT adapter with DPO's settings and steps, measured as DPO was.
    const kto = plan?.kto && judged ? ktoRows(plan, judged, files.data.dpo, dpo.seed) : null;
    let ktoStage: { run: StageRun; id: string; eval: Record<string, number>; answers: ScoredAnswer[]; seconds: number } | null = null;
    if (kto) {
      progress.line(`5. KTO from thumbs up/down, on top of the SFT adapter (${kto.length} rows)`);
      const data = { text: writeKtoRows(kto), file: 'judged thumbs + lesson pairs unpaired' };
      const run = await trainStage(opened, files, ktoConfig(dpo, dpoRun.steps), sftId, 'classroom KTO', {}, data);
      const id = run.result.adapterId as string;
      t = performance.now();
      const ktoEval = await evaluate(id);
      ktoStage = { run, id, eval: ktoEval, answers: await answer('the KTO model', id), seconds: (performance.now() - t) / 1000 };
    }

    const report = {
      lesson: files.lesson.title,
      preset: preset?.id ?? null,
      held_out: { prompts: files.prompts.length, pairs: pairs.kept },
      smoke_test: { passed: smoke.passed, message: smoke.message },
      steps: { sft: sftRun.steps, dpo: dpoRun.steps },
      seconds: {
        sft: sftRun.seconds,
        smoke_test: smokeSeconds,
        ...(judged && { judging: judged.seconds }),
        dpo: dpoRun.seconds,
        evaluate: evalSeconds,
        ...(ktoStage && { kto: ktoStage.run.seconds, kto_evaluate: ktoStage.seconds }),
        total: (performance.now() - t0) / 1000,
      },
      train_flops_at_most: { sft: sftRun.flops, dpo: dpoRun.flops, ...(ktoStage && { kto: ktoStage.run.flops }) },
      // KTO's steps are in judging.kto: an optional step beside the lesson's stages.
      ...(plan && judged && { judging: judgingReport(plan, judged, kto, ktoStage?.run.steps ?? null) }),
      checks: Object.fromEntries(files.checks.checks.map((c) => [c.id, { label: c.label, taught_by: c.taughtBy }])),
      models: {
        base: passRates(answers.base),
        sft: {
          ...passRates(answers.sft),
          'rewards/accuracies': before['rewards/accuracies'],
          'rewards/margins': before['rewards/margins'],
        },
        dpo: { ...passRates(answers.dpo), 'rewards/accuracies': after['rewards/accuracies'], 'rewards/margins': after['rewards/margins'] },
        ...(ktoStage && {
          kto: {
            ...passRates(ktoStage.answers),
            'rewards/accuracies': ktoStage.eval['rewards/accuracies'],
            'rewards/margins': ktoStage.eval['rewards/margins'],
          },
        }),
      },
      last_train_metrics: {
        sft: sftRun.result.metrics.at(-1) ?? null,
        dpo: dpoRun.result.metrics.at(-1) ?? null,
        ...(ktoStage && { kto: ktoStage.run.result.metrics.at(-1) ?? null }),
      },
      answers: Object.fromEntries(
        Object.entries({ ...answers, ...(ktoStage && { kto: ktoStage.answers }) }).map(([k, list]) => [
          k,
          list.map((a) => ({ prompt: a.prompt, text: a.text, passed: a.passed })),
        ]),
      ),
    };

    if (outFolder) {
      for (const [sub, id, stacked] of [
        ['sft', sftId, true],
        ['dpo', dpoId, true],
        ...(ktoStage ? [['kto', ktoStage.id, true] as const] : []),
      ] as const) {
        for (const f of await engine.call('exportAdapter', id, { stacked })) outFolder.add(`${sub}/${f.name}`, f.data);
      }
      if (judged) writeJudging(outFolder, judged, kto);
      outFolder.add('report.json', `${JSON.stringify(report, null, 1)}\n`);
      outFolder.commit();
      progress.line(`wrote ${outFolder.path}`);
    }
    if (ship && preset) {
      await writeShipped(engine, files, preset, { sft: sftRun, dpo: dpoRun }, report as unknown as ShippedReport, ship);
      progress.line(`wrote the shipped adapters to ${values.ship}`);
    }

    const pct = (x: number | undefined) => (x === undefined ? '' : `${Math.round(x * 100)}%`);
    const ids = [...files.checks.checks.map((c) => c.id), 'facts'];
    const label = { base: 'base model', sft: 'SFT', dpo: 'SFT + DPO', kto: 'SFT + KTO' };
    const rows = (['base', 'sft', 'dpo', ...(ktoStage ? ['kto' as const] : [])] as const).map((m) => {
      const r = (report.models as Record<string, Record<string, number>>)[m];
      return [label[m], ...ids.map((id) => pct(r[id])), r['rewards/accuracies'] ?? '', r['rewards/margins'] ?? ''];
    });
    const header = [
      'model',
      ...ids.map((id) => (id === 'facts' ? 'true facts' : (files.checks.checks.find((c) => c.id === id)?.label ?? id))),
      'reward acc.',
      'margin',
    ];
    const summary = [
      '',
      formatTable(header, rows as (string | number)[][]),
      '',
      `held out: ${files.prompts.length} prompts, ${pairs.kept} pairs. Reward accuracy is TRL's rewards/accuracies on the held-out pairs`,
      'with the SFT model as reference; before DPO the policy is the reference, so every pair ties (TRL counts a tie',
      'as a miss) and a coin would score 0.5.',
      ...(ktoStage
        ? [
            `KTO trained ${ktoStage.run.steps} steps with DPO's settings on ${kto?.length} rows (${report.judging?.kto?.rows.judged} judged), on the same SFT adapter;`,
            'its reward accuracy is measured on the same held-out pairs, with the same reference and beta.',
          ]
        : []),
      `steps: SFT ${sftRun.steps}, DPO ${dpoRun.steps}. Time: SFT ${formatDuration(sftRun.seconds)}, smoke test ${formatDuration(smokeSeconds)}, ` +
        `DPO ${formatDuration(dpoRun.seconds)}, evaluation ${formatDuration(evalSeconds)}` +
        `${judged ? `, judging ${formatDuration(judged.seconds)}` : ''}${ktoStage ? `, KTO ${formatDuration(ktoStage.run.seconds + ktoStage.seconds)}` : ''}; ` +
        `${formatDuration(report.seconds.total)} in all.`,
    ].join('\n');
    if (values.json) {
      progress.line(summary);
      process.stdout.write(`${JSON.stringify(report)}\n`);
    } else process.stdout.write(`${summary}\n`);
    return 0;
  } finally {
    await engine.close();
  }
}
