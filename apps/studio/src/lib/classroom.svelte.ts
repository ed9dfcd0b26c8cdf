// Classroom mode's state and steps: the two-stage pattern on the demo model, with the demo's recipe
// (demo/lesson.json) and checks (demo/checks.json). 1. SFT for the basics, 2. a smoke test of held-out answers,
// 3. DPO on top of the SFT adapter, 4. an evaluation on held-out pairs and prompts. Training goes through the studio's
// ordinary runs (so the Train screen shows them too); answers are scored by the trainer's lesson module, the same code
// as `pnpm cli classroom`. The lesson needs the demo model and its own datasets: when the user has their own loaded,
// it asks first, and afterwards offers to put theirs back.
import {
  answerPrompts,
  type Checks,
  dpoDataWithJudged,
  type Lesson,
  type LessonEngine,
  type LessonMethod,
  type LessonPreset,
  type PreferencePair,
  parseChecks,
  parseLesson,
  parsePrompts,
  passRates,
  type ScoredAnswer,
  type SmokeTestVerdict,
  smokeTestVerdict,
  type TrainConfig,
  totalSteps,
} from '@webtune/trainer';
import { fetchDemoText } from './demo.ts';
import { explain, type Problem } from './errors.ts';
import { formatDate } from './format.ts';
import { gpuBusy } from './state/busy.ts';
import { dataState } from './state/data.svelte.ts';
import { modelState } from './state/model.svelte.ts';
import { type RunView, trainState } from './state/train.svelte.ts';
import { type ModelRequest, studio } from './studio.svelte.ts';

export type StepId = 'sft' | 'smoke' | 'dpo' | 'evaluate';
export type StepStatus = 'todo' | 'running' | 'done' | 'failed';
export type ModelKey = 'base' | 'sft' | 'dpo';
export const STEPS: StepId[] = ['sft', 'smoke', 'dpo', 'evaluate'];
/** A step's status as its pill says it. */
export const STATUS_LABEL: Record<StepStatus, string> = { todo: 'to do', running: 'running', done: 'done', failed: 'failed' };

export interface LessonFiles {
  lesson: Lesson;
  checks: Checks;
  prompts: string[];
  /** The held-out pairs file's text and name. */
  pairs: { text: string; file: string };
  /** The first row of each stage's dataset, to show what the data looks like. */
  examples: Record<LessonMethod, Record<string, string>>;
  /** Each stage's dataset text (to tell the user's own data from the lesson's). */
  texts: Record<LessonMethod, string>;
}

/** The user's model and data, set aside while the lesson uses the demo's. */
export interface SetAside {
  model: ModelRequest | null;
  datasets: Partial<Record<LessonMethod, { file: string; text: string }>>;
  /** What was set aside, in words. */
  items: string[];
}

const fileName = (path: string) => path.split('/').at(-1) ?? path;
const nonEmptyLines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

export class Classroom {
  files: LessonFiles | null = $state.raw(null);
  /** The lesson could not be read: nothing in classroom mode can run. */
  problem: Problem | null = $state(null);
  /** Rows per stage dataset (for the full-lesson step counts). */
  rows: Record<LessonMethod, number> = $state({ sft: 0, dpo: 0 });
  /** 0 = the lesson's epochs; otherwise stop after this many optimizer steps (short demos, tests). */
  settings = $state({ sftSteps: 0, dpoSteps: 0, prompts: 40 });
  /** The lesson.json preset whose settings the stages train with (null: the whole recipe). */
  preset: LessonPreset | null = $state.raw(null);

