// Dataset rows -> token sequences, as TRL >= 0.29 tokenises for decoder-only models (DESIGN.md, "Tokenisation"):
//
// - Standard rows: the prompt alone and prompt + completion (SFT) or prompt + chosen / prompt + rejected (DPO) are
//   each tokenised as one string with the tokenizer's own special tokens (`tokenizer(text)`: BOS where the
//   tokenizer adds one), the EOS token appended as text to a completion that does not already end with it
//   (TRL's add_eos). The completion is what follows the prompt's tokens.
// - Conversational rows go through the chat template with the row's `tools` and `chat_template_kwargs`: the prompt
//   with add_generation_prompt (whatever its last turn: TRL's trainers never continue one), the whole conversation without; both are
//   tokenised without added special tokens (the template writes them), as apply_chat_template(tokenize=True) does.
// - A prompt whose tokens are not a prefix of the whole (a merge across the boundary, or a template that renders
//   the prompt differently) is where TRL warns and masks by length anyway; webtune refuses the row with the reason,
//   so no row is trained with a mask in the wrong place.
// - SFT `messages` rows: with assistantOnlyLoss (webtune's default) the loss covers every assistant turn. As TRL
//   does, from the {% generation %} blocks of the template (the model's own, or TRL's training copy of a template it
//   knows: trl-templates.ts), which then renders every conversational row of the run; where TRL has neither it
//   refuses assistant_only_loss, and webtune finds each turn by rendering the conversation up to it (with the
//   generation prompt) and through it. Without assistantOnlyLoss, the whole sequence, as TRL's default. SFT `text`
//   rows: the whole text + EOS. completionOnlyLoss false puts prompt-completion rows' prompt under the loss too.
//
// Sequences longer than max_length are truncated keeping the start. Rows that cannot be used are dropped with their
// line and reason, never silently. The building blocks (standardSequence, conversationalSequence) are exported for
// the other objectives' rows.

import { ChatTemplateError } from './chat-template.ts';
import type { DpoRow, Message, SftRow, TemplateColumns } from './formats.ts';
import { type TextTokenizer, TokenOutsideModelError } from './tokenizer.ts';

/** ids = prompt + completion; the loss counts the tokens in `lossSpans` ([start, end) token ranges), which are
 *  [[completionStart, ids.length]] unless given (several assistant turns). */
export interface Sequence {
  ids: number[];
  completionStart: number;
  lossSpans?: [number, number][];
  /**
   * The completion's ids before max_length cut them, where it did: KTO's KL rows pair this completion with another
   * row's prompt, and TRL truncates that pairing only as a whole (kto_trainer.py's collator), so a shorter prompt
   * keeps more of it.
   */
  fullCompletion?: number[];
}
export interface SftExample {
  line: number;
  seq: Sequence;
}
export interface DpoExample {
  line: number;
  chosen: Sequence;
  rejected: Sequence;
}
export interface PreparedData<E> {
  examples: E[];
  /** Kept rows with at least one sequence cut to max_length. */
  truncated: number;
  /** Every row not kept, in line order; `reason` is "<generic reason>: <detail>" as in the dataset readers. */
  dropped: { line: number; reason: string }[];
  /** Prompt token count of each kept row (one per example). */
  promptLengths: number[];
  /** Token length, after truncation, of each kept sequence: one per SFT example, two per DPO pair (chosen, rejected). */
  lengths: number[];
  /** The same sequences' lengths before truncation, in the same order. */
  fullLengths: number[];
}

export interface LossOptions {
  /** prompt-completion rows: loss on the completion only (TRL's completion_only_loss; default true). */
  completionOnlyLoss?: boolean;
  /** messages rows: loss on assistant turns only (TRL's assistant_only_loss; webtune's default true). */
  assistantOnlyLoss?: boolean;
  /** Keep a cut completion whole beside the cut row (Sequence.fullCompletion): KTO's KL rows need it. */
  keepFullCompletion?: boolean;
}

/** Generic reasons (the text before ": "), for counting. */
export const PROMPT_FILLS_MAX_LENGTH = 'prompt fills max_length';
export const COMPLETION_EMPTY = 'completion is empty after truncation';
export const PROMPT_NOT_PREFIX = 'prompt tokens are not a prefix of prompt + completion';
export const TEMPLATE_RAISED = 'chat template raised an error';
export const TEMPLATE_FAILED = 'chat template failed';
export const TOKEN_OUTSIDE_MODEL = 'token without an embedding row';

/** Why a row is refused; thrown inside one row's preparation and caught by the loop (and by other objectives'). */
export class RowRefused extends Error {}

/** The [start, end) token ranges the loss counts. */
export const lossSpans = (seq: Sequence): [number, number][] => seq.lossSpans ?? [[seq.completionStart, seq.ids.length]];

