// Token sequences -> the row layout the model runs on. Sequences are right padded with the pad id to one length T
// (bucketed, so few shapes occur); row (s, t) holds token ids[s][t] at position t and predicts token t+1:
//   targets[s, t] = ids[s][t+1]  when t+1 is in one of the sequence's loss spans (tokenize.ts), else IGNORE_INDEX
// so prompt tokens, padding and each sequence's last position carry no target. A DPO batch puts the P chosen
// sequences in rows 0..P-1 and the rejected ones in rows P..2P-1 (pair p = rows p and P+p), as TRL's
// concatenated_forward does.

import { IGNORE_INDEX } from '@webtune/kernels';
import { type DpoExample, lossSpans, type Sequence, type SftExample } from './tokenize.ts';

// The shuffle lives apart so that Node code (the CLI's classroom) can use it without the kernels' WGSL.
export { shuffled } from './shuffle.ts';
export { IGNORE_INDEX };

export interface TokenBatch {
  /** Sequences (rows of T tokens). */
  B: number;
  T: number;
  /** [B*T] token ids, right padded with the pad id. */
  ids: Uint32Array;
  /** [B*T] position of each token: t. */
  positions: Uint32Array;
  /** [B*T] the token row (s, t) predicts, or IGNORE_INDEX. */
  targets: Uint32Array;
  /** Rows with a target: the completion tokens the loss counts. */
  tokens: number;
}

/** The smallest multiple of `multiple` >= maxLen (and >= multiple): batch lengths fall in few buckets. */
export function paddedLength(maxLen: number, multiple = 8): number {
  if (!Number.isInteger(maxLen) || maxLen < 0) throw new Error(`paddedLength: length must be a non-negative integer, got ${maxLen}`);
  if (!Number.isInteger(multiple) || multiple < 1) throw new Error(`paddedLength: multiple must be a positive integer, got ${multiple}`);
  return Math.max(multiple, Math.ceil(maxLen / multiple) * multiple);
}

export function sftBatch(examples: SftExample[], padId: number): TokenBatch {
  if (examples.length === 0) throw new Error('sftBatch: no examples');
  return layout(
    examples.map((e) => e.seq),
    padId,
  );
}

/** Rows 0..P-1 chosen, P..2P-1 rejected; mask[s, t] = 1 where row (s, t) has a target, else 0. */
export function dpoBatch(examples: DpoExample[], padId: number): TokenBatch & { mask: Float32Array } {
  if (examples.length === 0) throw new Error('dpoBatch: no examples');
  const batch = layout([...examples.map((e) => e.chosen), ...examples.map((e) => e.rejected)], padId);
  const mask = new Float32Array(batch.targets.length);
  for (let i = 0; i < mask.length; i++) mask[i] = batch.targets[i] === IGNORE_INDEX ? 0 : 1;
  return { ...batch, mask };
}

function layout(seqs: Sequence[], padId: number): TokenBatch {
  if (!Number.isInteger(padId) || padId < 0 || padId >= IGNORE_INDEX) throw new Error(`pad id must be a token id, got ${padId}`);
  const B = seqs.length;
  const T = paddedLength(Math.max(...seqs.map((s) => s.ids.length)));
  const ids = new Uint32Array(B * T).fill(padId);
  const positions = new Uint32Array(B * T);
  const targets = new Uint32Array(B * T).fill(IGNORE_INDEX);
  let tokens = 0;
  for (let s = 0; s < B; s++) {
    const { ids: seq, completionStart } = seqs[s];
    if (!Number.isInteger(completionStart) || completionStart < 0 || completionStart > seq.length)
      throw new Error(`sequence ${s}: completionStart ${completionStart} is outside its ${seq.length} tokens`);
    const row = s * T;
    for (let t = 0; t < T; t++) positions[row + t] = t;
    for (let t = 0; t < seq.length; t++) {
      const id = seq[t];
      if (!Number.isInteger(id) || id < 0 || id >= IGNORE_INDEX) throw new Error(`sequence ${s}: token ${t} is ${id}, not a token id`);
      ids[row + t] = id;
    }
    for (const [start, end] of lossSpans(seqs[s])) {
      if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > seq.length || start > end)
        throw new Error(`sequence ${s}: loss span [${start}, ${end}) is outside its ${seq.length} tokens`);
      for (let t = Math.max(start - 1, 0); t + 1 < end; t++) {
        targets[row + t] = seq[t + 1];
        tokens++;
      }
    }
  }
  return { B, T, ids, positions, targets, tokens };
}
