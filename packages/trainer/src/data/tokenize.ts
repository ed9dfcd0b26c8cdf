// Dataset rows -> token sequences, with TRL's semantics for decoder-only models (DESIGN.md, "Tokenisation"):
//
// - The prompt and each completion are tokenised separately, without added special tokens (no BOS, no EOS), and
//   concatenated; the tokenizer's EOS id is appended to every completion (SFT completion, DPO chosen and rejected).
//   This is TRL DPOTrainer.tokenize_row for decoder-only models (`add_special_tokens = is_encoder_decoder`).
// - Conversational rows go through the chat template as TRL's maybe_apply_chat_template does (trl/data_utils.py):
//   the prompt is rendered with add_generation_prompt when it ends with a user message, or with
//   continue_final_message when it ends with an assistant message; a completion's text is the rendering of
//   prompt + completion messages with the prompt's rendering removed from its start. TRL raises when the full
//   rendering does not start with the prompt's; we refuse that row with the reason.
// - SFT `messages` rows (webtune's choice, so the loss covers completion tokens only): the prompt is every message
//   before the last assistant message, rendered with add_generation_prompt; the completion is that last message.
// - SFT `text` rows: empty prompt; completion = the text's tokens + EOS.
//
// Loss and log-probs cover completion tokens only, the appended EOS included. Sequences longer than max_length are
// truncated keeping the start. Rows that cannot be used are dropped with their line and reason, never silently.

import type { DpoRow, Message, SftRow } from './formats.ts';
import { type TextTokenizer, TokenizerError } from './tokenizer.ts';

/** ids = prompt + completion; tokens at index >= completionStart are completion tokens (counted by the loss). */
export interface Sequence {
  ids: number[];
  completionStart: number;
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
  /** The same sequences' lengths before truncation (prompt + completion + EOS), in the same order. */
  fullLengths: number[];
}

/** Generic reasons (the text before ": "), for counting. */
export const PROMPT_FILLS_MAX_LENGTH = 'prompt fills max_length';
export const COMPLETION_EMPTY = 'completion is empty after truncation';
export const TEMPLATE_NOT_PREFIX = 'chat template of prompt + completion does not start with the prompt';
export const TEMPLATE_FAILED = 'chat template failed';

/** Why a row is dropped; thrown inside one row's preparation and caught by the loop. */
class Drop extends Error {}

export function prepareSft(tok: TextTokenizer, rows: SftRow[], lines: number[], maxLength: number): PreparedData<SftExample> {
  checkArgs(rows, lines, maxLength);
  if (rows.some((r) => r.kind === 'messages' || r.kind === 'conversational-prompt-completion')) tok.requireChatTemplate();
  const out = emptyData<SftExample>();
  rows.forEach((row, i) => {
    const line = lines[i];
    try {
      const { prompt, completions } = sftTexts(tok, row);
      const promptIds = prompt === '' ? [] : tok.encode(prompt);
      const [seq] = sequences(tok, promptIds, completions, maxLength, out);
      out.examples.push({ line, seq });
      out.promptLengths.push(seq.completionStart);
      out.lengths.push(seq.ids.length);
    } catch (e) {
      if (!(e instanceof Drop)) throw e;
      out.dropped.push({ line, reason: e.message });
    }
  });
  return out;
}

export function prepareDpo(tok: TextTokenizer, rows: DpoRow[], lines: number[], maxLength: number): PreparedData<DpoExample> {
  checkArgs(rows, lines, maxLength);
  if (rows.some((r) => r.kind === 'conversational')) tok.requireChatTemplate();
  const out = emptyData<DpoExample>();
  rows.forEach((row, i) => {
    const line = lines[i];
    try {
      const { prompt, completions } =
        row.kind === 'standard'
          ? { prompt: row.prompt, completions: [row.chosen, row.rejected] }
          : conversational(tok, row.prompt, [row.chosen, row.rejected], promptEndRule);
      const [chosen, rejected] = sequences(tok, tok.encode(prompt), completions, maxLength, out);
      out.examples.push({ line, chosen, rejected });
      out.promptLengths.push(chosen.completionStart);
      out.lengths.push(chosen.ids.length, rejected.ids.length);
    } catch (e) {
      if (!(e instanceof Drop)) throw e;
      out.dropped.push({ line, reason: e.message });
    }
  });
  return out;
}

