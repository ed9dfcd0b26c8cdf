// Preference pairs written as TRL's rows ({"prompt","chosen","rejected"}, strings or message lists) or as OpenAI's and
// Together's ({"input":{"messages"},"preferred_output","non_preferred_output"}, one assistant message each). Reading
// either is readDpoDataset's (formats.ts); converting a file is reading it, then writing every row it kept, with the
// rows refused by the reader, or that the other format cannot hold, reported by line.
import type { RowProblem } from '../api.ts';
import { countByReason, DatasetError, type DpoRow, type Message, readDpoDataset, reasonSummary } from './formats.ts';

export type PreferenceFormat = 'trl' | 'openai';

/** A row as TRL's DPOTrainer reads it: conversational when the prompt is a message list. */
export function trlPreferenceRow(row: DpoRow): Record<string, unknown> {
  if (row.kind === 'standard') return { prompt: row.prompt, chosen: row.chosen, rejected: row.rejected };
  return { prompt: row.prompt, chosen: row.chosen, rejected: row.rejected, ...templateFields(row) };
}

/**
 * A row as OpenAI's preference fine-tuning reads it: a string prompt becomes one user message and a string answer
 * one assistant message. Throws a reason when an answer is not exactly one assistant message (the format's rule).
 */
export function openAiPreferenceRow(row: DpoRow): Record<string, unknown> {
  const prompt: Message[] = row.kind === 'standard' ? [{ role: 'user', content: row.prompt }] : row.prompt;
  const output = (side: 'chosen' | 'rejected'): Message[] => {
    if (row.kind === 'standard') return [{ role: 'assistant', content: row[side] }];
    const answer = row[side];
    if (answer.length !== 1 || answer[0].role !== 'assistant')
      throw new CannotWrite(
        `"${side}" is not one assistant message`,
        `it has ${answer.length} message(s) (${answer.map((m) => m.role).join(', ')}); OpenAI's format takes exactly one`,
      );
    return answer;
  };
  const input: Record<string, unknown> = { messages: prompt };
  if (row.kind === 'conversational' && row.tools) input.tools = row.tools;
  return { input, preferred_output: output('chosen'), non_preferred_output: output('rejected') };
}

/** Why a row that was read cannot be written in the other format; reported with its line. */
class CannotWrite extends Error {
  constructor(reason: string, detail: string) {
    super(`${reason}: ${detail}`);
  }
}

export interface ConvertedPreferences {
  /** The written JSONL, one row per line, in the source's order. */
  text: string;
  /** The source format, as readDpoDataset names it. */
  from: string;
  written: number;
  /** Source lines not written: refused by the reader, or not expressible in the target format. */
  rejected: RowProblem[];
}

/** Any preference file readDpoDataset reads (TRL's formats or OpenAI's) written as `to`. */
export function convertPreferences(text: string, file: string, to: PreferenceFormat): ConvertedPreferences {
  const report = readDpoDataset(text, file);
  const out: string[] = [];
  const rejected = [...report.rejected];
  report.rows.forEach((row, i) => {
    try {
      out.push(JSON.stringify(to === 'trl' ? trlPreferenceRow(row) : openAiPreferenceRow(row)));
    } catch (e) {
      if (!(e instanceof CannotWrite)) throw e;
      rejected.push({ line: report.lines[i], reason: e.message });
    }
  });
  rejected.sort((a, b) => a.line - b.line);
  if (out.length === 0)
    throw new DatasetError(
      file,
      `no row can be written in ${to === 'trl' ? "TRL's" : "OpenAI's"} preference format: ${reasonSummary(rejected).join('; ')}`,
      rejected,
      countByReason(rejected),
    );
  return { text: `${out.join('\n')}\n`, from: report.format, written: out.length, rejected };
}

function templateFields(row: Extract<DpoRow, { kind: 'conversational' }>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (row.tools) out.tools = row.tools;
  if (row.templateKwargs) out.chat_template_kwargs = row.templateKwargs;
  return out;
}
