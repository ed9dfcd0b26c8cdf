// The jinja engine where it differed from Python's jinja2 (patches/@huggingface__jinja@*.patch). Each expected
// string is what jinja2 3.1 (Debian's python3-jinja2, ImmutableSandboxedEnvironment with trim_blocks and
// lstrip_blocks, as transformers renders) prints for the same template and context.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ChatTemplateError, renderChatTemplate, renderWithGenerationSpans } from './chat-template.ts';
import { TokenizerError } from './tokenizer.ts';

const render = (template: string, context: Record<string, unknown> = {}) =>
  renderChatTemplate(template, 'm/tokenizer_config.json', {
    messages: [],
    addGenerationPrompt: false,
    specialTokens: {},
    templateKwargs: context,
  });

describe('renderChatTemplate', () => {
  afterEach(() => vi.useRealTimers());

  it('strips as Python does: U+FEFF is not whitespace, U+001F and U+0085 are; strip(chars) strips those chars only', () => {
    const x = '\uFEFF a \u00a0';
    expect(render('{{ x|trim }}|{{ x.strip() }}|{{ x.split() }}', { x })).toBe('\uFEFF a|\uFEFF a|["\uFEFF", "a"]');
    expect(render('{{ y|trim }}|', { y: '\u001f\u0085b\u0085' })).toBe('b|');
    const y = '\n  hi \n';
    expect(render("{{ y.lstrip('\\n') }}|{{ y.rstrip('\\n ') }}|{{ y.strip() }}", { y })).toBe('  hi \n|\n  hi|hi');
    // Qwen3's way of taking the reasoning out of an answer.
    expect(render("{{ (c.split('</think>')[-1]).lstrip('\\n') }}", { c: '<think>\nhm\n</think>\n\nYes.' })).toBe('Yes.');
  });

  it('tests a missing attribute in selectattr/rejectattr as Undefined (Mistral Nemo keeps messages without tool_calls)', () => {
    const ms = [
      { role: 'user', content: 'a' },
      { role: 'user', content: 'b', tool_calls: [1] },
      { role: 'assistant', content: 'c' },
    ];
    expect(
      render(
        '{% for m in ms | selectattr("tool_calls", "undefined") %}{{ m.role }},{% endfor %}|{{ ms | selectattr("tool_calls") | list | length }}|{{ ms | rejectattr("tool_calls", "defined") | map(attribute="content") | join }}',
        { ms },
      ),
    ).toBe('user,assistant,|1|ac');
  });

  it("renders {% generation %} blocks as jinja2 with transformers' AssistantTracker does, with their spans", () => {
    // Whitespace control on either side of the tags, trim_blocks/lstrip_blocks around them, an empty block.
    const template =
      "{% for m in messages %}\n  {% if m.role == 'assistant' %}\n    <a>\n    {% generation %}\n    {{ m.content }}!\n    {%- endgeneration %}\n  {%- else %}\n[{{ m.content }}]\n  {% endif %}\n{%- generation -%}  {%- endgeneration %}\n{% endfor %}";
    const input = {
      messages: [
        { role: 'user' as const, content: 'hi 😀' },
        { role: 'assistant' as const, content: 'yo 😀' },
        { role: 'assistant' as const, content: ' x ' },
      ],
      addGenerationPrompt: false,
      specialTokens: {},
    };
    const text = '[hi 😀]\n    <a>\n    yo 😀!    <a>\n     x !';
    // jinja2's spans in code points were (7, 7), (15, 24), (24, 24), (32, 40), (40, 40); here in UTF-16 units.
    expect(renderWithGenerationSpans(template, 'm/tokenizer_config.json', input)).toEqual({
      text,
      spans: [
        [8, 8],
        [16, 26],
        [26, 26],
        [34, 42],
        [42, 42],
      ],
    });
    expect(renderChatTemplate(template, 'm/tokenizer_config.json', input)).toBe(text);
    const marked = { ...input, messages: [{ role: 'user' as const, content: 'a\uFDD0' }] };
    expect(() => renderWithGenerationSpans(template, 'm/tokenizer_config.json', marked)).toThrow('U+FDD0 or U+FDD1');
  });

  it('tells strings with `is string`, and prints booleans as Python does', () => {
    expect(render('{{ x is string }}{{ 3 is string }}', { x: 'a' })).toBe('TrueFalse');
  });

  it("writes strftime_now in the C locale, whatever the machine's language", () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date(2026, 0, 5, 14, 7, 9));
    expect(render('{{ strftime_now("%d %b %Y") }}|{{ strftime_now("%A %B %e %j %I%p %H:%M:%S %y %a") }}')).toBe(
      '05 Jan 2026|Monday January  5 005 02PM 14:07:09 26 Mon',
    );
  });

  it('turns raise_exception into a ChatTemplateError with its message, and an engine failure into one naming the file', () => {
    const raised = (() => {
      try {
        render("{{ raise_exception('Conversation roles must alternate user/assistant') }}");
      } catch (e) {
        return e;
      }
    })() as ChatTemplateError;
    expect(raised).toBeInstanceOf(ChatTemplateError);
    expect(raised.raised).toBe(true);
    expect(raised.message).toBe('the chat template raised: Conversation roles must alternate user/assistant');
    expect(() => render('{{ x.nosuchmethod() }}', { x: 'a' })).toThrow(
      /^m\/tokenizer_config.json: the chat template cannot render these messages \(.+\)$/,
    );
  });

  it('refuses a template it cannot parse, naming the file', () => {
    expect(() => render('{% for m in messages %}')).toThrow(TokenizerError);
    expect(() => render('{% for m in messages %}')).toThrow(/^m\/tokenizer_config.json: the chat template cannot be read/);
  });

  it("gives the template transformers' context: tools (none by default), documents, special tokens, kwargs", () => {
    const t =
      '{{ bos_token }}{% if tools is none %}no tools{% endif %}{% if documents is none %}, no documents{% endif %}{{ extra }}{% if add_generation_prompt %}>{% endif %}';
    const out = renderChatTemplate(t, 'f', {
      messages: [],
      addGenerationPrompt: true,
      specialTokens: { bos_token: '<s>' },
      templateKwargs: { extra: '!' },
    });
    expect(out).toBe('<s>no tools, no documents!>');
  });
});
