// JSON Lines, one value per line, read leniently about line endings and strictly about content: every line that does
// not parse is reported with its 1-based number and the parser's message, never dropped silently.

export interface JsonlResult {
  rows: { line: number; value: unknown }[];
  errors: { line: number; reason: string }[];
}

export function parseJsonl(text: string): JsonlResult {
  const rows: JsonlResult['rows'] = [];
  const errors: JsonlResult['errors'] = [];
  // Editors on Windows save a BOM and CRLF; neither is data.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const lines = body.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      errors.push({ line: i + 1, reason: `invalid JSON: ${(e as Error).message}` });
      continue;
    }
    // Only a \u escape can make one: UTF-8 text (checked by decodeDataset) cannot.
    const lone = line.includes('\\u') ? loneSurrogate(value) : null;
    if (lone === null) rows.push({ line: i + 1, value });
    else
      errors.push({
        line: i + 1,
        reason: `lone UTF-16 surrogate: \\u${lone.toString(16)} is half of a surrogate pair, not a character (it would be trained as U+FFFD); fix the escape`,
      });
  }
  return { rows, errors };
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The code unit of the first lone surrogate in any string (key or value) of `value`, or null. */
function loneSurrogate(value: unknown): number | null {
  if (typeof value === 'string') {
    const m = LONE_SURROGATE.exec(value);
    return m ? m[0].charCodeAt(0) : null;
  }
  if (typeof value !== 'object' || value === null) return null;
  for (const [k, v] of Array.isArray(value) ? value.entries() : Object.entries(value)) {
    const found = loneSurrogate(k) ?? loneSurrogate(v);
    if (found !== null) return found;
  }
  return null;
}

/**
 * The most a dataset file may hold, read whole: a JavaScript string tops out near 512 Mi characters, and the rows are
 * tokenized in memory anyway. A larger file is refused with its size, before anything reads it.
 */
export const MAX_DATASET_BYTES = 256 * 1024 * 1024;

export class DatasetEncodingError extends Error {
  override name = 'DatasetEncodingError';
}

/** Refuses a file larger than MAX_DATASET_BYTES, naming its size and the limit. */
export function checkDatasetSize(file: string, bytes: number): void {
  if (bytes <= MAX_DATASET_BYTES) return;
  const mib = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MiB`;
  throw new DatasetEncodingError(
    `${file} is ${mib(bytes)}, more than the ${mib(MAX_DATASET_BYTES)} a dataset may hold: split it, or sample the rows to train on`,
  );
}

/**
 * A dataset file's text, strictly UTF-8: a byte sequence that is not UTF-8 is an error naming its line and byte, never a
 * replacement character trained silently (a file saved as Latin-1 or Windows-1252 usually).
 */
export function decodeDataset(file: string, bytes: Uint8Array): string {
  checkDatasetSize(file, bytes.length);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // Find the line: decode line by line (a newline byte never occurs inside a UTF-8 sequence).
    const strict = new TextDecoder('utf-8', { fatal: true });
    let start = 0;
    for (let line = 1; ; line++) {
      const nl = bytes.indexOf(0x0a, start);
      const end = nl === -1 ? bytes.length : nl;
      try {
        strict.decode(bytes.subarray(start, end));
      } catch {
        throw new DatasetEncodingError(
          `${file} line ${line} is not valid UTF-8 (near byte ${start + firstInvalid(bytes.subarray(start, end))} of the file): save the file as UTF-8 and load it again`,
        );
      }
      if (nl === -1) throw new DatasetEncodingError(`${file} is not valid UTF-8: save it as UTF-8 and load it again`);
      start = nl + 1;
    }
  }
}

/** Offset of the first byte that makes `bytes` invalid UTF-8 (a cut-off sequence at the end of a prefix is not one). */
function firstInvalid(bytes: Uint8Array): number {
  const decodes = (n: number) => {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, n), { stream: true });
      return true;
    } catch {
      return false;
    }
  };
  // Prefixes decode up to the first bad byte and none past it: binary search for the longest that does.
  let lo = 0;
  let hi = bytes.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (decodes(mid)) lo = mid;
    else hi = mid - 1;
  }
  // The byte found may end a sequence that went wrong earlier (a Latin-1 "é" followed by a quote): name its lead byte.
  for (let k = lo; k >= Math.max(0, lo - 3); k--) if (bytes[k] >= 0xc0) return k;
  return lo;
}