  status: Record<StepId, StepStatus> = $state({ sft: 'todo', smoke: 'todo', dpo: 'todo', evaluate: 'todo' });
  stepProblem: Record<StepId, Problem | null> = $state({ sft: null, smoke: null, dpo: null, evaluate: null });
  /** The finished runs (copies of the studio's run when each ended). */
  runs: Record<LessonMethod, RunView | null> = $state.raw({ sft: null, dpo: null });
  adapterIds: Record<LessonMethod, string | null> = $state({ sft: null, dpo: null });
  /** Held-out answers per model, filled in as they arrive (null: not yet). */
  answers: Record<ModelKey, (ScoredAnswer | null)[]> = $state.raw({ base: [], sft: [], dpo: [] });
  /** TRL's DPO metrics on the held-out pairs, reference = the SFT model: before DPO (policy = reference) and after. */
  evaluation: { before: Record<string, number>; after: Record<string, number>; pairs: number } | null = $state.raw(null);
  /** The last smoke test's verdict on the SFT answers: a failed one stops the whole lesson before DPO. */
  smokeVerdict: SmokeTestVerdict | null = $state.raw(null);
  running: StepId | null = $state(null);
  /** Steps waiting for the user to agree that the lesson may set their model and data aside. */
  pending: { steps: StepId[]; fresh: boolean; items: string[]; after?: () => Promise<void> } | null = $state(null);
  setAside: SetAside | null = $state.raw(null);
  /** Pairs the students judged (classroom-judging.svelte.ts) that join the shipped DPO pairs: none by default. */
  judgedPairs: () => PreferencePair[] = () => [];
  private stopRequested = false;

  async load(): Promise<void> {
    if (this.files) return;
    try {
      const lesson = parseLesson(await fetchDemoText('lesson.json'), 'demo/lesson.json');
      const checks = parseChecks(await fetchDemoText(lesson.checks), `demo/${lesson.checks}`);
      const prompts = parsePrompts(await fetchDemoText(checks.evalPrompts), `demo/${checks.evalPrompts}`);
      const pairs = { text: await fetchDemoText(checks.evalPairs), file: fileName(checks.evalPairs) };
      const examples = {} as LessonFiles['examples'];
      const texts = {} as LessonFiles['texts'];
      for (const m of ['sft', 'dpo'] as const) {
        texts[m] = await fetchDemoText(lesson.stages[m].dataset);
        const lines = nonEmptyLines(texts[m]);
        this.rows[m] = lines.length;
        examples[m] = JSON.parse(lines[0]) as Record<string, string>;
      }
      this.files = { lesson, checks, prompts, pairs, examples, texts };
      this.settings.prompts = Math.min(this.settings.prompts, prompts.length);
    } catch (e) {
      this.problem = explain(e, 'reading the classroom lesson');
    }
  }

  /** Take a preset's settings (null: the whole recipe); its steps and prompts fill the fields, which stay editable. */
  choosePreset(id: string | null): void {
    if (this.running || !this.files) return;
    const preset = this.files.lesson.presets.find((p) => p.id === id) ?? null;
    this.preset = preset;
    this.settings.sftSteps = preset ? this.stageConfig('sft').maxSteps : 0;
    this.settings.dpoSteps = preset ? this.stageConfig('dpo').maxSteps : 0;
    this.settings.prompts = preset?.prompts ?? this.files.prompts.length;
  }

  /** The config a stage trains with: the preset's, or the whole recipe's (before the steps field). */
  stageConfig(method: LessonMethod): TrainConfig {
    const files = this.files as LessonFiles;
    return this.preset?.configs[method] ?? files.lesson.stages[method].config;
  }

  /** Optimizer steps of a stage's whole recipe (its epochs over its dataset). */
  recipeSteps(method: LessonMethod): number {
    const stage = this.files?.lesson.stages[method];
    return stage ? totalSteps(stage.config, this.rows[method]).total : 0;
  }

  /** Optimizer steps a stage will take with the current settings (an empty or 0 field: the whole recipe). */
  stageSteps(method: LessonMethod): number {
    const chosen = Number(method === 'sft' ? this.settings.sftSteps : this.settings.dpoSteps);
    return Number.isInteger(chosen) && chosen > 0 ? chosen : this.recipeSteps(method);
  }

