// The metrics an adapter folder carries, read back on import so an imported adapter shows how it was trained:
// the Hugging Face Trainer's trainer_state.json (its `log_history`, one record per logging step, as a checkpoint
// folder holds it), else the "Final metrics" table of the model card webtune writes (export.ts: the last value of
// each metric and the step it was logged at). A card without that table (a README written by hand) carries none.
export const TRAINER_STATE = 'trainer_state.json';
/** The heading of the model card's metrics table; the writer and the reader share it. */
export const FINAL_METRICS = '## Final metrics';

type Row = Record<string, number>;

/** Only the numbers of a record (log_history also holds strings such as `total_flos` units). */
function numbers(record: Record<string, unknown>): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(record)) if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  return out;
}

/** trainer_state.json's log_history, one row per record that holds a number; null when it has no such list. */
export function metricsFromTrainerState(state: unknown): Row[] | null {
  const history = (state as { log_history?: unknown } | null)?.log_history;
  if (!Array.isArray(history)) return null;
  return history
    .filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null && !Array.isArray(r))
    .map(numbers)
    .filter((r) => Object.keys(r).length > 0);
}

/** The model card's "## Final metrics (step N)" table as one row ({step: N, metric: value, ...}), or none. */
export function metricsFromModelCard(card: string): Row[] {
  const lines = card.split(/\r?\n/);
  const at = lines.findIndex((l) => l.startsWith(FINAL_METRICS));
  if (at < 0) return [];
  const row: Row = {};
  const step = /\(step ([0-9.eE+-]+)\)/.exec(lines[at])?.[1];
  if (step !== undefined && Number.isFinite(Number(step))) row.step = Number(step);
  for (const line of lines.slice(at + 1)) {
    if (line.startsWith('#')) break;
    const cells = /^\|\s*(.+?)\s*\|\s*([^|]+?)\s*\|$/.exec(line);
    if (!cells || cells[1] === 'metric' || /^-+$/.test(cells[1])) continue;
    const value = Number(cells[2]);
    if (cells[2] !== '' && Number.isFinite(value)) row[cells[1].replace(/\\\|/g, '|')] = value;
  }
  return Object.keys(row).some((k) => k !== 'step') ? [row] : [];
}
