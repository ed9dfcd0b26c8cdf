// The one error every pairs input problem raises (candidates, scores, verdicts, judging state): its message names the
// file and line, or the value, and what to do.

export class PairsError extends Error {
  override name = 'PairsError';
}

/** "file line N: " for a message about one row, "file: " for one about the whole file. */
export const at = (file: string, line?: number) => (line === undefined ? `${file}: ` : `${file} line ${line}: `);
