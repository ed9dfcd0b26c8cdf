// Chat templates rendered as transformers' apply_chat_template renders them (render_jinja_template in
// transformers/utils/chat_template_utils.py): jinja2 with trim_blocks and lstrip_blocks, and the context
// messages, tools, documents, add_generation_prompt, the tokenizer's special tokens (bos_token, eos_token, ...) and
// the caller's chat_template_kwargs. raise_exception and strftime_now are the engine's globals.
//
// The engine is @huggingface/jinja, patched where it differs from Python (patches/@huggingface__jinja@*.patch):
// str.strip/lstrip/rstrip/split and the trim filter strip Python's whitespace (JavaScript's trim() also drops U+FEFF,
// and lstrip('\n') ignored its argument), strftime_now writes C-locale names (not the browser's language) and more
// of Python's codes, and raise_exception throws an error named TemplateRaisedError so it can be told from an
// engine failure, and booleans print as True/False. chat-template.test.ts proves each against jinja2's output.
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
      t = new Template(template);
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

export function renderChatTemplate(
  template: string,
  file: string,
  input: { messages: Message[]; addGenerationPrompt: boolean; specialTokens: Record<string, unknown> } & ChatExtras,
): string {
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