function sftTexts(tok: TextTokenizer, row: SftRow): { prompt: string; completions: string[] } {
  switch (row.kind) {
    case 'prompt-completion':
      return { prompt: row.prompt, completions: [row.completion] };
    case 'text':
      return { prompt: '', completions: [row.text] };
    case 'conversational-prompt-completion':
      return conversational(tok, row.prompt, [row.completion], promptEndRule);
    case 'messages': {
      let last = row.messages.length - 1;
      while (last >= 0 && row.messages[last].role !== 'assistant') last--;
      // The reader only keeps conversations that end with an assistant message.
      if (last < 0) throw new Error('a "messages" row without an assistant message reached tokenisation');
      return conversational(tok, row.messages.slice(0, last), [row.messages.slice(last)], () => ({ addGenerationPrompt: true }));
    }
  }
}

type PromptRule = (prompt: Message[]) => { addGenerationPrompt: boolean; continueFinalMessage?: boolean };

/** TRL's apply_chat_template: a prompt ending with a user turn gets the generation prompt, one ending with an
 *  assistant turn is continued. (The dataset readers refuse explicit prompts ending otherwise.) */
const promptEndRule: PromptRule = (prompt) =>
  prompt[prompt.length - 1]?.role === 'assistant'
    ? { addGenerationPrompt: false, continueFinalMessage: true }
    : { addGenerationPrompt: true };

/** TRL's maybe_apply_chat_template for a prompt and its completions: texts of the prompt and of each completion. */
function conversational(tok: TextTokenizer, prompt: Message[], completions: Message[][], rule: PromptRule) {
  const render = (messages: Message[], options: { addGenerationPrompt: boolean; continueFinalMessage?: boolean }) => {
    try {
      return tok.applyChatTemplate(messages, options);
    } catch (e) {
      if (e instanceof TokenizerError) throw e;
      throw new Drop(`${TEMPLATE_FAILED}: ${(e as Error).message}`);
    }
  };
  const promptText = render(prompt, rule(prompt));
  return {
    prompt: promptText,
    completions: completions.map((c) => {
      const full = render([...prompt, ...c], { addGenerationPrompt: false });
      if (!full.startsWith(promptText))
        throw new Drop(
          `${TEMPLATE_NOT_PREFIX}: the prompt renders as ${preview(promptText)} but prompt + completion as ${preview(full)}; TRL cannot split this template either`,
        );
      return full.slice(promptText.length);
    }),
  };
}

/** prompt + (completion + EOS) for each completion, truncated to maxLength keeping the start. */
function sequences(
  tok: TextTokenizer,
  promptIds: number[],
  completions: string[],
  maxLength: number,
  out: PreparedData<unknown>,
): Sequence[] {
  const P = promptIds.length;
  if (P >= maxLength)
    throw new Drop(
      `${PROMPT_FILLS_MAX_LENGTH}: the prompt is ${P} tokens and max_length is ${maxLength}, so no completion token would remain`,
    );
  let truncated = false;
  const full: number[] = [];
  const seqs = completions.map((text) => {
    let ids = [...promptIds, ...tok.encode(text), tok.eosTokenId];
    full.push(ids.length);
    if (ids.length > maxLength) {
      ids = ids.slice(0, maxLength);
      truncated = true;
    }
    // A target exists for each completion token after the first position (nothing predicts token 0).
    if (ids.length - Math.max(P, 1) <= 0)
      throw new Drop(`${COMPLETION_EMPTY}: max_length ${maxLength} leaves no completion token to learn from`);
    for (const id of ids)
      if (!Number.isInteger(id) || id < 0 || id >= tok.size) throw new Error(`token id ${id} is outside the tokenizer's ${tok.size} ids`);
    return { ids, completionStart: P };
  });
  if (truncated) out.truncated++;
  out.fullLengths.push(...full);
  return seqs;
}

function checkArgs(rows: unknown[], lines: number[], maxLength: number) {
  if (rows.length !== lines.length) throw new Error(`${rows.length} rows but ${lines.length} line numbers`);
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new Error(`max_length must be a positive integer, got ${maxLength}`);
}

function emptyData<E>(): PreparedData<E> {
  return { examples: [], truncated: 0, dropped: [], promptLengths: [], lengths: [], fullLengths: [] };
}

const preview = (s: string) => JSON.stringify(s.length > 120 ? `${s.slice(0, 60)}…${s.slice(-60)}` : s);
