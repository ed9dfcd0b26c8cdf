// TRL's dataset formats, read from JSONL into normalised rows, with a report of every row refused and why.
// SFT: {"prompt","completion"} as strings or message lists, {"messages"}, or {"text"} (TRL's SFTTrainer looks for
// "prompt" first, then "messages", then "text", and so do we). DPO: {"prompt","chosen","rejected"} as strings or
// message lists, or {"chosen","rejected"} with the prompt implicit in both, split off as TRL's `extract_prompt` does;
// also OpenAI's and Together's preference rows ({"input":{"messages"},"preferred_output","non_preferred_output"}),
// read as conversational rows (data/preference-formats.ts writes both ways).
// KTO: unpaired {"prompt","completion","label"} rows (strings or message lists, label true = desirable), or a DPO
// file, which KTO training unpairs as TRL's KTOTrainer does.
// Nothing is coerced: a row of the wrong shape is refused with a reason, and the run goes on with the rest.

import { parseJsonl } from './jsonl.ts';

export type Role = 'system' | 'user' | 'assistant' | 'tool';
/** A chat message; keys besides role and content (tool_calls, reasoning_content, ...) go to the template as given. */
export type Message = { role: Role; content: string; [key: string]: unknown };
/** A conversational row's `tools` and `chat_template_kwargs` columns, passed to the chat template as TRL does. */
export interface TemplateColumns {
  tools?: unknown[];
  templateKwargs?: Record<string, unknown>;
}

export type SftRow =
  | { kind: 'prompt-completion'; prompt: string; completion: string }
  | ({ kind: 'conversational-prompt-completion'; prompt: Message[]; completion: Message[] } & TemplateColumns)
  | ({ kind: 'messages'; messages: Message[] } & TemplateColumns)
  | { kind: 'text'; text: string };

export type DpoRow =
  | { kind: 'standard'; prompt: string; chosen: string; rejected: string }
  | ({ kind: 'conversational'; prompt: Message[]; chosen: Message[]; rejected: Message[] } & TemplateColumns);

/** A KTO row: a prompt and one completion, with its thumbs up (label true) or down (false). */
export type KtoRow = Extract<SftRow, { kind: 'prompt-completion' | 'conversational-prompt-completion' }> & { label: boolean };

export interface DatasetReport<R> {
  /** The file's format, set by its first valid row: an SftRow kind, or for DPO "standard", "conversational",
   *  "standard (implicit prompt)" or "conversational (implicit prompt)". */
  format: string;
  rows: R[];
  /** Source line (1-based) of each row. */
  lines: number[];
  kept: number;
  /** Every line refused, in line order; `reason` is "<generic reason>" or "<generic reason>: <detail>". */
  rejected: { line: number; reason: string }[];
  /** Counts by the generic part of each reason (the text before the first ": "). */
  rejectedByReason: Record<string, number>;
}

/** A file with no usable row: names the file, and every reason with the lines it refused. */
export class DatasetError extends Error {
  override name = 'DatasetError';
  constructor(
    readonly file: string,
    message: string,
    readonly rejected: { line: number; reason: string }[],
    readonly rejectedByReason: Record<string, number>,
  ) {
    super(`${file}: ${message}`);
  }
}

export function readSftDataset(text: string, file: string): DatasetReport<SftRow> {
  return readDataset(text, file, 'SFT', sftRow);
}

export function readDpoDataset(text: string, file: string): DatasetReport<DpoRow> {
  return readDataset(text, file, 'DPO', dpoRow);
}

/**
 * A KTO file: unpaired rows, or preference pairs (a DPO file, told by its first JSON object having "chosen" or
 * "rejected" and no "label") that KTO unpairs.
 */
export type KtoDataset = { kind: 'unpaired'; report: DatasetReport<KtoRow> } | { kind: 'pairs'; report: DatasetReport<DpoRow> };

export function readKtoDataset(text: string, file: string): KtoDataset {
  const first = parseJsonl(text).rows.find(({ value }) => typeof value === 'object' && value !== null && !Array.isArray(value));
  const o = (first?.value ?? {}) as Record<string, unknown>;
  if (('chosen' in o || 'rejected' in o) && !('label' in o)) return { kind: 'pairs', report: readDpoDataset(text, file) };
  return { kind: 'unpaired', report: readDataset(text, file, 'KTO', ktoRow) };
}

