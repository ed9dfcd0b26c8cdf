#!/usr/bin/python3
"""Writes .build/tokenizer-cases.json (texts, their ids from the Python tokenizer, chat renderings) for
check_tokenizer.mjs, which checks that @xenova/transformers agrees.

    /usr/bin/python3 scripts/demo/check_tokenizer.py && node scripts/demo/check_tokenizer.mjs
"""
import json
import os

import world
from common import BUILD, DATA_DIR, MODEL_DIR, Tokenizer, read_jsonl, render_chat


def main():
    tok = Tokenizer.load(MODEL_DIR)
    texts = world.make_docs(5, 60)
    texts += [world.prompt_for(n, i % 4) + world.card_with_closing(n, i % 3) for i, n in enumerate(world.NAMES)]
    for f in ("sft.jsonl", "dpo.jsonl", "eval-prompts.jsonl", "eval-pairs.jsonl"):
        p = os.path.join(DATA_DIR, f)
        if os.path.exists(p):
            for r in read_jsonl(p)[:40]:
                texts += [v for k, v in r.items() if isinstance(v, str)]
    texts += ["Hello, World! 123 it's  two  spaces\n\nend  ", "café naïve 😀 日本語", "a</s>b<pad>c<s>d", "   \n\t x"]
    chat = [
        ([{"role": "user", "content": "Tell me about the fox."}], True),
        ([{"role": "user", "content": "Describe the owl."}, {"role": "assistant", "content": world.card("owl")}], False),
        ([{"role": "user", "content": "A?"}, {"role": "assistant", "content": "B."}, {"role": "user", "content": "C?"}], True),
    ]
    for t in texts:
        assert tok.decode(tok.encode(t), skip_special=False) == t, t
    cases = {
        "encode": [{"text": t, "ids": tok.encode(t)} for t in texts],
        "chat": [{"messages": m, "add_generation_prompt": a, "text": render_chat(m, a)} for m, a in chat],
    }
    os.makedirs(BUILD, exist_ok=True)
    with open(os.path.join(BUILD, "tokenizer-cases.json"), "w") as f:
        json.dump(cases, f)
    print(f"{len(cases['encode'])} encode cases, {len(cases['chat'])} chat cases")


if __name__ == "__main__":
    main()
