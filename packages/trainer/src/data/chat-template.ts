// Chat templates rendered as transformers' apply_chat_template renders them (render_jinja_template in
// transformers/utils/chat_template_utils.py): jinja2 with trim_blocks and lstrip_blocks, and the context
// messages, tools, documents, add_generation_prompt, the tokenizer's special tokens (bos_token, eos_token, ...) and
// the caller's chat_template_kwargs. raise_exception and strftime_now are the engine's globals.
//
// The engine is @huggingface/jinja, patched where it differs from Python (patches/@huggingface__jinja@*.patch):
// str.strip/lstrip/rstrip/split and the trim filter strip Python's whitespace (JavaScript's trim() also drops U+FEFF,
// and lstrip('\n') ignored its argument), strftime_now writes C-locale names (not the browser's language) and more
// of Python's codes, and raise_exception throws an error named TemplateRaisedError so it can be told from an
// engine failure, booleans print as True/False, and == / != / `in` / `is eq` compare as Python does (no coercion
// between strings, numbers and none: Aya's `system_message != false` with an empty system message; lists and dicts
// by content). chat-template.test.ts and robustness.test.ts prove each against jinja2's output.
//
// {% generation %}...{% endgeneration %} (transformers' AssistantTracker extension, which TRL's assistant_only_loss
// reads) is not Jinja the engine knows: renderWithGenerationSpans rewrites each tag into an if-block of the same
// whitespace control that prints a marker character, renders, and takes the markers out again as character spans.
import { Template } from '@huggingface/jinja';
import type { Message } from './formats.ts';
import { TokenizerError } from './tokenizer.ts';

/** Per-row template inputs a dataset may carry (TRL passes both to apply_chat_template). */
export interface ChatExtras {
  /** The row's `tools` column: JSON schemas of the functions the model may call. */
  tools?: unknown[] | null;
  /** The row's `chat_template_kwargs` column, e.g. {"enable_thinking": false}. */
  templateKwargs?: Record<string, unknown>;
}

/** A template that raised (raise_exception) or failed on these messages; the row is refused with this message. */
export class ChatTemplateError extends Error {
  override name = 'ChatTemplateError';
  constructor(
    readonly raised: boolean,
    message: string,
  ) {
    super(message);
  }
}

const parsed = new Map<string, Template>();

/** The template parsed (once per text); a TokenizerError naming `file` when its Jinja cannot be read. */
export function compileChatTemplate(template: string, file: string): Template {
  let t = parsed.get(template);
  if (t === undefined) {
    try {
      t = new Template(withoutGenerationTags(template));
    } catch (e) {
      throw new TokenizerError(
        file,
        `the chat template cannot be read (the Jinja parser says: ${(e as Error).message}); this template syntax is not supported, so conversational rows cannot be rendered; give prompt and completion as plain strings, or use a template without it`,
      );
    }
    parsed.set(template, t);
  }
  return t;
}

export type RenderInput = { messages: Message[]; addGenerationPrompt: boolean; specialTokens: Record<string, unknown> } & ChatExtras;

export function renderChatTemplate(template: string, file: string, input: RenderInput): string {
  const t = compileChatTemplate(template, file);
  const context: Record<string, unknown> = {
    ...input.specialTokens,
    ...input.templateKwargs,
    messages: input.messages,
    tools: input.tools ?? null,
    documents: null,
    add_generation_prompt: input.addGenerationPrompt,
  };
  try {
    return t.render(context);
  } catch (e) {
    const err = e as Error;
    if (err?.name === 'TemplateRaisedError') throw new ChatTemplateError(true, `the chat template raised: ${err.message}`);
    throw new ChatTemplateError(false, `${file}: the chat template cannot render these messages (${err?.message ?? String(e)})`);
  }
}

/** TRL's has_generation_markers: the template marks assistant output with {% generation %}. */
export const hasGenerationMarkers = (template: string): boolean => /\{%-?\s*generation\s*-?%\}/.test(template);

// Noncharacters (never in interchange text) stand for the tags while rendering.
const OPEN = '\uFDD0';
const CLOSE = '\uFDD1';
const GENERATION_TAG = /\{%(-?)\s*(end)?generation\s*(-?)%\}/g;

/** The tags as if-blocks that print OPEN or CLOSE (marks: true) or nothing; `{%- x -%}` flags kept on the outside. */
const rewriteGenerationTags = (template: string, marks: boolean) =>
  template.replace(GENERATION_TAG, (_, left: string, end: string | undefined, right: string) =>
    marks ? `{%${left} if true %}{{ '${end ? CLOSE : OPEN}' }}{% endif ${right}%}` : `{%${left} if true %}{% endif ${right}%}`,
  );
const withoutGenerationTags = (template: string) => (hasGenerationMarkers(template) ? rewriteGenerationTags(template, false) : template);

/**
 * The template rendered as renderChatTemplate does, with the [start, end) character spans (UTF-16 indices) of the
 * output of each {% generation %} block, as transformers' _render_with_assistant_indices records them.
 */
export function renderWithGenerationSpans(template: string, file: string, input: RenderInput): { text: string; spans: [number, number][] } {
  const inputs = JSON.stringify([input.messages, input.tools ?? null, input.templateKwargs ?? null]);
  if (inputs.includes(OPEN) || inputs.includes(CLOSE))
    throw new ChatTemplateError(false, 'the messages hold U+FDD0 or U+FDD1, characters that are not text; remove them');
  const marked = renderChatTemplate(rewriteGenerationTags(template, true), file, input);
  const spans: [number, number][] = [];
  let text = '';
  let open: number | null = null;
  for (const ch of marked) {
    if (ch === OPEN) open = text.length;
    else if (ch === CLOSE && open !== null) {
      spans.push([open, text.length]);
      open = null;
    } else if (ch !== CLOSE) text += ch;
  }
  return { text, spans };
}