/** Why one row is refused; thrown inside a row's parser and caught by the loop, never past it. */
class Refused extends Error {
  constructor(reason: string, detail?: string) {
    super(detail === undefined ? reason : `${reason}: ${detail}`);
  }
}

/** The generic part of a reason ("<generic reason>: <detail>"), by which rows are counted. */
export const reasonKey = (reason: string) => reason.split(': ', 1)[0];

/** Rows per generic reason, in order of first appearance. */
export function countByReason(rows: { reason: string }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { reason } of rows) out[reasonKey(reason)] = (out[reasonKey(reason)] ?? 0) + 1;
  return out;
}

/**
 * Line numbers as ranges, "line 4" or "lines 1-3, 7, 9-12", every line named. `maxRanges` bounds the text for a
 * one-line message: what is past it is counted ("and 412 more lines").
 */
export function lineRanges(lines: number[], maxRanges = Number.POSITIVE_INFINITY): string {
  const sorted = [...new Set(lines)].sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  for (const n of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && n === last[1] + 1) last[1] = n;
    else ranges.push([n, n]);
  }
  const shown = ranges.slice(0, maxRanges);
  const text = shown.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(', ');
  const rest = ranges.slice(shown.length).reduce((n, [a, b]) => n + b - a + 1, 0);
  return `${sorted.length === 1 ? 'line' : 'lines'} ${text}${rest > 0 ? ` and ${rest} more line${rest === 1 ? '' : 's'}` : ''}`;
}

/** Each generic reason with its count and lines, commonest first: "invalid JSON (2 rows: lines 3, 5)". */
export function reasonSummary(rows: { line: number; reason: string }[], maxRangesPerReason?: number): string[] {
  return Object.entries(countByReason(rows))
    .sort((a, b) => b[1] - a[1])
    .map(([key, n]) => {
      const lines = rows.filter((r) => reasonKey(r.reason) === key).map((r) => r.line);
      return `${key} (${n} row${n === 1 ? '' : 's'}: ${lineRanges(lines, maxRangesPerReason)})`;
    });
}

/** Ranges per reason in a DatasetError's one-line message: enough to name every line of any file but a pathological one. */
const MESSAGE_RANGES = 30;

function readDataset<R>(text: string, file: string, what: string, parse: (v: unknown) => { format: string; row: R }): DatasetReport<R> {
  const { rows: values, errors } = parseJsonl(text);
  const report: DatasetReport<R> = { format: '', rows: [], lines: [], kept: 0, rejected: [...errors], rejectedByReason: {} };
  for (const { line, value } of values) {
    try {
      const { format, row } = parse(value);
      if (report.format === '') report.format = format;
      else if (format !== report.format) throw new Refused(`row is ${format} but the file is ${report.format}`);
      report.rows.push(row);
      report.lines.push(line);
    } catch (e) {
      if (!(e instanceof Refused)) throw e;
      report.rejected.push({ line, reason: e.message });
    }
  }
  report.rejected.sort((a, b) => a.line - b.line);
  report.kept = report.rows.length;
  report.rejectedByReason = countByReason(report.rejected);
  if (report.kept > 0) return report;

  if (report.rejected.length === 0)
    throw new DatasetError(file, `no rows: the file is empty (JSON Lines: one ${what} row per line)`, [], {});
  // A pretty-printed JSON array fails on every line; say what the file is, not only that each line is bad.
  const hint = text.trimStart().startsWith('[') ? ' The file looks like a JSON array: JSON Lines needs one JSON object per line.' : '';
  throw new DatasetError(
    file,
    `no valid ${what} rows (${report.rejected.length} rejected): ${reasonSummary(report.rejected, MESSAGE_RANGES).join('; ')}.${hint}`,
    report.rejected,
    report.rejectedByReason,
  );
}

