// Training progress for humans: one redrawn bar on a TTY, plain lines otherwise (CI logs, pipes).
import type { TrainEvent } from '@webtune/trainer';
import { formatNumber } from './table.ts';

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function bar(fraction: number, width = 24): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

/** The metrics worth a glance, in TRL's names. */
function summary(record: Record<string, number>): string {
  const keys = ['loss', 'rewards/accuracies', 'rewards/margins', 'grad_norm', 'learning_rate'];
  return keys
    .filter((k) => k in record)
    .map((k) => `${k} ${formatNumber(record[k])}`)
    .join('  ');
}

/** An evaluation's metrics: eval_loss, then DPO's accuracies and margins when there are. */
function evalSummary(record: Record<string, number>): string {
  return ['eval_loss', 'eval_rewards/accuracies', 'eval_rewards/margins']
    .filter((k) => k in record)
    .map((k) => `${k} ${formatNumber(record[k])}`)
    .join('  ');
}

type StepEvent = Extract<TrainEvent, { type: 'step' }>;

export class ProgressPrinter {
  private lastLog: Record<string, number> = {};
  private lastStep: StepEvent | undefined;
  private live = false;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly tty = Boolean(out.isTTY),
  ) {}

  event(e: TrainEvent): void {
    switch (e.type) {
      case 'phase':
        this.line(`${e.phase}: ${e.message}`);
        break;
      case 'progress':
        if (this.tty) this.redraw(`${e.phase} ${bar(e.done / e.total)} ${e.done}/${e.total}`);
        else if (e.done === e.total) this.line(`${e.phase}: ${e.done}/${e.total}`);
        break;
      case 'log':
        // An evaluation of the held-out rows (eval_strategy) is a record of its own, said on a line of its own.
        if (Object.keys(e.record).some((k) => k.startsWith('eval_'))) {
          this.line(`eval at step ${e.record.step}  ${evalSummary(e.record)}`);
          break;
        }
        this.lastLog = e.record;
        // The trainer sends a step's log after the step itself: redraw so the bar shows this step's metrics.
        if (this.tty) {
          if (this.lastStep?.step === e.record.step) this.drawStep(this.lastStep);
        } else this.line(`step ${e.record.step}  ${summary(e.record)}`);
        break;
      case 'step':
        this.lastStep = e;
        if (this.tty) this.drawStep(e);
        break;
      case 'checkpoint':
        if (!this.tty) this.line(`checkpoint saved at step ${e.step}`);
        break;
    }
  }

  private drawStep(e: StepEvent): void {
    const rate = `${formatNumber(e.tokensPerSecond)} tok/s`;
    const metrics = summary(this.lastLog);
    this.redraw(
      `step ${e.step}/${e.totalSteps} ${bar(e.step / e.totalSteps)} ${metrics ? `${metrics}  ` : ''}${rate}  ETA ${formatDuration(e.etaSeconds)}`,
    );
  }

  /** Download progress of one file. */
  download(file: string, loaded: number, total: number | null, cached: boolean): void {
    const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;
    const text = cached ? `${file}: cached` : `${file}: ${mb(loaded)}${total ? ` / ${mb(total)}` : ''}`;
    if (this.tty) this.redraw(total ? `${text} ${bar(loaded / total)}` : text);
    else if (cached || (total !== null && loaded === total)) this.line(text);
  }

  line(text: string): void {
    if (this.live) this.out.write('\r\u001b[2K');
    this.live = false;
    this.out.write(`${text}\n`);
  }

  private redraw(text: string): void {
    const width = (this.out.columns ?? 100) - 1;
    this.out.write(`\r\u001b[2K${text.slice(0, width)}`);
    this.live = true;
  }

  done(): void {
    if (this.live) this.out.write('\n');
    this.live = false;
  }
}
