"""Tiny random checkpoints with the real vocabulary of a real tokenizer, and what PyTorch (float64) computes on the
golden token ids of goldens.json (make_goldens.py), for src/data/real-vocab.gpu.test.ts: webtune reads the same rows
with the real tokenizer files and must evaluate to the same numbers.

The model is make_fixtures.py's float64 Llama (written from transformers' modeling_llama.py; see that script for the
commit) with hidden 8, one layer and tied embeddings, so the vocabulary (150k rows) is nearly all of it: 2 MB in
bf16. For each row the golden ids and loss spans give the summed log-probs of the loss tokens; the SFT eval loss of
the rows of one format (a dataset file holds one) is their token-weighted mean (TRL's loss, as evaluateSft reports it).

Run from packages/trainer:  /usr/bin/python3 test/tokenizers/make_real_vocab.py   (after make_goldens.py)
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'fixtures'))
import make_fixtures as mf  # noqa: E402

MODULES = os.path.join(HERE, '..', '..', 'node_modules')
F64 = torch.float64

# (golden tokenizer name, folder, config vocab_size as the real model's config.json gives it, seed)
MODELS = [
    ("Qwen3 with TRL's copy of its template", 'qwen3-vocab', 151936, 7007),
    ('Llama 3.2 Instruct', 'llama3_2-vocab', 128256, 7008),
    ('Mistral 7B Instruct v0.2', 'mistral-v1-vocab', 32000, 7009),
]


def row_format(row):
    if 'messages' in row:
        return 'messages'
    return 'prompt-completion' if isinstance(row['prompt'], str) else 'conversational-prompt-completion'


class Ids:
    """make_fixtures' tokenizer interface (tid) over a real tokenizer.json's added tokens."""

    def __init__(self, package):
        tj = json.load(open(os.path.join(MODULES, package, 'models', 'tokenizer.json'), encoding='utf-8'))
        self.ids = {t['content']: t['id'] for t in tj['added_tokens']}

    def tid(self, token):
        return self.ids[token]


def fixture(name, vocab, seed, config):
    eos = config['eos_token'] if isinstance(config['eos_token'], str) else config['eos_token']['content']
    bos = config.get('bos_token')
    return {
        'name': name, 'seed': seed, 'arch': 'llama', 'dtype': 'BF16', 'torch_dtype': 'bfloat16', 'hidden': 8,
        'layers': 1, 'heads': 2, 'kv_heads': 1, 'head_dim': 4, 'inter': 16, 'tied': True, 'rope_theta': 10000.0,
        'eps': 1e-5, 'vocab_size': vocab, 'max_pos': 4096,
        'tokenizer': {'eos': eos, 'bos': bos if isinstance(bos, str) else None},
    }


def main():
    torch.set_num_threads(1)
    goldens = json.load(open(os.path.join(HERE, 'goldens.json'), encoding='utf-8'))
    for golden_name, folder, vocab, seed in MODELS:
        entry = next(t for t in goldens['tokenizers'] if t['name'] == golden_name)
        config = json.load(open(os.path.join(MODULES, entry['package'], 'models', 'tokenizer_config.json'), encoding='utf-8'))
        fx = fixture(folder, vocab, seed, config)
        g = torch.Generator().manual_seed(seed)
        weights = mf.make_weights(fx, g)
        out = os.path.join(HERE, 'real-vocab', folder)
        os.makedirs(out, exist_ok=True)
        mf.write_json(os.path.join(out, 'config.json'), mf.config_json(fx, Ids(entry['package'])))
        mf.write_safetensors(os.path.join(out, 'model.safetensors'), {k: ('BF16', v) for k, v in weights.items()},
                             {'format': 'pt'})
        model = mf.Model(fx, weights)
        rows = []
        for case in entry['cases']:
            if 'ids' not in case:
                continue
            ids = torch.tensor([case['ids']])
            mask = torch.zeros_like(ids)
            for a, b in case.get('loss_spans') or [[case['completion_start'], len(case['ids'])]]:
                mask[0, a:b] = 1
            with torch.no_grad():
                lp = mf.token_logps(model.forward(ids, torch.ones_like(ids)), ids, mask)
            rows.append({'name': case['row']['name'], 'format': row_format(case['row']), 'sum_logps': lp.sum().item(),
                         'tokens': int(mask[0, 1:].sum())})
        # A dataset file holds one format: one evaluation per format.
        evals = {}
        for fmt in dict.fromkeys(r['format'] for r in rows):
            tokens = sum(r['tokens'] for r in rows if r['format'] == fmt)
            evals[fmt] = {'loss': -sum(r['sum_logps'] for r in rows if r['format'] == fmt) / tokens, 'num_tokens': tokens}
        mf.write_json(os.path.join(out, 'golden.json'), {'tokenizer': golden_name, 'rows': rows, 'eval': evals})
        print(folder, f'{len(rows)} rows', {k: round(v['loss'], 6) for k, v in evals.items()})


if __name__ == '__main__':
    main()