function sftRow(v: unknown): { format: string; row: SftRow } {
  const o = objectRow(v);
  if ('prompt' in o || 'completion' in o) {
    if (!('completion' in o) && 'chosen' in o) throw new Refused('missing field "completion"', 'this looks like a DPO row');
    const kind = sameKind(o, ['prompt', 'completion']);
    if (kind === 'string') {
      const row = { kind: 'prompt-completion', prompt: str(o, 'prompt'), completion: str(o, 'completion') } as const;
      return { format: row.kind, row };
    }
    const prompt = conversationalPrompt(o, 'prompt');
    const row = { kind: 'conversational-prompt-completion', prompt, completion: messages(o, 'completion'), ...templateColumns(o) } as const;
    return { format: row.kind, row };
  }
  if ('messages' in o) {
    if (!Array.isArray(o.messages)) throw new Refused('field "messages" is not a list of messages', `got ${typeName(o.messages)}`);
    const msgs = messages(o, 'messages');
    const last = msgs[msgs.length - 1].role;
    // Without a final assistant turn there is nothing to learn from the conversation.
    if (last !== 'assistant') throw new Refused('conversation does not end with an assistant message', `last role is ${last}`);
    return { format: 'messages', row: { kind: 'messages', messages: msgs, ...templateColumns(o) } };
  }
  if ('text' in o) return { format: 'text', row: { kind: 'text', text: str(o, 'text') } };
  if ('conversations' in o)
    throw new Refused('field "conversations" is not a TRL format', 'rename it to "messages", with "role"/"content" messages');
  throw new Refused('no SFT fields', 'expected "prompt" and "completion", "messages", or "text"');
}

function ktoRow(v: unknown): { format: string; row: KtoRow } {
  const o = objectRow(v);
  if ('chosen' in o || 'rejected' in o)
    throw new Refused('row is a preference pair but the file is unpaired KTO rows', 'give each answer its own row with a "label"');
  for (const f of ['prompt', 'completion', 'label']) {
    if (!(f in o))
      throw new Refused(
        `missing field "${f}"`,
        f === 'label' ? 'true for a desirable answer (thumbs up), false for an undesirable one' : undefined,
      );
  }
  if (typeof o.label !== 'boolean')
    throw new Refused(
      'field "label" is not a boolean',
      `got ${typeName(o.label)}; use true (desirable) or false (undesirable), without quotes`,
    );
  const { row } = sftRow({ prompt: o.prompt, completion: o.completion });
  const kto = { ...(row as Extract<SftRow, { kind: 'prompt-completion' | 'conversational-prompt-completion' }>), label: o.label };
  return { format: kto.kind, row: kto };
}

function dpoRow(v: unknown): { format: string; row: DpoRow } {
  const o = objectRow(v);
  if ('preferred_output' in o || 'non_preferred_output' in o) return openAiRow(o);
  if (!('chosen' in o) && !('rejected' in o)) {
    if ('completion' in o || 'messages' in o || 'text' in o) throw new Refused('missing field "chosen"', 'this looks like an SFT row');
    throw new Refused('no DPO fields', 'expected "chosen" and "rejected", with or without "prompt"');
  }
  const kind = sameKind(o, ['chosen', 'rejected']);
  let explicit = 'prompt' in o;
  // TRL's maybe_extract_prompt ignores a string "prompt" beside conversational chosen/rejected (some datasets carry
  // one while the prompt is also inside both conversations) and extracts the prompt from the conversations instead.
  if (explicit && kind === 'messages' && typeof o.prompt === 'string') explicit = false;
  if (explicit) sameKind(o, ['prompt', 'chosen', 'rejected']);

  if (kind === 'string') {
    const chosen = str(o, 'chosen');
    const rejected = str(o, 'rejected');
    if (chosen === rejected) throw new Refused('chosen and rejected are identical');
    if (explicit) return { format: 'standard', row: { kind: 'standard', prompt: str(o, 'prompt'), chosen, rejected } };
    // Python indexes strings by code point; so must we, or an emoji could be split between its surrogates.
    const c = Array.from(chosen);
    const idx = extractPromptIndex(c, Array.from(rejected), (a, b) => a === b);
    const row = {
      kind: 'standard',
      prompt: c.slice(0, idx).join(''),
      chosen: c.slice(idx).join(''),
      rejected: Array.from(rejected).slice(idx).join(''),
    } as const;
    return { format: 'standard (implicit prompt)', row };
  }
  const chosen = messages(o, 'chosen');
  const rejected = messages(o, 'rejected');
  const rawChosen = o.chosen as unknown[];
  const rawRejected = o.rejected as unknown[];
  if (jsonEqual(rawChosen, rawRejected)) throw new Refused('chosen and rejected are identical');
  if (explicit) {
    const row = { kind: 'conversational', prompt: conversationalPrompt(o, 'prompt'), chosen, rejected, ...templateColumns(o) } as const;
    return { format: 'conversational', row };
  }
  // Python compares the message dicts whole, extra keys included.
  const idx = extractPromptIndex(rawChosen, rawRejected, jsonEqual);
  const prompt = chosen.slice(0, idx);
  checkPromptEnd(prompt, 'the shared prefix of "chosen" and "rejected"');
  return {
    format: 'conversational (implicit prompt)',
    row: { kind: 'conversational', prompt, chosen: chosen.slice(idx), rejected: rejected.slice(idx), ...templateColumns(o) },
  };
}