/** Tokens the loss counts: loss tokens a row predicts (the first token of a sequence has no predictor). */
export const lossTokenCount = (seq: Sequence): number =>
  lossSpans(seq).reduce((n, [a, b]) => n + Math.max(0, Math.min(b, seq.ids.length) - Math.max(a, 1)), 0);

export function prepareSft(
  tok: TextTokenizer,
  rows: SftRow[],
  lines: number[],
  maxLength: number,
  options: LossOptions = {},
): PreparedData<SftExample> {
  checkArgs(rows, lines, maxLength);
  if (rows.some((r) => r.kind === 'messages' || r.kind === 'conversational-prompt-completion')) tok.requireChatTemplate();
  return prepare(rows, lines, (row, out) => {
    const seq = truncate(sftSequence(tok, row, options), maxLength, tok.size, out, options.keepFullCompletion);
    return { example: (line) => ({ line, seq }), seqs: [seq] };
  });
}

export function prepareDpo(tok: TextTokenizer, rows: DpoRow[], lines: number[], maxLength: number): PreparedData<DpoExample> {
  checkArgs(rows, lines, maxLength);
  if (rows.some((r) => r.kind === 'conversational')) tok.requireChatTemplate();
  return prepare(rows, lines, (row, out) => {
    const [chosen, rejected] = [row.chosen, row.rejected].map((c) =>
      truncate(
        row.kind === 'standard'
          ? standardSequence(tok, row.prompt, c as string)
          : conversationalSequence(tok, row.prompt, c as Message[], row),
        maxLength,
        tok.size,
        out,
      ),
    );
    return { example: (line) => ({ line, chosen, rejected }), seqs: [chosen, rejected] };
  });
}

function sftSequence(tok: TextTokenizer, row: SftRow, options: LossOptions): Sequence {
  const completionOnly = options.completionOnlyLoss ?? true;
  switch (row.kind) {
    case 'prompt-completion': {
      const seq = standardSequence(tok, row.prompt, row.completion, completionOnly);
      return completionOnly ? seq : { ids: seq.ids, completionStart: 0 };
    }
    case 'conversational-prompt-completion': {
      const marked = (options.assistantOnlyLoss ?? true) ? tok.assistantMaskTemplate() : null;
      if (marked !== null) return assistantCompletion(tok, marked, row.prompt, row.completion, row, completionOnly);
      const seq = conversationalSequence(tok, row.prompt, row.completion, row, completionOnly);
      return completionOnly ? seq : { ids: seq.ids, completionStart: 0 };
    }
    case 'text':
      return { ids: tok.encode(withEos(tok, row.text), { addSpecialTokens: true }), completionStart: 0 };
    case 'messages': {
      if (!(options.assistantOnlyLoss ?? true))
        return { ids: tok.encode(render(tok, row.messages, { addGenerationPrompt: false }, row)), completionStart: 0 };
      const marked = tok.assistantMaskTemplate();
      if (marked === null) return assistantTurns(tok, row.messages, row);
      const { ids, spans } = generationTokens(tok, marked, row.messages, row);
      if (spans.length === 0) throw new RowRefused(`${COMPLETION_EMPTY}: the assistant turns render as no tokens`);
      return { ids, completionStart: spans[0][0], lossSpans: spans };
    }
  }
}

/** A standard row: `tokenizer(prompt)` and `tokenizer(prompt + completion + EOS)`, the second starting with the first. */
export function standardSequence(tok: TextTokenizer, prompt: string, completion: string, checkPrefix = true): Sequence {
  const promptIds = tok.encode(prompt, { addSpecialTokens: true });
  const ids = tok.encode(prompt + withEos(tok, completion), { addSpecialTokens: true });
  if (checkPrefix) requirePrefix(tok, promptIds, ids);
  return { ids, completionStart: promptIds.length };
}

/** A conversational row: the prompt rendered for generation, prompt + completion rendered whole. */
export function conversationalSequence(
  tok: TextTokenizer,
  prompt: Message[],
  completion: Message[],
  columns: TemplateColumns,
  checkPrefix = true,
): Sequence {
  // TRL f2cd577 (sft/dpo/kto tokenize_fn): add_generation_prompt=True for every prompt, one ending with an assistant
  // turn included (the completion is a new turn; data_utils' continue_final_message is not used by the trainers).
  const promptIds = tok.encode(render(tok, prompt, { addGenerationPrompt: true }, columns));
  const ids = tok.encode(render(tok, [...prompt, ...completion], { addGenerationPrompt: false }, columns));
  if (checkPrefix) requirePrefix(tok, promptIds, ids);
  return { ids, completionStart: promptIds.length };
}