  /** Why a step cannot start now, or null. */
  blocker(step: StepId): string | null {
    if (!this.files) return this.problem ? 'The lesson could not be read.' : 'Reading the lesson…';
    if (studio.engine !== 'ready') return 'The GPU is not ready.';
    if (this.running) return null; // the step buttons are disabled while one runs
    if (gpuBusy()) return 'The GPU is busy (a run, a download or a comparison): wait for it to finish.';
    const need: Partial<Record<StepId, [StepId, string]>> = {
      smoke: ['sft', 'Train the SFT adapter first (step 1).'],
      dpo: ['sft', 'Train the SFT adapter first (step 1).'],
      evaluate: ['dpo', 'Train the DPO adapter first (step 3).'],
    };
    const dep = need[step];
    if (dep && this.status[dep[0]] !== 'done') return dep[1];
    return null;
  }

  /** Every step has run: done, or a failed smoke test that the teacher went past with "Train DPO anyway". */
  get allDone(): boolean {
    return STEPS.every((s) => this.status[s] === 'done' || (s === 'smoke' && this.status.smoke === 'failed' && this.smokeVerdict !== null));
  }

  /** The whole lesson: the steps not done yet, or every step again (from a fresh start) once all are done. */
  runAll(): void {
    if (this.allDone) this.ask(STEPS, true);
    else this.ask(STEPS.filter((s) => this.status[s] !== 'done'));
  }

  /** What of the user's own the steps would set aside for the demo's (the model for any step, data for training). */
  displaces(steps: StepId[]): SetAside {
    const out: SetAside = { model: null, datasets: {}, items: [] };
    const model = studio.model;
    if (model && model.id !== studio.demo?.id) {
      out.model = studio.modelRequest;
      out.items.push(`the model ${model.id}`);
    }
    for (const m of ['sft', 'dpo'] as const) {
      const slot = dataState.datasets[m];
      if (!steps.includes(m) || !slot || slot.origin === 'lesson' || slot.text === this.files?.texts[m]) continue;
      out.datasets[m] = { file: slot.file, text: slot.text };
      out.items.push(`your ${m.toUpperCase()} data (${slot.file})`);
    }
    return out;
  }

  /** Run the steps, then `after`, first asking (in the page) when they would set the user's own model or data aside. */
  ask(steps: StepId[], fresh = false, after?: () => Promise<void>): void {
    if (this.running) return;
    const items = this.displaces(steps).items;
    if (items.length > 0) this.pending = { steps, fresh, items, after };
    else void this.runSteps(steps, fresh).then(after);
  }

  /** The user agreed: keep what the lesson replaces (to put back later), then run. */
  confirm(): void {
    const p = this.pending;
    this.pending = null;
    if (!p) return;
    const aside = this.displaces(p.steps);
    // Set aside once: a second lesson after the first must not overwrite the user's things with the demo's.
    if (!this.setAside) this.setAside = aside;
    else
      this.setAside = {
        model: this.setAside.model ?? aside.model,
        datasets: { ...aside.datasets, ...this.setAside.datasets },
        items: [...new Set([...this.setAside.items, ...aside.items])],
      };
    void this.runSteps(p.steps, p.fresh).then(p.after);
  }

  cancel(): void {
    this.pending = null;
  }

  /** Load the user's model and data again. */
  async putBack(): Promise<void> {
    const aside = this.setAside;
    if (!aside || this.running || gpuBusy()) return;
    if (await modelState.reinstate(aside.model, aside.datasets)) this.setAside = null;
  }

  /** The steps in order; stops at the first that fails or when the user stops one. */
  private async runSteps(steps: StepId[], fresh: boolean): Promise<void> {
    if (fresh) this.reset();
    for (const step of steps) {
      if (!(await this.run(step)) || this.stopRequested) return;
    }
  }

