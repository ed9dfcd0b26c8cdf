// "Show the result now": the classroom with the adapters the lesson ships (demo/adapters/<preset>/, trained by
// scripts/demo/ship-adapters.sh through webtune itself), so a teacher shows the effect at once and trains live only
// what the period allows. The shipped SFT and DPO adapters are imported (the Adapters screen lists them) and become
// the lesson's; its figures and held-out answers are the ones recorded when they were trained (greedy decoding, so
// they repeat), scored again here by the lesson's checks. Every step stays live: answering again (steps 2 and 4) runs
// on this GPU, and training a stage replaces that stage's adapter.
import {
  type LessonMethod,
  type LessonPreset,
  parseShipped,
  type ScoredAnswer,
  SHIPPED_MANIFEST,
  type Shipped,
  scoreAnswer,
  smokeTestVerdict,
  stageFolder,
} from '@webtune/trainer';
import { type Classroom, classroom, type ModelKey } from './classroom.svelte.ts';
import { fetchDemoBytes, fetchDemoText } from './demo.ts';
import { explain, type Problem } from './errors.ts';
import { adapterState } from './state/adapters.svelte.ts';
import { modelState } from './state/model.svelte.ts';
import { studio } from './studio.svelte.ts';

/** The files of each shipped stage that an import reads (the training config names the method and the recipe). */
const IMPORTED = ['adapter_config.json', 'adapter_model.safetensors', 'training_config.json'];

export class ShippedResult {
  /** The record read from shipped.json once shown. */
  shipped: Shipped | null = $state.raw(null);
  loading = $state(false);
  problem: Problem | null = $state(null);
  /** The answers put in the classroom from the record: while the classroom still shows these, they are the recorded ones. */
  private recorded: Record<ModelKey, (ScoredAnswer | null)[]> | null = $state.raw(null);
  /** The imported adapters, by stage: imported once a session. */
  private ids: Record<LessonMethod, string> | null = null;

  constructor(private readonly lesson: Classroom) {}

  /** The preset whose adapters ship with the lesson (lesson.json's presets.<name>.adapters), or null. */
  get preset(): LessonPreset | null {
    return this.lesson.files?.lesson.presets.find((p) => p.adapters !== null) ?? null;
  }

  /** The classroom shows the recorded answers (nothing answered or trained since). */
  get showing(): boolean {
    return this.recorded !== null && this.lesson.answers === this.recorded;
  }

  /** Why "Show the result now" cannot run, or null. */
  get blocker(): string | null {
    if (!this.preset) return 'This lesson ships no adapters.';
    if (this.loading) return null;
    return this.lesson.blocker('sft');
  }

  /** Asks first, as the lesson does, when the user's own model would be set aside for the demo's. */
  show(): void {
    if (this.loading || this.lesson.running || this.blocker) return;
    this.lesson.ask([], true, () => this.load());
  }

  private async load(): Promise<void> {
    const preset = this.preset;
    const files = this.lesson.files;
    if (!preset?.adapters || !files) return;
    this.loading = true;
    this.problem = null;
    studio.lessonBusy = true;
    try {
      const dir = preset.adapters;
      const shipped = parseShipped(await fetchDemoText(`${dir}${SHIPPED_MANIFEST}`), `demo/${dir}${SHIPPED_MANIFEST}`);
      if (!studio.model || studio.model.id !== studio.demo?.id) {
        if (!(await modelState.loadDemo())) throw new Error(modelState.problem?.message ?? 'The demo model could not be loaded.');
      }
      const ids = await this.importOnce(dir, preset.title);
      const answers = {} as Record<ModelKey, ScoredAnswer[]>;
      for (const m of ['base', 'sft', 'dpo'] as const)
        answers[m] = shipped.report.answers[m].map((a) => scoreAnswer(files.checks, a.prompt, a.text));
      const { models, held_out } = shipped.report;
      const ev = (k: 'sft' | 'dpo') => ({
        'rewards/accuracies': models[k]['rewards/accuracies'],
        'rewards/margins': models[k]['rewards/margins'],
      });
      const lesson = this.lesson;
      lesson.reset();
      lesson.choosePreset(preset.id); // its held-out prompts are the ones the answers were recorded on
      lesson.adapterIds = { ...ids };
      lesson.answers = answers;
      lesson.evaluation = { before: ev('sft'), after: ev('dpo'), pairs: held_out.pairs };
      lesson.smokeVerdict = smokeTestVerdict(files.checks, answers.sft, {
        trained: shipped.stages.sft.steps,
        recipe: lesson.recipeSteps('sft'),
      });
      lesson.status = { sft: 'done', smoke: lesson.smokeVerdict.passed ? 'done' : 'failed', dpo: 'done', evaluate: 'done' };
      this.recorded = answers;
      this.shipped = shipped;
    } catch (e) {
      this.problem = explain(e, 'showing the shipped result');
    } finally {
      this.loading = false;
      studio.lessonBusy = false;
    }
  }

  /** Import the shipped SFT adapter and the DPO adapter on top of it, unless this session has them still. */
  private async importOnce(dir: string, title: string): Promise<Record<LessonMethod, string>> {
    const have = new Set((await studio.api.listAdapters()).map((a) => a.id));
    if (this.ids && have.has(this.ids.sft) && have.has(this.ids.dpo)) return this.ids;
    const read = async (m: LessonMethod) =>
      Promise.all(IMPORTED.map(async (name) => ({ name, data: await fetchDemoBytes(`${dir}${stageFolder(m)}${name}`) })));
    const sft = (await studio.api.importAdapter(await read('sft'), `Classroom SFT (shipped, ${title})`)).id;
    const dpo = (await studio.api.importAdapter(await read('dpo'), `Classroom DPO (shipped, ${title})`, sft)).id;
    this.ids = { sft, dpo };
    await adapterState.refresh();
    return this.ids;
  }
}

export const shippedResult = new ShippedResult(classroom);
