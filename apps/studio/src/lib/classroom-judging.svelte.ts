// The classroom's optional judging stage and its KTO step (the lesson logic is the trainer's lesson/judging.ts; the
// pairs are made by pairs/judging.ts, as on the Pairs screen). The SFT model answers a few lesson training prompts
// twice; the students judge the two answers side by side (the better one's pairs join the lesson's DPO data when DPO
// trains next) and rate each answer thumbs up or down (KTO's rows). Step 5 trains KTO on those rows, topped up with
// the lesson's pairs unpaired if asked, from the same SFT adapter with DPO's settings and steps, and measures it as
// step 4 measured DPO: reward accuracy on the same held-out pairs, the checks on the same held-out prompts. The
// answers and every judgement are kept in IndexedDB as they change (pairs-store.ts, as the Pairs screen keeps its
// judging): a reload loses none of them.
import {
  answerPrompts,
  type CandidateSet,
  type EvaluateResult,
  JUDGE_SAMPLING,
  type Judgement,
  type JudgingSession,
  judge,
  judgedPairs,
  judgingPrompts,
  type KtoLessonRow,
  ktoConfig,
  ktoLessonRows,
  ktoRowsFromThumbs,
  type LessonEngine,
  rateAnswer,
  type ScoredAnswer,
  sampleAnswers,
  type Thumb,
  type ThumbsSession,
  undoJudgement,
  undoRating,
  writeKtoRows,
} from '@webtune/trainer';
import { classroom, type StepStatus } from './classroom.svelte.ts';
import { explain, isCancel, type Problem } from './errors.ts';
import { formatDate } from './format.ts';
import { type ClassroomJudgingWork, loadClassroomJudging, saveClassroomJudging } from './pairs-store.ts';
import { adapterState } from './state/adapters.svelte.ts';
import { gpuBusy } from './state/busy.ts';
import { dataState } from './state/data.svelte.ts';
import { type RunView, trainState } from './state/train.svelte.ts';
import { studio } from './studio.svelte.ts';

export class ClassroomJudging {
  settings = $state({ prompts: 4, joinPairs: true, topUp: true });
  /** The SFT model's answers (two per prompt) and the SFT adapter they came from. */
  sets: CandidateSet[] = $state.raw([]);
  sftId: string | null = $state(null);
  pairs: JudgingSession = $state.raw({ sets: [], seed: JUDGE_SAMPLING.seed, decisions: [] });
  thumbs: ThumbsSession = $state.raw({ sets: [], decisions: [] });
  /** What the GPU is doing for this stage, if anything. */
  busy: 'answering' | 'kto' | null = $state(null);
  problem: Problem | null = $state(null);

  kto = $state<{ status: StepStatus; problem: Problem | null }>({ status: 'todo', problem: null });
  ktoRows: KtoLessonRow[] = $state.raw([]);
  ktoRun: RunView | null = $state.raw(null);
  ktoAdapterId: string | null = $state(null);
  ktoEvaluation: EvaluateResult | null = $state.raw(null);
  ktoAnswers: (ScoredAnswer | null)[] = $state.raw([]);
  /** The user's own KTO file that step 5 would replace on the Data screen, while we ask. */
  asking: string | null = $state(null);
  private stopRequested = false;
  private restored = false;

  /** Once per page: the answers and judgements of an earlier visit, unless new answers have come since. */
  async restore(): Promise<void> {
    if (this.restored) return;
    this.restored = true;
    const w = await loadClassroomJudging().catch((e) => {
      this.problem = explain(e, "reading the classroom's judgements kept in this browser");
      return undefined;
    });
    // ClassroomJudgingWork is persist()'s snapshot of this state's fields, so each goes back to the field of its name.
    if (w && !this.busy && this.sets.length === 0) Object.assign(this, w satisfies Partial<ClassroomJudging>);
  }

  private persist(): void {
    const { settings, sets, sftId, pairs, thumbs } = this;
    const work = $state.snapshot({ settings, sets, sftId, pairs, thumbs }) as ClassroomJudgingWork;
    saveClassroomJudging(work).catch((e) => (this.problem = explain(e, "keeping the classroom's judgements in this browser")));
  }

  constructor() {
    // DPO trains on the judged pairs too, when the students keep them in.
    classroom.judgedPairs = () => (this.settings.joinPairs ? judgedPairs(this.pairs).pairs : []);
  }

  /** Why the stage cannot start now, or null. */
  blocker(): string | null {
    if (!classroom.adapterIds.sft || classroom.status.sft !== 'done') return 'Train the SFT adapter first (step 1).';
    if (studio.engine !== 'ready') return 'The GPU is not ready.';
    if (classroom.running || this.busy) return null; // the buttons are disabled meanwhile
    if (gpuBusy()) return 'The GPU is busy (a run, a download or a comparison): wait for it to finish.';
    if (studio.model?.id !== studio.demo?.id) return "The lesson's demo model is not loaded: run a lesson step first.";
    return null;
  }

  /** What Stop throws at the next prompt: a stop the user asked for, not a failure (isCancel). */
  private stopped(message: string): Error {
    return Object.assign(new Error(message), { name: 'AbortError' });
  }

