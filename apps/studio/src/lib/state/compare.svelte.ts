// The Compare screen's state: the prompts, the chosen models, the generation settings, and each output as it
// streams in (prompt by prompt, model by model, one generation at a time on the GPU).
import { callback } from '@webtune/trainer';
import { explain, type Problem } from '../errors.ts';
import { frameBatcher } from '../frame.ts';
import { studio } from '../studio.svelte.ts';
import { trainState } from './train.svelte.ts';

export interface CompareCell {
  text: string;
  tokens: number;
  running: boolean;
  /** Generation finished (an answer of no tokens is an answer). */
  done: boolean;
  error: string | null;
}

export interface CompareColumn {
  /** '' is the base model; otherwise the adapter whose stack (it and its parents) is applied. */
  id: string;
  label: string;
}

export const BASE = '';

export class CompareState {
  /** Each prompt exactly as the model gets it (white space matters: "Answer:\n"). */
  prompts: string[] = $state([]);
  columns: string[] | null = $state(null);
  settings = $state({ maxNewTokens: 48, temperature: 0, topP: 1, seed: 0, chat: true });
  outputs: Record<string, CompareCell> = $state({});
  /** What the outputs answer: the prompts and columns of the last Generate. */
  asked: { prompts: string[]; columns: CompareColumn[] } | null = $state(null);
  running: boolean = $state(false);
  stopRequested = false;
  /** Prompts were taken from the datasets once; after that the box is the user's. */
  prefilled = false;
  problem: Problem | null = $state(null);

  /** The finished output of a prompt (by index) and column, or null. */
  answer(prompt: number, id: string): string | null {
    const cell = this.outputs[`${prompt}:${id}`];
    return cell?.done ? cell.text : null;
  }

  /** The same prompts through each column's model (the base, or an adapter with the adapters it was trained on). */
  async run(prompts: string[], columns: CompareColumn[]): Promise<void> {
    if (this.running || trainState.isTraining || studio.lessonBusy) return;
    this.running = true;
    this.stopRequested = false;
    this.problem = null;
    const settings = $state.snapshot(this.settings);
    const outputs: Record<string, CompareCell> = {};
    for (const [i] of prompts.entries())
      for (const c of columns) outputs[`${i}:${c.id}`] = { text: '', tokens: 0, running: false, done: false, error: null };
    this.outputs = outputs;
    this.asked = { prompts: [...prompts], columns: columns.map((c) => ({ ...c })) };
    try {
      outer: for (const [i, prompt] of prompts.entries()) {
        for (const c of columns) {
          if (this.stopRequested) break outer;
          const key = `${i}:${c.id}`;
          this.outputs[key].running = true;
          const stream = frameBatcher<string>((texts) => {
            this.outputs[key].text = texts.at(-1) ?? '';
          });
          try {
            const r = await studio.api.generate(
              {
                prompt: settings.chat ? [{ role: 'user', content: prompt }] : prompt,
                adapterId: c.id || null,
                maxNewTokens: settings.maxNewTokens,
                temperature: settings.temperature,
                topP: settings.topP,
                seed: settings.seed,
              },
              callback((text: string) => stream.push(text)),
            );
            stream.flushNow();
            this.outputs[key] = { text: r.text, tokens: r.tokens, running: false, done: true, error: null };
          } catch (e) {
            stream.flushNow();
            const p = explain(e, 'generating');
            this.outputs[key] = { text: this.outputs[key].text, tokens: 0, running: false, done: false, error: p.message };
            if (p.reload) {
              this.problem = p;
              break outer;
            }
          }
        }
      }
    } finally {
      this.running = false;
    }
  }
}

export const compareState = new CompareState();