  async run(step: StepId): Promise<boolean> {
    if (this.running || this.blocker(step)) return false;
    this.running = step;
    this.stopRequested = false;
    this.status[step] = 'running';
    this.stepProblem[step] = null;
    // What came after this step no longer follows from it.
    for (const later of STEPS.slice(STEPS.indexOf(step) + 1)) {
      this.status[later] = 'todo';
      this.stepProblem[later] = null;
    }
    if (step === 'sft') this.smokeVerdict = null;
    try {
      if (!studio.model || studio.model.id !== studio.demo?.id) {
        if (!(await modelState.loadDemo())) throw new Error(modelState.problem?.message ?? 'The demo model could not be loaded.');
      }
      if (this.stopRequested) {
        this.status[step] = 'todo'; // stopped before it began: nothing to show
        return false;
      }
      if (step === 'sft' || step === 'dpo') await this.train(step);
      else if (step === 'smoke') await this.smokeTest();
      else await this.evaluate();
      if (step === 'smoke' && this.smokeVerdict?.message) {
        // The answers are shown; the lesson stops here. DPO stays open by hand ("Train DPO anyway").
        this.status[step] = 'failed';
        this.stepProblem[step] = { title: 'SFT has not taught the format yet', message: this.smokeVerdict.message };
        return false;
      }
      this.status[step] = 'done';
      return true;
    } catch (e) {
      this.status[step] = 'failed';
      this.stepProblem[step] = explain(
        e,
        `the classroom's ${step === 'smoke' ? 'smoke test' : step === 'evaluate' ? 'evaluation' : step.toUpperCase()}`,
      );
      return false;
    } finally {
      this.running = null;
      studio.lessonBusy = false;
    }
  }

  /** Stop the step that is running: a run stops after its micro-batch (keeping its adapter), answers after the current one. */
  stop(): void {
    this.stopRequested = true;
    if (trainState.isTraining) trainState.stop();
  }

  /** Forget the lesson's progress (its adapters stay on the Adapters screen). */
  reset(): void {
    if (this.running) return;
    for (const s of STEPS) {
      this.status[s] = 'todo';
      this.stepProblem[s] = null;
    }
    this.runs = { sft: null, dpo: null };
    this.adapterIds = { sft: null, dpo: null };
    this.answers = { base: [], sft: [], dpo: [] };
    this.evaluation = null;
    this.smokeVerdict = null;
  }

  /** The results tables' columns: each check of checks.json, then the true-facts check. */
  get checkColumns(): { id: string; label: string }[] {
    const checks = this.files?.checks.checks ?? [];
    return [...checks.map((c) => ({ id: c.id, label: c.label })), { id: 'facts', label: 'True facts' }];
  }

  /** A check's name as the results tables show it. */
  checkLabel(id: string): string {
    return this.checkColumns.find((c) => c.id === id)?.label ?? id;
  }

  /** The held-out prompts in use (the first `settings.prompts`; all of them when the field is not a count). */
  get prompts(): string[] {
    const all = this.files?.prompts ?? [];
    const n = Number(this.settings.prompts);
    return Number.isInteger(n) && n >= 1 ? all.slice(0, n) : all;
  }

  private async train(method: LessonMethod): Promise<void> {
    const files = this.files as LessonFiles;
    const stage = files.lesson.stages[method];
    const judged = method === 'dpo' ? this.judgedPairs() : [];
    const text = judged.length > 0 ? dpoDataWithJudged(files.texts.dpo, judged) : files.texts[method];
    const file = `${fileName(stage.dataset)}${judged.length > 0 ? ` + ${judged.length} judged pairs` : ''}`;
    await dataState.load(method, text, file, this.stageConfig(method).maxLength, 'lesson');
    const slot = dataState.datasets[method];
    if (!slot?.summary) throw new Error(slot?.problem?.message ?? `The demo ${method.toUpperCase()} dataset could not be prepared.`);
    const config: TrainConfig = { ...this.stageConfig(method), maxSteps: this.stageSteps(method) };
    const result = await trainState.start({
      config,
      parentAdapterId: method === 'dpo' ? this.adapterIds.sft : null,
      name: `Classroom ${method.toUpperCase()} ${formatDate(Date.now())}`,
    });
    this.runs = { ...this.runs, [method]: trainState.run };
    // Stopped early still leaves an adapter of the steps done: the lesson goes on with it.
    if (!result?.adapterId || (result.status !== 'completed' && result.status !== 'cancelled'))
      throw new Error(trainState.run?.problem?.message ?? result?.message ?? 'The run did not finish.');
    this.adapterIds[method] = result.adapterId;
  }