  private async gpu(what: 'answering' | 'kto', work: () => Promise<void>, onError: (p: Problem, stopped: boolean) => void): Promise<void> {
    if (this.busy || classroom.running || this.blocker()) return;
    this.busy = what;
    this.stopRequested = false;
    try {
      await work();
    } catch (e) {
      if (isCancel(e)) onError({ title: 'Stopped', message: (e as Error).message }, true);
      else onError(explain(e, what === 'kto' ? "the classroom's KTO step" : "answering the lesson's prompts"), false);
    } finally {
      this.busy = null;
      studio.lessonBusy = false;
    }
  }

  /** The SFT model answers the first `settings.prompts` lesson prompts twice; earlier answers and judgements go. */
  async answer(): Promise<void> {
    this.problem = null;
    await this.gpu(
      'answering',
      async () => {
        const files = classroom.files;
        const sft = classroom.adapterIds.sft;
        if (!files || !sft || !studio.model) return;
        studio.lessonBusy = true;
        const prompts = judgingPrompts(files.texts.dpo, files.lesson.stages.dpo.dataset, Math.max(1, Number(this.settings.prompts) || 1));
        this.sets = [];
        const engine: LessonEngine = {
          generate: (r) => {
            if (this.stopRequested) throw this.stopped('Stopped: the answers so far can be judged.');
            return studio.api.generate(r);
          },
        };
        this.sftId = sft;
        this.pairs = { sets: [], seed: JUDGE_SAMPLING.seed, decisions: [] };
        this.thumbs = { sets: [], decisions: [] };
        this.persist();
        await sampleAnswers(engine, files.checks, prompts, { id: sft, name: adapterState.name(sft) }, studio.model.id, (set) => {
          this.sets = [...this.sets, set];
          this.pairs = { ...this.pairs, sets: this.sets };
          this.thumbs = { ...this.thumbs, sets: this.sets };
          this.persist();
        });
      },
      (p) => (this.problem = p),
    );
  }

  judgePair(j: Judgement): void {
    this.pairs = judge(this.pairs, j);
    this.persist();
  }
  undoPair(): void {
    this.pairs = undoJudgement(this.pairs);
    this.persist();
  }
  rate(t: Thumb): void {
    this.thumbs = rateAnswer(this.thumbs, t);
    this.persist();
  }
  undoRate(): void {
    this.thumbs = undoRating(this.thumbs);
    this.persist();
  }

  stop(): void {
    this.stopRequested = true;
    if (this.busy === 'kto' && trainState.isTraining) trainState.stop();
  }

  /** Step 5, first asking when it would replace the user's own KTO data on the Data screen. */
  askKto(): void {
    const slot = dataState.datasets.kto;
    if (slot && slot.origin !== 'lesson') this.asking = slot.file;
    else void this.trainKto();
  }

  async trainKto(): Promise<void> {
    this.asking = null;
    this.kto = { status: 'running', problem: null };
    this.ktoEvaluation = null;
    this.ktoAnswers = [];
    await this.gpu(
      'kto',
      async () => {
        const files = classroom.files;
        const sft = classroom.adapterIds.sft;
        if (!files || !sft) return;
        const dpo = classroom.stageConfig('dpo');
        const config = ktoConfig(dpo, classroom.stageSteps('dpo'));
        const shipped = this.settings.topUp ? { text: files.texts.dpo, file: files.lesson.stages.dpo.dataset } : null;
        this.ktoRows = ktoLessonRows(ktoRowsFromThumbs(this.thumbs), shipped, dpo.seed);
        await dataState.load('kto', writeKtoRows(this.ktoRows), 'classroom-kto.jsonl', config.maxLength, 'lesson');
        const slot = dataState.datasets.kto;
        if (!slot?.summary) throw new Error(slot?.problem?.message ?? 'The KTO rows could not be prepared.');
        const result = await trainState.start({ config, parentAdapterId: sft, name: `Classroom KTO ${formatDate(Date.now())}` });
        this.ktoRun = trainState.run;
        if (!result?.adapterId || (result.status !== 'completed' && result.status !== 'cancelled'))
          throw new Error(trainState.run?.problem?.message ?? result?.message ?? 'The run did not finish.');
        const kto = result.adapterId;
        this.ktoAdapterId = kto;
        // Measured as step 4 measures DPO: the same held-out pairs, the SFT model as reference, DPO's beta.
        studio.lessonBusy = true;
        const pairs = await classroom.loadHeldOutPairs();
        this.ktoEvaluation = await studio.api.evaluate({
          datasetId: pairs.id,
          refAdapterId: sft,
          adapterId: kto,
          beta: dpo.beta,
          lossType: dpo.lossType as 'sigmoid' | 'ipo' | 'hinge',
        });
        const engine: LessonEngine = { generate: (r) => studio.api.generate(r) };
        const prompts = classroom.prompts;
        this.ktoAnswers = prompts.map(() => null);
        for (const [i, prompt] of prompts.entries()) {
          if (this.stopRequested) throw this.stopped('Stopped: the answers so far are shown.');
          const [scored] = await answerPrompts(engine, files.checks, [prompt], kto);
          this.ktoAnswers = this.ktoAnswers.map((a, j) => (j === i ? scored : a));
        }
        this.kto = { status: 'done', problem: null };
      },
      (problem, stopped) => (this.kto = { status: stopped ? 'todo' : 'failed', problem }),
    );
    if (this.kto.status === 'running') this.kto = { status: 'todo', problem: null }; // it could not start
  }
}

export const classroomJudging = new ClassroomJudging();
