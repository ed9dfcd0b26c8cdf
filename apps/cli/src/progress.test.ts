// The progress printer against fake streams: a TTY gets one line redrawn in place, anything else plain lines.
import type { TrainEvent } from '@webtune/trainer';
import { describe, expect, it } from 'vitest';
import { bar, formatDuration, ProgressPrinter } from './progress.ts';

/** A stream that records what is written; `isTTY` and `columns` as a terminal (or a pipe) reports them. */
function fakeStream(tty: boolean, columns = 100) {
  const chunks: string[] = [];
  const stream = {
    isTTY: tty,
    columns: tty ? columns : undefined,
    write(s: string) {
      chunks.push(s);
      return true;
    },
  };
  return { stream: stream as unknown as NodeJS.WriteStream, chunks, text: () => chunks.join('') };
}

/** What a terminal shows after `text`: \r returns to column 0, ESC[2K clears the line, \n starts a new one. */
function screen(text: string): string[] {
  const lines: string[] = [''];
  let col = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (text.startsWith('\u001b[2K', i)) {
      lines[lines.length - 1] = '';
      i += 3;
    } else if (ch === '\r') col = 0;
    else if (ch === '\n') {
      lines.push('');
      col = 0;
    } else {
      const cur = lines[lines.length - 1];
      lines[lines.length - 1] = cur.slice(0, col).padEnd(col) + ch + cur.slice(col + 1);
      col++;
    }
  }
  return lines;
}

const step = (n: number, total = 3): TrainEvent => ({
  type: 'step',
  step: n,
  totalSteps: total,
  tokensPerSecond: 123,
  etaSeconds: (total - n) * 2,
  elapsedSeconds: n * 2,
});
const log = (n: number, loss: number): TrainEvent => ({
  type: 'log',
  record: { step: n, loss, grad_norm: 1.5, learning_rate: 1e-4, epoch: n / 2, num_tokens: 10 * n },
});

/** A short run as the trainer reports it: phase, then per step a 'step' event followed by its 'log'. */
function run(p: ProgressPrinter): void {
  p.line('model: tiny');
  p.event({ type: 'phase', phase: 'training', message: 'training 3 steps' });
  for (const [n, loss] of [
    [1, 8.04],
    [2, 7.56],
    [3, 7.25],
  ]) {
    p.event(step(n));
    p.event(log(n, loss));
  }
  p.done();
  p.line('wrote out');
}

describe('ProgressPrinter on a TTY', () => {
  it('redraws one line in place with \\r, and ends it before the next message', () => {
    const { stream, chunks, text } = fakeStream(true, 160);
    run(new ProgressPrinter(stream));
    // Every redraw returns to column 0 and clears the line; no redraw ends the line.
    const redraws = chunks.filter((c) => c.startsWith('\r\u001b[2Kstep '));
    expect(redraws.length).toBeGreaterThanOrEqual(3);
    for (const r of redraws) expect(r).not.toContain('\n');
    // The terminal shows the messages and ONE progress line, with the last step's metrics.
    expect(screen(text())).toEqual([
      'model: tiny',
      'training: training 3 steps',
      `step 3/3 ${bar(1)} loss 7.25  grad_norm 1.50  learning_rate 1.00e-4  123 tok/s  ETA 0s`,
      'wrote out',
      '',
    ]);
  });

  it("shows each step's own loss: the log that follows a step redraws it", () => {
    const { stream, text } = fakeStream(true);
    const p = new ProgressPrinter(stream);
    p.event(step(1));
    expect(screen(text()).at(-1)).toBe(`step 1/3 ${bar(1 / 3)} 123 tok/s  ETA 4s`);
    p.event(log(1, 8.04));
    expect(screen(text()).at(-1)).toMatch(/^step 1\/3 \[#{8}-{16}\] loss 8\.04 {2}grad_norm/);
    expect(text()).not.toContain('\n');
  });

  it('cuts the line to the terminal width', () => {
    const { stream, text } = fakeStream(true, 30);
    const p = new ProgressPrinter(stream);
    p.event(step(1));
    p.event(log(1, 8.04));
    const shown = screen(text());
    expect(shown).toHaveLength(1);
    expect(shown[0]).toHaveLength(29);
  });

  it('redraws download progress and keeps finished messages', () => {
    const { stream, text } = fakeStream(true);
    const p = new ProgressPrinter(stream);
    p.download('model.safetensors', 2 ** 20, 4 * 2 ** 20, false);
    p.download('model.safetensors', 4 * 2 ** 20, 4 * 2 ** 20, false);
    p.line('loaded');
    expect(screen(text())).toEqual(['loaded', '']);
    p.event({ type: 'progress', phase: 'reference', done: 4, total: 8 });
    expect(screen(text())).toEqual(['loaded', `reference ${bar(0.5)} 4/8`]);
  });
});

describe('ProgressPrinter on a pipe', () => {
  it('writes one plain line per logged step, never \\r', () => {
    const { stream, text } = fakeStream(false);
    run(new ProgressPrinter(stream));
    expect(text()).not.toContain('\r');
    expect(text()).not.toContain('\u001b');
    expect(text().split('\n')).toEqual([
      'model: tiny',
      'training: training 3 steps',
      'step 1  loss 8.04  grad_norm 1.50  learning_rate 1.00e-4',
      'step 2  loss 7.56  grad_norm 1.50  learning_rate 1.00e-4',
      'step 3  loss 7.25  grad_norm 1.50  learning_rate 1.00e-4',
      'wrote out',
      '',
    ]);
  });

  it('takes TTY-ness from the stream it writes to', () => {
    const tty = fakeStream(true);
    new ProgressPrinter(tty.stream).event(step(1));
    expect(tty.text()).toContain('\r');
    const pipe = fakeStream(false);
    new ProgressPrinter(pipe.stream).event(step(1));
    expect(pipe.text()).toBe('');
  });

  it('reports finished downloads only', () => {
    const { stream, text } = fakeStream(false);
    const p = new ProgressPrinter(stream);
    p.download('model.safetensors', 2 ** 20, 4 * 2 ** 20, false);
    p.download('model.safetensors', 4 * 2 ** 20, 4 * 2 ** 20, false);
    p.download('config.json', 0, null, true);
    expect(text()).toBe('model.safetensors: 4.0 MB / 4.0 MB\nconfig.json: cached\n');
  });
});

describe('formatting', () => {
  it('durations and bars', () => {
    expect(formatDuration(5)).toBe('5s');
    expect(formatDuration(65)).toBe('1m05s');
    expect(formatDuration(3725)).toBe('1h02m');
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe('?');
    expect(bar(0.5, 4)).toBe('[##--]');
    expect(bar(2, 4)).toBe('[####]');
  });
});