  /** One prompt at a time, each model in turn, so the table fills row by row. */
  private async answer(models: ModelKey[]): Promise<void> {
    const files = this.files as LessonFiles;
    studio.lessonBusy = true;
    const engine: LessonEngine = { generate: (r) => studio.api.generate(r) };
    const stack: Record<ModelKey, string | null> = { base: null, sft: this.adapterIds.sft, dpo: this.adapterIds.dpo };
    const prompts = this.prompts;
    const next = { ...this.answers };
    for (const m of models) next[m] = prompts.map(() => null);
    this.answers = next;
    for (const [i, prompt] of prompts.entries()) {
      for (const m of models) {
        if (this.stopRequested) throw new Error('Stopped: the answers so far are shown.');
        const [scored] = await answerPrompts(engine, files.checks, [prompt], stack[m]);
        const list = [...this.answers[m]];
        list[i] = scored;
        this.answers = { ...this.answers, [m]: list };
      }
    }
  }

  private async smokeTest(): Promise<void> {
    this.smokeVerdict = null;
    await this.answer(['base', 'sft']);
    const sft = this.answers.sft.filter((a): a is ScoredAnswer => a !== null);
    const trained = this.runs.sft?.step ?? this.stageSteps('sft');
    this.smokeVerdict = smokeTestVerdict((this.files as LessonFiles).checks, sft, { trained, recipe: this.recipeSteps('sft') });
  }

  /** The smoke test failed: DPO, then the evaluation, on the teacher's say-so (to show what DPO cannot fix). */
  dpoAnyway(): void {
    this.ask(['dpo', 'evaluate']);
  }

  private async evaluate(): Promise<void> {
    studio.lessonBusy = true;
    const dpo = this.stageConfig('dpo');
    const pairs = await this.loadHeldOutPairs();
    const evaluate = (adapterId: string | null) =>
      studio.api.evaluate({
        datasetId: pairs.id,
        refAdapterId: this.adapterIds.sft,
        adapterId,
        beta: dpo.beta,
        lossType: dpo.lossType as 'sigmoid' | 'ipo' | 'hinge',
      });
    const before = await evaluate(null);
    const after = await evaluate(this.adapterIds.dpo);
    this.evaluation = { before, after, pairs: pairs.kept };
    // The smoke test's answers stand for the base and SFT models if they cover the same prompts.
    const have = (m: ModelKey) => this.answers[m].length === this.prompts.length && this.answers[m].every((a) => a !== null);
    await this.answer(['base', 'sft', 'dpo'].filter((m) => m === 'dpo' || !have(m as ModelKey)) as ModelKey[]);
  }

  /** The held-out pairs in use (as many as prompts), read for DPO's evaluation. */
  async loadHeldOutPairs() {
    const files = this.files as LessonFiles;
    const text = `${nonEmptyLines(files.pairs.text).slice(0, this.prompts.length).join('\n')}\n`;
    return studio.api.loadDataset('dpo', text, files.pairs.file, this.stageConfig('dpo').maxLength);
  }

  /** Pass rates of each model's answers so far (null: none yet). */
  rates(model: ModelKey): Record<string, number> | null {
    const done = this.answers[model].filter((a): a is ScoredAnswer => a !== null);
    return done.length > 0 ? passRates(done) : null;
  }
}

export const classroom = new Classroom();
