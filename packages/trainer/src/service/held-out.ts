// The rows a run trains on and the rows it evaluates on: the training file less the val_size rows held out of it
// (data/split.ts, seeded), or the whole file and a separate eval file. What was held out is recorded in
// training_config.json (eval_dataset: the file's lines), so the split can be repeated and checked.
import { splitHeldOut } from '../data/split.ts';
import type { TrainConfig } from '../train/config.ts';
import type { EvalRows } from '../train/evaluate.ts';
import { lossKeyOf, type PreparedDataset } from './datasets.ts';

export interface HeldOut {
  trainRows: EvalRows;
  /** null: nothing to evaluate (no val_size, no eval file). */
  evalRows: EvalRows | null;
  /** training_config.json's eval_dataset. */
  record?: Record<string, unknown>;
  /** What was held out, for the run's log. */
  message: string;
  /** What a cache over the training rows must be keyed on besides the file (the split, when there is one). */
  key: string[];
}

/** A dataset's rows as the run uses them: SFT rows tokenised again when the run's loss switches differ from the load's. */
function rowsOf(ds: PreparedDataset, config: TrainConfig): EvalRows {
  if (ds.method === 'sft') return { method: 'sft', examples: ds.lossKey === lossKeyOf(config) ? ds.data.examples : ds.retokenise(config) };
  if (ds.method === 'kto') return { method: 'kto', examples: ds.data.examples };
  return { method: ds.method, examples: ds.data.examples };
}

/** Splits `rows` by the held-out lines, keeping its method. */
function split(rows: EvalRows, config: TrainConfig, file: string): { train: EvalRows; eval: EvalRows; lines: number[] } {
  const s = splitHeldOut(rows.examples as { line: number }[], config.valSize, config.seed, file);
  // Each side holds the very examples of `rows`, so of its method.
  return { train: { ...rows, examples: s.train } as EvalRows, eval: { ...rows, examples: s.eval } as EvalRows, lines: s.evalLines };
}

export function heldOutRows(ds: PreparedDataset, evalDs: PreparedDataset | undefined, config: TrainConfig): HeldOut {
  const all = rowsOf(ds, config);
  if (evalDs) {
    const evalRows = rowsOf(evalDs, config);
    const rows = evalRows.examples.length;
    return {
      trainRows: all,
      evalRows,
      record: { file: evalDs.file, format: evalDs.format, rows },
      message: `evaluation on ${evalDs.file}: ${rows} rows`,
      key: [],
    };
  }
  if (config.valSize === 0) return { trainRows: all, evalRows: null, message: '', key: [] };
  const s = split(all, config, ds.file);
  const rows = s.lines.length;
  return {
    trainRows: s.train,
    evalRows: s.eval,
    record: { held_out_from: ds.file, val_size: config.valSize, seed: config.seed, rows, lines: s.lines },
    message: `evaluation on ${rows} rows held out of ${ds.file} (val_size ${config.valSize}, seed ${config.seed}): lines ${s.lines.join(', ')}`,
    key: [`val_size ${config.valSize}`, `seed ${config.seed}`],
  };
}
