// The validation split: rows of the training file held out for evaluation (LLaMA Board's val_size: a fraction below 1,
// or a count). Rows are drawn by file line, so every example of one line (a pair unpaired for KTO gives two) falls on
// the same side. The draw is a seeded shuffle of the lines (the run's seed, a stream of its own, apart from the
// epochs' orders), so the same file and seed hold out the same rows; both sides keep the file's order, which KTO's
// in-order batches need.

import { DatasetError } from './formats.ts';
import { shuffled } from './shuffle.ts';

/** The shuffle stream of the split (the epochs' orders use streams 0, 1, 2, ...). */
const SPLIT_STREAM = 0x5eed_5e7;

export interface Split<E> {
  train: E[];
  eval: E[];
  /** File lines of the held-out rows, ascending (recorded in training_config.json). */
  evalLines: number[];
}

/** How many of `rows` rows `valSize` holds out: ceil(fraction * rows), as datasets' train_test_split, or the count. */
export function heldOutCount(valSize: number, rows: number): number {
  return valSize < 1 ? Math.ceil(valSize * rows) : valSize;
}

/** Splits `examples` by line: `valSize` of the distinct lines held out, drawn with `seed`; `file` names the data in errors. */
export function splitHeldOut<E extends { line: number }>(examples: E[], valSize: number, seed: number, file: string): Split<E> {
  const lines = [...new Set(examples.map((e) => e.line))].sort((a, b) => a - b);
  const n = heldOutCount(valSize, lines.length);
  if (n >= lines.length)
    throw new DatasetError(
      file,
      `val_size ${valSize} holds out ${n} of its ${lines.length} usable rows, leaving none to train on: use a smaller val_size or a separate eval file.`,
      [],
      {},
    );
  const held = new Set(shuffled(lines, seed, SPLIT_STREAM).slice(0, n));
  return {
    train: examples.filter((e) => !held.has(e.line)),
    eval: examples.filter((e) => held.has(e.line)),
    evalLines: lines.filter((l) => held.has(l)),
  };
}
