// Datasets read, checked and tokenised for the loaded model, kept by id until another model is loaded, and the
// summary a client shows of each (counts, refused rows by reason, lengths, a preview as the model sees it).
import type { DatasetSummary } from '../api.ts';
import { type Advice, preferenceAdvice, sftAdvice } from '../data/advice.ts';
import { countByReason, type DatasetReport, readDpoDataset, readSftDataset } from '../data/formats.ts';
import {
  type DpoExample,
  type LossOptions,
  type PreparedData,
  prepareDpo,
  prepareSft,
  type Sequence,
  type SftExample,
} from '../data/tokenize.ts';
import type { TextTokenizer } from '../data/tokenizer.ts';
import { hashKey } from '../hash.ts';
import type { Method } from '../train/config.ts';

export type PreparedDataset = ({ method: 'sft'; data: PreparedData<SftExample> } | { method: 'dpo'; data: PreparedData<DpoExample> }) & {
  /** A hash of the method, the file's text and max_length (the tokenizer is in the model's fingerprint). */
  hash: string;
  file: string;
  format: string;
  /** The loss switches the SFT examples were tokenised with, and a way to tokenise them again with others. */
  lossKey: string;
  retokenise: (loss: LossOptions) => SftExample[];
};

/** Rows shown in a summary's preview. */
const PREVIEW_ROWS = 5;

export class Datasets {
  private readonly prepared = new Map<string, PreparedDataset>();

  /** `loss` (SFT): which tokens the loss covers (TrainConfig's completionOnlyLoss, assistantOnlyLoss; both default true). */
  async load(
    tokenizer: TextTokenizer,
    method: Method,
    text: string,
    file: string,
    maxLength: number,
    loss: LossOptions = {},
  ): Promise<DatasetSummary> {
    const lossKey = lossKeyOf(loss);
    const hash = await hashKey([method, text, String(maxLength), ...(method === 'sft' ? [lossKey] : [])]);
    const id = hash.slice(0, 16);
    let report: DatasetReport<unknown>;
    let ds: PreparedDataset;
    let advice: Advice[];
    if (method === 'sft') {
      const r = readSftDataset(text, file);
      report = r;
      advice = sftAdvice(r.rows, r.lines);
      // A run whose loss switches differ from the load's (the studio loads before the switches are set) tokenises again.
      const retokenise = (other: LossOptions) => prepareSft(tokenizer, r.rows, r.lines, maxLength, other).examples;
      ds = { method, data: prepareSft(tokenizer, r.rows, r.lines, maxLength, loss), hash, file, format: r.format, lossKey, retokenise };
    } else {
      const r = readDpoDataset(text, file);
      report = r;
      advice = preferenceAdvice(r.rows, r.lines);
      ds = { method, data: prepareDpo(tokenizer, r.rows, r.lines, maxLength), hash, file, format: r.format, lossKey, retokenise: () => [] };
    }
    this.prepared.set(id, ds);
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

function preview(tokenizer: TextTokenizer, ds: PreparedDataset): DatasetSummary['preview'] {
  const prompt = (s: Sequence) => tokenizer.decode(s.ids.slice(0, s.completionStart));
  const completion = (s: Sequence) => tokenizer.decode(s.ids.slice(s.completionStart));
  if (ds.method === 'sft')
    return ds.data.examples
      .slice(0, PREVIEW_ROWS)
      .map((e) => ({ line: e.line, prompt: prompt(e.seq), completion: completion(e.seq), tokens: e.seq.ids.length }));
  return ds.data.examples.slice(0, PREVIEW_ROWS).map((d) => ({
    line: d.line,
    prompt: prompt(d.chosen),
    completion: completion(d.chosen),
    rejected: completion(d.rejected),
    tokens: Math.max(d.chosen.ids.length, d.rejected.ids.length),
  }));
}