/** The format's name for OpenAI/Together rows, as a DatasetReport gives it. */
export const OPENAI_FORMAT = 'OpenAI preference';

/**
 * OpenAI's preference fine-tuning row (Together's is the same): `input.messages` (and `input.tools`), and exactly one
 * assistant message in each of `preferred_output` and `non_preferred_output`.
 */
function openAiRow(o: Record<string, unknown>): { format: string; row: DpoRow } {
  if (!('input' in o)) throw new Refused('missing field "input"', 'OpenAI preference rows put the prompt in "input": {"messages": [...]}');
  const input = o.input;
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new Refused('field "input" is not an object', `got ${typeName(input)}; expected {"messages": [...]}`);
  const inner = input as Record<string, unknown>;
  if (!Array.isArray(inner.messages))
    throw new Refused('field "input.messages" is not a list of messages', `got ${typeName(inner.messages)}`);
  const prompt = messages(inner, 'messages', 'input.messages');
  checkPromptEnd(prompt, '"input.messages"');
  const [chosen, rejected] = (['preferred_output', 'non_preferred_output'] as const).map((f) => {
    if (!(f in o)) throw new Refused(`missing field "${f}"`);
    if (!Array.isArray(o[f])) throw new Refused(`field "${f}" is not a list of messages`, `got ${typeName(o[f])}`);
    const out = messages(o, f);
    if (out.length !== 1 || out[0].role !== 'assistant')
      throw new Refused(`field "${f}" is not one assistant message`, `got ${out.length} message(s); the format takes exactly one`);
    return out;
  });
  if (jsonEqual(chosen, rejected)) throw new Refused('chosen and rejected are identical');
  const row = { kind: 'conversational', prompt, chosen, rejected, ...templateColumns(inner) } as const;
  return { format: OPENAI_FORMAT, row };
}

/**
 * Where TRL's `extract_prompt` splits chosen/rejected, quirks included: back off one position when the element before
 * the first difference is a space (so the space stays with the completions), and when one is a prefix of the other,
 * split one before the end of the shorter (Python's loop variable keeps its last value). Refuses a split that leaves
 * no prompt, where TRL would return an empty one (or, through chosen[-1], a nonsense one).
 */
function extractPromptIndex<T>(chosen: T[], rejected: T[], eq: (a: T, b: T) => boolean): number {
  const n = Math.min(chosen.length, rejected.length);
  let idx = n - 1;
  for (let i = 0; i < n; i++) {
    if (!eq(chosen[i], rejected[i])) {
      if (i === 0) throw new Refused('chosen and rejected share no prompt prefix', 'they differ from the first position');
      idx = chosen[i - 1] === ' ' ? i - 1 : i;
      break;
    }
  }
  if (idx <= 0) throw new Refused('chosen and rejected share no prompt prefix', 'the common prefix is too short to be a prompt');
  return idx;
}

function objectRow(v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Refused('row is not a JSON object', `got ${typeName(v)}`);
  return v as Record<string, unknown>;
}

/** The fields must all be present and all strings or all message lists; returns which. */
function sameKind(o: Record<string, unknown>, fields: string[]): 'string' | 'messages' {
  const kinds = fields.map((f) => {
    if (!(f in o)) throw new Refused(`missing field "${f}"`);
    const v = o[f];
    if (typeof v === 'string') return 'string';
    if (Array.isArray(v)) return 'messages';
    throw new Refused(`field "${f}" is not a string or a list of messages`, `got ${typeName(v)}`);
  });
  if (kinds.some((k) => k !== kinds[0])) {
    throw new Refused(
      'fields mix strings and message lists',
      fields.map((f, i) => `"${f}" is ${kinds[i] === 'string' ? 'a string' : 'a list'}`).join(', '),
    );
  }
  return kinds[0];
}

function str(o: Record<string, unknown>, field: string): string {
  const v = o[field];
  if (typeof v !== 'string') throw new Refused(`field "${field}" is not a string`, `got ${typeName(v)}`);
  if (v === '') throw new Refused(`field "${field}" is empty`);
  return v;
}

const ROLES: readonly string[] = ['system', 'user', 'assistant', 'tool'];

