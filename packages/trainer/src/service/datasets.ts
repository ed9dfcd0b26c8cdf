// Datasets read, checked and tokenised for the loaded model, kept by id until another model is loaded, and the
// summary a client shows of each (counts, refused rows by reason, lengths, a preview as the model sees it).
import type { DatasetSummary } from '../api.ts';
import { type Advice, preferenceAdvice, sftAdvice } from '../data/advice.ts';
import { countByReason, type DatasetReport, type KtoDataset, readDpoDataset, readKtoDataset, readSftDataset } from '../data/formats.ts';
import {
  type DpoExample,
  type LossOptions,
  type PreparedData,
  prepareDpo,
  prepareSft,
  type Sequence,
  type SftExample,
} from '../data/tokenize.ts';
import { type KtoExample, prepareKto } from '../data/tokenize-kto.ts';
import type { TextTokenizer } from '../data/tokenizer.ts';
import { hashKey } from '../hash.ts';
import { unpairDpo } from '../objectives/kto.ts';
import type { TrainMethod } from '../train/config.ts';

type Prepared = (
  | { method: 'sft'; data: PreparedData<SftExample> }
  | { method: 'dpo' | 'orpo' | 'simpo'; data: PreparedData<DpoExample> }
  | { method: 'kto'; data: PreparedData<KtoExample> }
) & {
  /** A hash of the method, the file's text and max_length (the tokenizer is in the model's fingerprint). */
  hash: string;
  file: string;
  format: string;
  maxLength: number;
  /** The loss switches the SFT examples were tokenised with, and a way to tokenise them again with others. */
  lossKey: string;
  retokenise: (loss: LossOptions) => SftExample[];
};

export type PreparedDataset = Prepared & {
  /** The file's lines of the rows kept (refused and dropped rows left out), as written: the dataset as used. */
  rowsAsUsed: () => string[];
  /** The 1-based file line of each of rowsAsUsed's rows (a run's held-out lines are among them). */
  linesUsed: number[];
};

/** The line numbers `lines` less those of `dropped`, and a reader of those lines of `text`. */
function keptLines(text: string, lines: number[], dropped: { line: number }[]): Pick<PreparedDataset, 'rowsAsUsed' | 'linesUsed'> {
  const out = new Set(dropped.map((d) => d.line));
  const linesUsed = lines.filter((l) => !out.has(l));
  return {
    linesUsed,
    rowsAsUsed: () => {
      const all = text.split(/\r?\n/);
      return linesUsed.map((l) => all[l - 1]);
    },
  };
}

/** Rows shown in a summary's preview. */
const PREVIEW_ROWS = 5;

export class Datasets {
  private readonly prepared = new Map<string, PreparedDataset>();

  /** `loss` (SFT): which tokens the loss covers (TrainConfig's completionOnlyLoss, assistantOnlyLoss; both default true). */
  async load(
    tokenizer: TextTokenizer,
    method: TrainMethod,
    text: string,
    file: string,
    maxLength: number,
    loss: LossOptions = {},
  ): Promise<DatasetSummary> {
    const lossKey = lossKeyOf(loss);
    const hash = await hashKey([method, text, String(maxLength), ...(method === 'sft' ? [lossKey] : [])]);
    const id = hash.slice(0, 16);
    let report: DatasetReport<unknown>;
    let ds: Prepared;
    let advice: Advice[];
    const common = { hash, file, maxLength, lossKey, retokenise: () => [] };
    if (method === 'sft') {
      const r = readSftDataset(text, file);
      report = r;
      advice = sftAdvice(r.rows, r.lines);
      // A run whose loss switches differ from the load's (the studio loads before the switches are set) tokenises again.
      const retokenise = (other: LossOptions) => prepareSft(tokenizer, r.rows, r.lines, maxLength, other).examples;
      ds = { ...common, method, data: prepareSft(tokenizer, r.rows, r.lines, maxLength, loss), format: r.format, retokenise };
    } else if (method === 'kto') {
      const k = readKtoDataset(text, file);
      report = k.report;
      advice = k.kind === 'pairs' ? preferenceAdvice(k.report.rows, k.report.lines) : sftAdvice(k.report.rows, k.report.lines);
      ds = { ...common, method, data: prepareKtoFile(tokenizer, k, maxLength), format: k.report.format };
    } else {
      const r = readDpoDataset(text, file);
      report = r;
      advice = preferenceAdvice(r.rows, r.lines);
      ds = { ...common, method, data: prepareDpo(tokenizer, r.rows, r.lines, maxLength), format: r.format };
    }
    this.prepared.set(id, { ...ds, ...keptLines(text, report.lines, ds.data.dropped) });
    const { data } = ds;
    return {
      id,
      method,
      file,
      format: report.format,
      kept: data.examples.length,
      rejected: report.rejected,
      rejectedByReason: report.rejectedByReason,
      truncated: data.truncated,
      dropped: data.dropped,
      droppedByReason: countByReason(data.dropped),
      lengths: data.lengths,
      fullLengths: data.fullLengths,
      promptLengths: data.promptLengths,
      preview: preview(tokenizer, ds),
      advice,
      ...(ds.method === 'kto' ? { balance: balanceOf(ds.data.examples) } : {}),
    };
  }

  get(id: string): PreparedDataset {
    const d = this.prepared.get(id);
    if (!d) throw new Error(`Dataset ${id} is not loaded (load it again after loading a model).`);
    return d;
  }

  /** Forget every dataset (their tokens belong to the model being replaced). */
  clear(): void {
    this.prepared.clear();
  }
}

export const lossKeyOf = (loss: LossOptions) => `${loss.completionOnlyLoss ?? true},${loss.assistantOnlyLoss ?? true}`;

function preview(tokenizer: TextTokenizer, ds: Prepared): DatasetSummary['preview'] {
  const prompt = (s: Sequence) => tokenizer.decode(s.ids.slice(0, s.completionStart));
  const completion = (s: Sequence) => tokenizer.decode(s.ids.slice(s.completionStart));
  if (ds.method === 'sft')
    return ds.data.examples
      .slice(0, PREVIEW_ROWS)
      .map((e) => ({ line: e.line, prompt: prompt(e.seq), completion: completion(e.seq), tokens: e.seq.ids.length }));
  if (ds.method === 'kto')
    return ds.data.examples
      .slice(0, PREVIEW_ROWS)
      .map((e) => ({ line: e.line, prompt: prompt(e.seq), completion: completion(e.seq), label: e.label, tokens: e.seq.ids.length }));
  return ds.data.examples.slice(0, PREVIEW_ROWS).map((d) => ({
    line: d.line,
    prompt: prompt(d.chosen),
    completion: completion(d.chosen),
    rejected: completion(d.rejected),
    tokens: Math.max(d.chosen.ids.length, d.rejected.ids.length),
  }));
}

/** KTO rows from a KTO file, or from preference pairs unpaired as TRL does (chosen desirable, rejected undesirable). */
function prepareKtoFile(tokenizer: TextTokenizer, k: KtoDataset, maxLength: number): PreparedData<KtoExample> {
  if (k.kind === 'unpaired') return prepareKto(tokenizer, k.report.rows, k.report.lines, maxLength);
  const pairs = prepareDpo(tokenizer, k.report.rows, k.report.lines, maxLength);
  return { ...pairs, examples: unpairDpo(pairs.examples) };
}

export const balanceOf = (examples: KtoExample[]) => {
  const desirable = examples.filter((e) => e.label).length;
  return { desirable, undesirable: examples.length - desirable };
};
