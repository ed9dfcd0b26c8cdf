// What Compare says about two outputs: which words of one are not in the other (a longest common subsequence over
// words, white space kept with the word before it, so the pieces join back into the text exactly), and which
// column each output is best read against (an adapter against the model it was trained on top of).

export interface Segment {
  text: string;
  /** Not in the reference output. */
  changed: boolean;
}

/** Words with the white space that follows each ("a b\n" -> ["a ", "b\n"]); leading white space is its own piece. */
export function words(text: string): string[] {
  return text.match(/^\s+|\S+\s*/g) ?? [];
}

/** Above this many word pairs the outputs are marked as wholly different rather than diffed (a quadratic table). */
const MAX_CELLS = 250_000;

/** `text` cut into runs of words that are and are not in `reference` (compared without their white space). */
export function diffWords(reference: string, text: string): Segment[] {
  const a = words(reference).map((w) => w.trim());
  const bw = words(text);
  const b = bw.map((w) => w.trim());
  if (bw.length === 0) return [];
  if (a.length * b.length > MAX_CELLS) return [{ text, changed: true }];
  // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
  const lcs = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const out: Segment[] = [];
  const push = (piece: string, changed: boolean) => {
    const last = out.at(-1);
    if (last && last.changed === changed) last.text += piece;
    else out.push({ text: piece, changed });
  };
  let i = 0;
  for (let j = 0; j < b.length; j++) {
    while (i < a.length && a[i] !== b[j] && lcs[i + 1][j] >= lcs[i][j + 1]) i++;
    if (i < a.length && a[i] === b[j]) {
      push(bw[j], false);
      i++;
    } else push(bw[j], true);
  }
  return out;
}

export interface Column {
  /** '' for the base model. */
  id: string;
  /** The adapter it was trained on top of (null for the base and for first-stage adapters). */
  parentId: string | null;
}

/**
 * The column each column is read against: its parent adapter when that is shown, else the base model when that is
 * shown, else none (the base model itself, or nothing to compare with).
 */
export function referenceOf(column: Column, shown: Column[]): string | null {
  if (column.id === '') return null;
  if (column.parentId !== null && shown.some((c) => c.id === column.parentId)) return column.parentId;
  return shown.some((c) => c.id === '') ? '' : null;
}

/**
 * The columns that answered every prompt word for word as their reference column did, with that reference.
 * `answer(prompt, id)` is a finished output, or null (still running, failed).
 */
export function sameAnswers(
  columns: Column[],
  prompts: number,
  answer: (prompt: number, id: string) => string | null,
): { id: string; reference: string }[] {
  const out: { id: string; reference: string }[] = [];
  for (const c of columns) {
    const reference = referenceOf(c, columns);
    if (reference === null || prompts === 0) continue;
    let same = true;
    for (let i = 0; i < prompts && same; i++) {
      const a = answer(i, c.id);
      same = a !== null && a === answer(i, reference);
    }
    if (same) out.push({ id: c.id, reference });
  }
  return out;
}