/** The `tools` (a list of function schemas) and `chat_template_kwargs` (an object) columns, when present. */
function templateColumns(o: Record<string, unknown>): TemplateColumns {
  const out: TemplateColumns = {};
  // TRL's tokenize_fn json.loads a string `tools` (as many Hub datasets store it) before rendering.
  const tools = typeof o.tools === 'string' ? parseToolsString(o.tools) : o.tools;
  if (tools !== undefined && tools !== null) {
    if (!Array.isArray(tools) || tools.some((t) => typeof t !== 'object' || t === null || Array.isArray(t)))
      throw new Refused('field "tools" is not a list of function schemas', `got ${typeName(tools)}`);
    out.tools = tools;
  }
  const kwargs = o.chat_template_kwargs;
  if (kwargs !== undefined && kwargs !== null) {
    if (typeof kwargs !== 'object' || Array.isArray(kwargs))
      throw new Refused('field "chat_template_kwargs" is not an object', `got ${typeName(kwargs)}`);
    out.templateKwargs = kwargs as Record<string, unknown>;
  }
  return out;
}

function parseToolsString(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Refused(
      'field "tools" is a string that is not JSON',
      `${(e as Error).message}; give the list of function schemas itself, or as a JSON string`,
    );
  }
}

/** `label`: how the field is named in a reason, when it is nested (OpenAI's "input.messages"). */
function messages(o: Record<string, unknown>, field: string, label = field): Message[] {
  const list = o[field] as unknown[];
  if (list.length === 0) throw new Refused(`field "${label}" is an empty list`);
  return list.map((m, i) => {
    const at = `"${label}"[${i}]`;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new Refused('message is not an object', `${at} is ${typeName(m)}`);
    const { role, content, ...rest } = m as Record<string, unknown>;
    if (role === undefined) throw new Refused('message without "role"', at);
    if (typeof role !== 'string') throw new Refused('message "role" is not a string', `${at} has ${typeName(role)}`);
    if (!ROLES.includes(role))
      throw new Refused(
        `message role ${JSON.stringify(role.slice(0, 30))} is not supported`,
        `${at}; roles are system, user, assistant and tool`,
      );
    // An assistant message that calls tools may have no content (OpenAI's format, which templates accept).
    if ((content === undefined || content === null) && role === 'assistant' && Array.isArray(rest.tool_calls))
      return { ...rest, role: role as Role, content: '' };
    if (content === undefined) throw new Refused('message without "content"', at);
    if (typeof content !== 'string') throw new Refused('message "content" is not a string', `${at} has ${typeName(content)}`);
    // Empty content is kept (an empty system prompt is a real case); the template decides what it renders.
    return { ...rest, role: role as Role, content };
  });
}

function conversationalPrompt(o: Record<string, unknown>, field: string): Message[] {
  const prompt = messages(o, field);
  checkPromptEnd(prompt, `"${field}"`);
  return prompt;
}

/**
 * TRL's trainers (f2cd577: SFT, DPO and KTO tokenize_fn) render any prompt with add_generation_prompt=True: the
 * model answers in a new assistant turn after a user turn, a tool's result, or an assistant turn (which is closed,
 * not continued). A prompt ending with a system message has no turn to answer: that is a mistake in the data, and
 * refused rather than trained on.
 */
function checkPromptEnd(prompt: Message[], what: string) {
  if (prompt.length === 0) throw new Refused('prompt is empty', `${what} has no message`);
  const last = prompt[prompt.length - 1].role;
  if (last === 'system') throw new Refused('prompt ends with a system message', `${what} ends with system; end it with the user's turn`);
}

/**
 * A field that must be a list of chat messages, checked as the row readers check one; throws an Error whose message is the reason a row is refused with.
 */
export function readMessageList(o: Record<string, unknown>, field: string): Message[] {
  if (!Array.isArray(o[field])) throw new Refused(`field "${field}" is not a list of messages`, `got ${typeName(o[field])}`);
  return messages(o, field);
}

/** "a string", "a list", "null": how a reason names a JSON value's type. */
export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

/** Python `==` on JSON values: deep, and blind to key order. */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((x, i) => jsonEqual(x, (b as unknown[])[i]));
  const ka = Object.keys(a);
  const rb = b as Record<string, unknown>;
  return ka.length === Object.keys(rb).length && ka.every((k) => k in rb && jsonEqual((a as Record<string, unknown>)[k], rb[k]));
}
