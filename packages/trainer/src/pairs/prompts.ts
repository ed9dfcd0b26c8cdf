// The prompts candidates are generated for: a JSONL file of {"prompt": text or messages} rows, of SFT rows (the
// answer each row already has is kept as its reference), or plain text, one prompt per line. A file is JSONL when its
// first non-blank line starts with "{". Every prompt in a file is text, or every one a conversation: pairs made from
// them go to one DPO file, whose rows must all be one format.
import { type Message, readMessageList, typeName } from '../data/formats.ts';
import { parseJsonl } from '../data/jsonl.ts';
import { at, PairsError } from './errors.ts';

export type Prompt = string | Message[];

export interface PromptRow {
  /** The source line (1-based). */
  line: number;
  prompt: Prompt;
  /** The answer an SFT row already gave (its completion or final assistant turn), when it had one. */
  reference?: string;
}

/** `chat`: render plain-text prompts as one user message each (the model's chat template applies). */
export function readPromptsFile(text: string, file: string, options: { chat?: boolean } = {}): PromptRow[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const first = body.split('\n').find((l) => l.trim() !== '');
  if (first === undefined) throw new PairsError(`${at(file)}no prompts: the file is empty`);
  const rows = first.trimStart().startsWith('{') ? jsonlPrompts(body, file) : plainPrompts(body);
  const asChat = (r: PromptRow): PromptRow =>
    options.chat && typeof r.prompt === 'string' ? { ...r, prompt: [{ role: 'user', content: r.prompt }] } : r;
  const out = rows.map(asChat);
  const mixed = out.find((r) => typeof r.prompt !== typeof out[0].prompt);
  if (mixed)
    throw new PairsError(
      `${at(file, mixed.line)}this prompt is ${typeof mixed.prompt === 'string' ? 'text' : 'a conversation'} but line ${out[0].line}'s is ${typeof out[0].prompt === 'string' ? 'text' : 'a conversation'}: ` +
        'every prompt of a file must be one or the other (pairs made from them form one DPO file)',
    );
  return out;
}

function plainPrompts(body: string): PromptRow[] {
  return body.split('\n').flatMap((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    return line.trim() === '' ? [] : [{ line: i + 1, prompt: line }];
  });
}

function jsonlPrompts(body: string, file: string): PromptRow[] {
  const { rows, errors } = parseJsonl(body);
  const bad = [...errors];
  const out: PromptRow[] = [];
  for (const { line, value } of rows) {
    try {
      out.push({ line, ...promptOf(value) });
    } catch (e) {
      if (!(e instanceof Error) || e instanceof PairsError) throw e;
      bad.push({ line, reason: e.message });
    }
  }
  if (bad.length > 0) {
    bad.sort((a, b) => a.line - b.line);
    const more =
      bad.length > 1 ? ` (and ${bad.length - 1} more line${bad.length === 2 ? '' : 's'}: ${bad.map((b) => b.line).join(', ')})` : '';
    throw new PairsError(
      `${at(file, bad[0].line)}${bad[0].reason}${more}. Each line must be {"prompt": "<text>"}, {"prompt": [messages]}, or an SFT row`,
    );
  }
  return out;
}

function promptOf(value: unknown): Omit<PromptRow, 'line'> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`row is not a JSON object: got ${typeName(value)}`);
  const o = value as Record<string, unknown>;
  const reference = typeof o.completion === 'string' ? o.completion : undefined;
  if ('prompt' in o) {
    if (typeof o.prompt === 'string') {
      if (o.prompt.trim() === '') throw new Error('field "prompt" is empty');
      return { prompt: o.prompt, ...(reference !== undefined && { reference }) };
    }
    const prompt = readMessageList(o, 'prompt');
    const completion = Array.isArray(o.completion) ? readMessageList(o, 'completion') : [];
    return endsForGeneration(prompt, completion.length > 0 ? completion.map((m) => m.content).join('\n') : reference);
  }
  if ('messages' in o) {
    const messages = readMessageList(o, 'messages');
    const last = messages[messages.length - 1];
    if (last.role === 'assistant' && messages.length > 1) return endsForGeneration(messages.slice(0, -1), last.content);
    return endsForGeneration(messages, undefined);
  }
  throw new Error('no prompt: expected a "prompt" or "messages" field');
}

/** A conversational prompt must end with the user's turn: the model writes the next one. */
function endsForGeneration(prompt: Message[], reference: string | undefined): Omit<PromptRow, 'line'> {
  const last = prompt[prompt.length - 1].role;
  if (last !== 'user') throw new Error(`the conversation must end with a user message for the model to answer (it ends with ${last})`);
  return { prompt, ...(reference !== undefined && { reference }) };
}
