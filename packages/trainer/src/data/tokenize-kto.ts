// KTO rows -> token sequences. A KTO row is a prompt-completion row with a label, tokenised exactly as an SFT
// prompt-completion row (tokenize.ts: prompt, then completion + EOS, truncated keeping the start; conversational
// rows through the chat template), which is what TRL's KTOTrainer does with the completion. The label rides along.
import type { KtoRow } from './formats.ts';
import { type PreparedData, prepareSft, type Sequence } from './tokenize.ts';
import type { TextTokenizer } from './tokenizer.ts';

/** One unpaired row: label true = desirable (thumbs up). */
export interface KtoExample {
  line: number;
  seq: Sequence;
  label: boolean;
}

export function prepareKto(tok: TextTokenizer, rows: KtoRow[], lines: number[], maxLength: number): PreparedData<KtoExample> {
  const prepared = prepareSft(
    tok,
    rows.map(({ label: _, ...row }) => row),
    lines,
    maxLength,
    { keepFullCompletion: true },
  );
  const labels = new Map(lines.map((line, i) => [line, rows[i].label]));
  return {
    ...prepared,
    examples: prepared.examples.map((e) => ({ line: e.line, seq: e.seq, label: labels.get(e.line) === true })),
  };
}
