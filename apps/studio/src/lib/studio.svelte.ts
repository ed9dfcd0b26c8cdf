// What every screen shares: the trainer client (the engine lives in a Web Worker behind Comlink: nothing in the
// studio touches WebGPU, and everything sent to the worker is a plain snapshot), the device, the loaded model, the
// display preferences and the notices that belong to no screen. Each screen's own state and actions live in
// lib/state/<screen>.svelte.ts and use the one client here (`studio.api`).
import {
  callback,
  createTrainer,
  type DeviceInfo,
  type DownloadProgress,
  type ModelInfo,
  type ModelSource,
  type TrainerClient,
} from '@webtune/trainer';
import { type DemoModel, findDemoModel } from './demo.ts';
import { explain, noWebGpu, type Problem } from './errors.ts';

export type { Problem };

/** How the loaded model was loaded: enough to load it again (the classroom puts the user's model back). */
export interface ModelRequest {
  source: ModelSource;
  label: string;
}

const PREFS_KEY = 'webtune.prefs';

export interface Prefs {
  largeText: boolean;
  highContrast: boolean;
}

function loadPrefs(): Prefs {
  try {
    const p = JSON.parse(localStorage.getItem(PREFS_KEY) ?? '{}') as Partial<Prefs>;
    return { largeText: p.largeText === true, highContrast: p.highContrast === true };
  } catch {
    return { largeText: false, highContrast: false };
  }
}

/** Told when the GPU is lost, so a screen can mark what it was doing as failed (the page shows `fatal` over all). */
type DeviceLostListener = (problem: Problem) => void;

export class Studio {
  engine: 'starting' | 'ready' | 'failed' = $state('starting');
  device: DeviceInfo | null = $state(null);
  /** The page cannot go on (no WebGPU, the GPU was lost): shown over everything. */
  fatal: Problem | null = $state(null);
  /** Failures that belong to no screen. */
  notices: { id: number; problem: Problem }[] = $state([]);
  prefs: Prefs = $state(loadPrefs());

  /** The demo model of this build: undefined = not looked for yet, null = none. */
  demo: DemoModel | null | undefined = $state(undefined);
  model: ModelInfo | null = $state(null);
  /** The loaded model in words (and whether it came from this browser's cache). */
  modelSource: string = $state('');
  modelRequest: ModelRequest | null = $state.raw(null);

  /** The classroom is generating or evaluating on the GPU (its training runs are ordinary runs). */
  lessonBusy: boolean = $state(false);

  private client: TrainerClient | undefined;
  private noticeId = 0;
  private deviceLost: DeviceLostListener[] = [];
  /** Where a model download's progress goes while loadModel runs (the Model screen's state sets it). */
  onDownload: ((p: DownloadProgress) => void) | undefined;

  get api(): TrainerClient['api'] {
    if (!this.client) throw new Error('The trainer has not started.');
    return this.client.api;
  }

  /** `listener` runs when the GPU is lost. */
  onDeviceLost(listener: DeviceLostListener): void {
    this.deviceLost.push(listener);
  }

  async start(): Promise<void> {
    this.engine = 'starting';
    this.fatal = null;
    findDemoModel().then((d) => {
      this.demo = d;
    });
    if (!(navigator as Navigator & { gpu?: unknown }).gpu) {
      this.engine = 'failed';
      this.fatal = noWebGpu('This browser has no WebGPU.');
      return;
    }
    try {
      this.client ??= createTrainer();
      this.device = await this.api.init(
        callback({
          // A lost device ends the session; say so at once.
          onDeviceLost: (message: string) => {
            const problem: Problem = { title: 'The GPU stopped working', message, reload: true };
            this.fatal = problem;
            for (const l of this.deviceLost) l(problem);
          },
          // A GPU error no call was waiting for (e.g. out of memory in work outside a checked step): say it, keep going.
          onGpuError: (name: string, message: string) =>
            this.notify(explain(Object.assign(new Error(message), { name }), 'working on the GPU')),
          // The files of the model being loaded (loadModel).
          onProgress: (p: DownloadProgress) => this.onDownload?.(p),
        }),
      );
      this.engine = 'ready';
    } catch (e) {
      this.engine = 'failed';
      const p = explain(e, 'starting the trainer');
      this.fatal = /WebGPU|GPU adapter/i.test(p.message) ? noWebGpu(p.message) : p;
    }
  }

  notify(problem: Problem): void {
    this.notices = [...this.notices.slice(-3), { id: ++this.noticeId, problem }];
  }

  dismiss(id: number): void {
    this.notices = this.notices.filter((n) => n.id !== id);
  }

  setPrefs(p: Partial<Prefs>): void {
    this.prefs = { ...this.prefs, ...p };
    try {
      localStorage.setItem(PREFS_KEY, JSON.stringify(this.prefs));
    } catch {
      // preferences are a nicety
    }
  }
}

export const studio = new Studio();
