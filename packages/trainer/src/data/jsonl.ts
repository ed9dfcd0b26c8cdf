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
    try {
      rows.push({ line: i + 1, value: JSON.parse(line) });
    } catch (e) {
      errors.push({ line: i + 1, reason: `invalid JSON: ${(e as Error).message}` });
    }
  }
  return { rows, errors };
}
