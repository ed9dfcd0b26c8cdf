// The Model screen's state: loading a model (the demo, the Hub, a folder) with its download progress, what went
// wrong, and the memory a run with the current settings would need. The loaded model itself is global
// (studio.model). Resuming a run lives here too, since it may first have to load the run's model.
import { type DownloadProgress, evaluatesWhileTraining, type MemoryEstimate, type ModelSource, type RunSummary } from '@webtune/trainer';
import { findDemoModel } from '../demo.ts';
import { explain, isCancel, type Problem } from '../errors.ts';
import { frameBatcher } from '../frame.ts';
import { type ModelRequest, studio } from '../studio.svelte.ts';
import { adapterState } from './adapters.svelte.ts';
import { DATA_SLOTS, type DataSlot, dataState } from './data.svelte.ts';
import { evalFileState } from './eval-file.svelte.ts';
import { trainState } from './train.svelte.ts';

export interface DownloadView {
  /** What is being loaded, in words. */
  label: string;
  /** Progress of each file, in the order they started. */
  files: DownloadProgress[];
}

export class ModelState {
  loading: DownloadView | null = $state(null);
  problem: Problem | null = $state(null);
  estimate: MemoryEstimate | null = $state(null);

  async load(source: ModelSource, label: string): Promise<boolean> {
    if (trainState.isTraining) {
      this.problem = { title: 'A run is going', message: 'Stop the run on the Train screen before loading another model.' };
      return false;
    }
    this.problem = null;
    this.loading = { label, files: [] };
    // Whether every file came from this browser's cache: said on the loaded card, since a cached load can finish
    // before the loading panel ever paints.
    let reported = false;
    let downloaded = false;
    const progress = frameBatcher<DownloadProgress>((items) => {
      if (!this.loading) return;
      const files = [...this.loading.files];
      for (const p of items) {
        const i = files.findIndex((f) => f.file === p.file);
        if (i >= 0) files[i] = p;
        else files.push(p);
      }
      this.loading = { ...this.loading, files };
    });
    try {
      studio.onDownload = (p) => {
        reported = true;
        downloaded ||= !p.cached;
        progress.push(p);
      };
      const info = await studio.api.loadModel(source, {});
      progress.flushNow();
      studio.model = info;
      studio.modelRequest = { source, label };
      studio.modelSource = reported && !downloaded ? `${label}, read from this browser's cache` : label;
      this.estimate = null;
      this.loading = null;
      // The engine forgets datasets with the old tokenizer: load them again with the new one.
      await Promise.all(DATA_SLOTS.map((m) => dataState.restore(m, trainState.configs[m].maxLength)));
      return true;
    } catch (e) {
      progress.flushNow();
      // A failed load leaves the model that was loaded before in place: say so.
      const kept = studio.model ? ` ${studio.model.id} is still loaded.` : '';
      if (isCancel(e)) this.problem = { title: 'Download cancelled', message: kept.trim() || 'Nothing was loaded.' };
      else {
        const p = explain(e, `loading ${label}`);
        const title =
          p.title.startsWith('Something went wrong') || p.title === 'These files cannot be used'
            ? 'This model cannot be used here'
            : p.title;
        this.problem = { ...p, title, message: `${p.message}${kept}` };
      }
      return false;
    } finally {
      this.loading = null;
      studio.onDownload = undefined;
    }
  }

  async loadDemo(): Promise<boolean> {
    const demo = studio.demo ?? (await findDemoModel());
    studio.demo = demo;
    if (!demo) {
      this.problem = {
        title: 'No demo model in this build',
        message: 'This copy of the studio was built without demo/model/. Load a model from the Hugging Face Hub or a local folder instead.',
      };
      return false;
    }
    return this.load({ kind: 'url', baseUrl: demo.url, id: demo.id }, `the demo model (${demo.id})`);
  }

  cancelDownload(): void {
    void studio.api.cancelDownload();
  }

  async refreshEstimate(): Promise<void> {
    if (!studio.model || studio.engine !== 'ready') return;
    const method = trainState.method;
    const c = trainState.configs[method];
    try {
      this.estimate = await studio.api.estimateMemory({
        method,
        batchSize: c.batchSize,
        maxLength: c.maxLength,
        lora: { r: c.lora.r, targetModules: [...c.lora.targetModules], dropout: c.lora.dropout },
        gradientCheckpointing: c.gradientCheckpointing,
        lossType: c.lossType,
        evaluates: evaluatesWhileTraining(c, evalFileState.of(method) !== null),
        saveSteps: c.saveSteps,
        saveMinutes: c.saveMinutes,
        maxSteps: c.maxSteps,
        budgetBytes: trainState.memoryBudgetBytes,
      });
    } catch {
      this.estimate = null; // out-of-range settings: the form says why
    }
  }

  /**
   * Load a model and datasets again, as they were before something else took their place (the classroom's lesson).
   * The datasets' text goes back into the slots first: loading the model tokenises them with its tokenizer.
   */
  async reinstate(model: ModelRequest | null, datasets: Partial<Record<DataSlot, { file: string; text: string }>>): Promise<boolean> {
    const methods = DATA_SLOTS.filter((m) => datasets[m]);
    const again = () =>
      Promise.all(
        methods.map((m) => dataState.load(m, datasets[m]?.text ?? '', datasets[m]?.file ?? '', trainState.configs[m].maxLength, 'user')),
      );
    if (!model || model === studio.modelRequest) {
      await again();
      return true;
    }
    for (const m of methods) dataState.setText(m, datasets[m] as { file: string; text: string }, trainState.configs[m].maxLength, 'user');
    if (await this.load(model.source, model.label)) return true;
    await again(); // the model stays as it was: read the data with it
    return false;
  }

  /** Resume an interrupted run: its model must be loaded (the demo model is loaded for you). */
  async resumeRun(run: RunSummary): Promise<void> {
    const model = run.model;
    if (model && studio.model?.id !== model) {
      studio.demo ??= await findDemoModel();
      if (studio.demo && model === studio.demo.id) {
        if (!(await this.loadDemo())) return;
      } else {
        adapterState.problem = {
          title: `Load ${model} first`,
          message: `This run fine-tunes ${model}. Load that model on the Model screen, then resume the run again.`,
        };
        return;
      }
    }
    await trainState.start({ resume: run });
  }
}

export const modelState = new ModelState();