/**
 * A conversational prompt-completion row under assistant_only_loss, as TRL's SFTTrainer does it: both renderings
 * with the {% generation %} template `marked`, and the loss on completion tokens that are also assistant tokens
 * (build_labels: every applicable mask must hold), or on the assistant tokens alone without completion_only_loss.
 */
function assistantCompletion(
  tok: TextTokenizer,
  marked: string,
  prompt: Message[],
  completion: Message[],
  columns: TemplateColumns,
  completionOnly: boolean,
): Sequence {
  const promptIds = tok.encode(render(tok, prompt, { addGenerationPrompt: true, template: marked }, columns));
  const { ids, spans } = generationTokens(tok, marked, [...prompt, ...completion], columns);
  if (completionOnly) requirePrefix(tok, promptIds, ids);
  const P = promptIds.length;
  const loss = completionOnly ? spans.map(([a, b]): [number, number] => [Math.max(a, P), b]).filter(([a, b]) => b > a) : spans;
  if (loss.length === 0) throw new RowRefused(`${COMPLETION_EMPTY}: the completion renders as no assistant tokens`);
  return { ids, completionStart: completionOnly ? P : loss[0][0], lossSpans: loss };
}

/**
 * TRL's assistant_masks (transformers' apply_chat_template with return_assistant_tokens_mask): the conversation
 * rendered with `marked`, and for each {% generation %} block the tokens from the one holding its first character
 * to the one holding its last (char_to_token), merged into [start, end) spans.
 */
