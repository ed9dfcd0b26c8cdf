// Real tokenizers and chat templates (Qwen2.5 Instruct, Qwen3, Gemma 3 it, Llama 3.1 and 3.2 Instruct, Mistral Nemo
// Instruct, Mistral 7B Instruct v0.2) against goldens made without any of this code: test/tokenizers/make_goldens.py
// renders with Python's jinja2 as transformers does and takes ids (and char_to_token, for TRL's assistant masks) from
// Hugging Face tokenizers itself. Each row goes through the dataset reader and prepareSft, as a user's file would,
// with webtune's defaults (assistant_only_loss, completion_only_loss) and, for messages rows, without
// assistant_only_loss. The tokenizer files are devDependencies (test/tokenizers/README.md: where each comes from).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Message, readSftDataset } from './formats.ts';
import { lossSpans, prepareSft } from './tokenize.ts';
import { TextTokenizer } from './tokenizer.ts';

interface Row {
  name: string;
  prompt?: string | Message[];
  completion?: string | Message[];
  messages?: Message[];
  tools?: unknown[];
  chat_template_kwargs?: Record<string, unknown>;
}
interface Case {
  row: Row;
  text?: string;
  ids?: number[];
  completion_start?: number;
  loss_spans?: [number, number][];
  refused?: string;
  raised?: string;
  full_text?: string;
  full_ids?: number[];
}
const here = (p: string) => new URL(`../../test/tokenizers/${p}`, import.meta.url);
const goldens = JSON.parse(readFileSync(here('goldens.json'), 'utf8')) as {
  now: string;
  tokenizers: { name: string; package: string; template: string | null; cases: Case[] }[];
};
const readJson = (p: string) => JSON.parse(readFileSync(new URL(`../../node_modules/${p}`, import.meta.url), 'utf8'));

// The goldens pin strftime_now's clock (Llama 3.2 writes today's date).
beforeAll(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date(goldens.now));
});
afterAll(() => vi.useRealTimers());

describe.each(goldens.tokenizers)('$name', ({ package: pkg, template, cases }) => {
  const config = readJson(`${pkg}/models/tokenizer_config.json`);
  if (template) config.chat_template = readFileSync(here(template), 'utf8');
  const tok = TextTokenizer.fromJson(readJson(`${pkg}/models/tokenizer.json`), config, pkg);

  it.each(cases.map((c) => [c.row.name, c] as const))('%s', (_, c) => {
    const { name: _name, ...row } = c.row;
    const report = readSftDataset(JSON.stringify(row), 'goldens.jsonl');
    const r = prepareSft(tok, report.rows, report.lines, 100_000);
    if (c.ids !== undefined) {
      expect(r.dropped).toEqual([]);
      const seq = r.examples[0].seq;
      expect(seq.ids).toEqual(c.ids);
      expect(seq.completionStart).toBe(c.completion_start);
      expect(lossSpans(seq)).toEqual(c.loss_spans ?? [[c.completion_start, c.ids.length]]);
    } else if (c.raised !== undefined) {
      expect(r.dropped).toEqual([{ line: 1, reason: `chat template raised an error: the chat template raised: ${c.raised}` }]);
    } else {
      expect(r.examples).toEqual([]);
      expect(r.dropped[0].reason.startsWith(`${c.refused}: `)).toBe(true);
    }
    if (c.full_ids !== undefined) {
      // The whole conversation under the loss (assistant_only_loss false): the model's template, as TRL renders it.
      const whole = prepareSft(tok, report.rows, report.lines, 100_000, { assistantOnlyLoss: false });
      expect(whole.examples[0].seq.ids).toEqual(c.full_ids);
      const messages = row.messages as Message[];
      expect(
        tok.applyChatTemplate(messages, { addGenerationPrompt: false, tools: row.tools, templateKwargs: row.chat_template_kwargs }),
      ).toBe(c.full_text);
    }
  });
});