function generationTokens(
  tok: TextTokenizer,
  marked: string,
  messages: Message[],
  columns: TemplateColumns,
): { ids: number[]; spans: [number, number][] } {
  let rendered: { text: string; spans: [number, number][] };
  try {
    rendered = tok.renderGenerationSpans(marked, messages, {
      addGenerationPrompt: false,
      tools: columns.tools,
      templateKwargs: columns.templateKwargs,
    });
  } catch (e) {
    if (!(e instanceof ChatTemplateError)) throw e;
    throw new RowRefused(`${e.raised ? TEMPLATE_RAISED : TEMPLATE_FAILED}: ${e.message}`);
  }
  const { text } = rendered;
  const ids = tok.encode(text);
  const spans: [number, number][] = [];
  for (const [start, end] of rendered.spans) {
    if (end <= start) continue;
    const a = tokenHolding(tok, text, ids, start);
    const b = tokenHolding(tok, text, ids, end - 1) + 1;
    const last = spans[spans.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else spans.push([a, b]);
  }
  return { ids, spans };
}

/**
 * Index of the token of `ids` (the tokens of `text`) holding the character at `at`: the tokens of the text before
 * it agree with `ids` up to that token, which starts at `at` or spans it. (No offsets come out of the tokenizer
 * library; the goldens check this against Hugging Face tokenizers' own char_to_token.)
 */
function tokenHolding(tok: TextTokenizer, text: string, ids: number[], at: number): number {
  const low = text.charCodeAt(at);
  const c = low >= 0xdc00 && low <= 0xdfff && at > 0 ? at - 1 : at; // never cut a surrogate pair
  const before = tok.encode(text.slice(0, c));
  let k = 0;
  while (k < before.length && before[k] === ids[k]) k++;
  return Math.min(k, ids.length - 1);
}

/** Every assistant turn of a conversation as a loss span: from the end of the rendering up to it (with the generation
 *  prompt) to the end of the rendering through it. */
function assistantTurns(tok: TextTokenizer, messages: Message[], columns: TemplateColumns): Sequence {
  const ids = tok.encode(render(tok, messages, { addGenerationPrompt: false }, columns));
  const spans: [number, number][] = [];
  messages.forEach((m, i) => {
    if (m.role !== 'assistant') return;
    const before = tok.encode(render(tok, messages.slice(0, i), { addGenerationPrompt: true }, columns));
    const through =
      i === messages.length - 1 ? ids : tok.encode(render(tok, messages.slice(0, i + 1), { addGenerationPrompt: false }, columns));
    for (const [part, what] of [
      [before, `the conversation up to assistant message ${i + 1}`],
      [through, `the conversation through assistant message ${i + 1}`],
    ] as const)
      if (!isPrefix(part, ids))
        throw new RowRefused(
          `${PROMPT_NOT_PREFIX}: ${what} renders as ${preview(tok.decode(part))}, which does not start the whole conversation ${preview(tok.decode(ids))}, so that turn cannot be found for assistant_only_loss (the template renders earlier turns differently once later ones follow, as Qwen3's drops their <think> blocks; TRL refuses assistant_only_loss for a template without {% generation %} markers that it has no training copy of); train this dataset with --assistant-only-loss false (loss on the whole conversation), or use a template with {% generation %} markers`,
        );
    if (through.length > before.length) spans.push([before.length, through.length]);
  });
  if (spans.length === 0) throw new RowRefused(`${COMPLETION_EMPTY}: the assistant turns render as no tokens`);
  return { ids, completionStart: spans[0][0], lossSpans: spans };
}

function render(
  tok: TextTokenizer,
  messages: Message[],
  options: { addGenerationPrompt: boolean; template?: string },
  columns: TemplateColumns,
): string {
  try {
    return tok.applyChatTemplate(messages, { ...options, tools: columns.tools, templateKwargs: columns.templateKwargs });
  } catch (e) {
    if (!(e instanceof ChatTemplateError)) throw e;
    throw new RowRefused(`${e.raised ? TEMPLATE_RAISED : TEMPLATE_FAILED}: ${e.message}`);
  }
}

const withEos = (tok: TextTokenizer, text: string) => (text.endsWith(tok.eosToken) ? text : text + tok.eosToken);

const isPrefix = (a: number[], b: number[]) => a.length <= b.length && a.every((id, i) => id === b[i]);

function requirePrefix(tok: TextTokenizer, promptIds: number[], ids: number[]) {
  if (isPrefix(promptIds, ids)) return;
  let i = 0;
  while (promptIds[i] === ids[i]) i++;
  throw new RowRefused(
    `${PROMPT_NOT_PREFIX}: they differ at token ${i}, where the prompt ends ${preview(tok.decode(promptIds.slice(i)))} but prompt + completion goes on ${preview(tok.decode(ids.slice(i, i + 8)))} (a token spans the boundary: the end of the prompt merges with the start of the completion); move the boundary, e.g. begin the completion with the space that ends the prompt`,
  );
}

/** `seq` cut to maxLength keeping the start; refused when no loss token remains. */
function truncate(
  seq: Sequence,
  maxLength: number,
  size: number,
  out: PreparedData<unknown> & { rowTruncated?: boolean },
  keepFullCompletion = false,
): Sequence {
  const P = seq.completionStart;
  if (P >= maxLength && P > 0)
    throw new RowRefused(
      `${PROMPT_FILLS_MAX_LENGTH}: the prompt is ${P} tokens and max_length is ${maxLength}, so no completion token would remain`,
    );
  out.fullLengths.push(seq.ids.length);
  let cut = seq;
  if (seq.ids.length > maxLength) {
    out.rowTruncated = true;
    const spans = seq.lossSpans?.map(([a, b]): [number, number] => [a, Math.min(b, maxLength)]).filter(([a, b]) => b > a);
    cut = {
      ids: seq.ids.slice(0, maxLength),
      completionStart: P,
      ...(spans ? { lossSpans: spans } : {}),
      ...(keepFullCompletion ? { fullCompletion: seq.ids.slice(P) } : {}),
    };
  }
  for (const id of cut.ids)
    if (!Number.isInteger(id) || id < 0 || id >= size) throw new Error(`token id ${id} is outside the tokenizer's ${size} ids`);
  if (lossTokenCount(cut) === 0)
    throw new RowRefused(`${COMPLETION_EMPTY}: max_length ${maxLength} leaves no completion token to learn from`);
  return cut;
}

/** The loop over rows shared by every objective: a refused row is recorded with its line, the others kept. */
function prepare<R, E>(
  rows: R[],
  lines: number[],
  one: (row: R, out: PreparedData<E> & { rowTruncated?: boolean }) => { example: (line: number) => E; seqs: Sequence[] },
): PreparedData<E> {
  const out: PreparedData<E> & { rowTruncated?: boolean } = {
    examples: [],
    truncated: 0,
    dropped: [],
    promptLengths: [],
    lengths: [],
    fullLengths: [],
  };
  rows.forEach((row, i) => {
    const line = lines[i];
    const fullBefore = out.fullLengths.length;
    out.rowTruncated = false;
    try {
      const { example, seqs } = one(row, out);
      out.examples.push(example(line));
      out.promptLengths.push(seqs[0].completionStart);
      out.lengths.push(...seqs.map((s) => s.ids.length));
      if (out.rowTruncated) out.truncated++;
    } catch (err) {
      const e = err instanceof TokenOutsideModelError ? new RowRefused(`${TOKEN_OUTSIDE_MODEL}: ${err.message}`) : err;
      if (!(e instanceof RowRefused)) throw e;
      out.fullLengths.length = fullBefore;
      out.dropped.push({ line, reason: e.message });
    }
  });
  delete out.rowTruncated;
  return out;
}

function checkArgs(rows: unknown[], lines: number[], maxLength: number) {
  if (rows.length !== lines.length) throw new Error(`${rows.length} rows but ${lines.length} line numbers`);
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new Error(`max_length must be a positive integer, got ${maxLength}`);
}

const preview = (s: string) => JSON.stringify(s.length > 120 ? `${s.slice(0, 60)}…${s.slice(-60)}` : s);
