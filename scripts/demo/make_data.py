#!/usr/bin/python3
"""Step 4: write the demo datasets and the automatic checks.

    /usr/bin/python3 scripts/demo/make_data.py

apps/studio/public/demo/data/
  sft.jsonl           {"prompt","completion"}        TRAIN animals x 4 questions; half end with a closing line
  dpo.jsonl           {"prompt","chosen","rejected"} TRAIN animals x 4 questions; chosen = card + closing,
                                                     rejected = the same card without it (both in the SFT format)
  eval-prompts.jsonl  {"prompt"}                     one prompt per held-out animal
  eval-pairs.jsonl    {"prompt","chosen","rejected"} one pair per held-out animal
  index.json          the datasets the studio offers, with a title and a line about each
apps/studio/public/demo/checks.json                  the regexes that score generations (format, closing, facts)

Held-out animals appear in the pretraining corpus (the base model knows their facts) but in no SFT or DPO row.
"""
import json
import os
import random

import world
from common import DATA_DIR, DEMO_DIR, write_json, write_jsonl

N_EVAL = 40
# Share of SFT rows that end with a closing line: half, so SFT leaves the taste open (a coin flip) for DPO to settle.
SFT_CLOSING_SHARE = float(os.environ.get("SFT_CLOSING_SHARE", "0.5"))

CLOSING_RE = "(?:" + "|".join(c[:-1] for c in world.CLOSINGS) + ")!"
NAME_RE = "[a-z]+(?: [a-z]+)*"
VALUE_RE = "[a-z]+"
FORMAT_RE = (
    f"^Animal: {NAME_RE}\\nHome: {VALUE_RE}\\nFood: {VALUE_RE}\\nSize: (?:" + "|".join(world.SIZES) + f")(?:\\n{CLOSING_RE})?$"
)
PREFERRED_RE = f"\\n{CLOSING_RE}$"


def split_animals():
    """Held-out animals: a seeded shuffle, accepted only if every home/food/size value of a held-out animal also
    occurs among the training animals (so the SFT data has shown every value in the card format)."""
    r = random.Random(world.SEED + 20)
    names = list(world.NAMES)
    while True:
        r.shuffle(names)
        held, train = names[:N_EVAL], names[N_EVAL:]
        seen = {k: {world.FACTS[n][k] for n in train} for k in ("home", "food", "size")}
        if all(world.FACTS[n][k] in seen[k] for n in held for k in seen):
            return sorted(train, key=world.NAMES.index), sorted(held, key=world.NAMES.index)


def regex_escape(s):
    return "".join("\\" + c if c in ".^$*+?()[]{}|\\/" else c for c in s)


FACT_KINDS = ("home", "food", "size")


def facts_regex(name):
    """The animal's true facts, in any format: its home, food and size each as a whole word anywhere in the answer
    (a card or a sentence), and no other home, food or size of the world (so a card with a wrong value fails even
    beside a right one). Words of the animal's own name are not claims ("cave fish" names a cave) and are allowed.
    Lookaheads over [\\s\\S] read the same in JavaScript and Python."""
    own = set(name.split())
    ahead = "".join(f"(?=[\\s\\S]*\\b{regex_escape(world.FACTS[name][k])}\\b)" for k in FACT_KINDS)
    others = sorted({f[k] for f in world.FACTS.values() for k in FACT_KINDS} - {world.FACTS[name][k] for k in FACT_KINDS} - own)
    return "^" + ahead + "(?![\\s\\S]*\\b(?:" + "|".join(map(regex_escape, others)) + ")\\b)"


def main():
    import re

    train, held = split_animals()
    r = random.Random(world.SEED + 21)

    sft_rows = []
    order = [(n, q) for n in train for q in range(len(world.QUESTIONS))]
    r.shuffle(order)
    for i, (n, q) in enumerate(order):
        with_closing = int((i + 1) * SFT_CLOSING_SHARE) > int(i * SFT_CLOSING_SHARE)  # evenly spread, exact share
        completion = world.card_with_closing(n, int(i * SFT_CLOSING_SHARE) % 3) if with_closing else world.card(n)
        sft_rows.append({"prompt": world.prompt_for(n, q), "completion": completion})

    dpo_rows = []
    order = [(n, q) for n in train for q in range(len(world.QUESTIONS))]
    r.shuffle(order)
    for i, (n, q) in enumerate(order):
        dpo_rows.append({"prompt": world.prompt_for(n, q), "chosen": world.card_with_closing(n, i % 3), "rejected": world.card(n)})

    eval_prompts = [{"prompt": world.prompt_for(n, i % 4)} for i, n in enumerate(held)]
    eval_pairs = [
        {"prompt": world.prompt_for(n, (i + 2) % 4), "chosen": world.card_with_closing(n, i % 3), "rejected": world.card(n)}
        for i, n in enumerate(held)
    ]

    # Self-checks: formats, the taste, the split.
    fre, pre = re.compile(FORMAT_RE), re.compile(PREFERRED_RE)
    for row in sft_rows:
        assert fre.match(row["completion"]), row
    for row in dpo_rows + eval_pairs:
        assert fre.match(row["chosen"]) and fre.match(row["rejected"]), row
        assert pre.search(row["chosen"]) and not pre.search(row["rejected"]), row
    train_prompts = {x["prompt"] for x in sft_rows + dpo_rows}
    for n in held:
        assert not any(f"the {n}." in p or f"the {n}?" in p for p in train_prompts), n
    n_closing = sum(bool(pre.search(x["completion"])) for x in sft_rows)
    for n in held:  # the facts check reads facts, not formats: a true card and a true sentence pass, a wrong card fails
        facts = re.compile(facts_regex(n))
        f = world.FACTS[n]
        assert facts.search(world.card(n)) and facts.search(world.card_with_closing(n, 0)), n
        assert facts.search(f"The {n} is a {f['size']} animal that lives in the {f['home']}. Its favourite food is {f['food']}."), n
        for k in FACT_KINDS:
            wrong = next(v for v in sorted({g[k] for g in world.FACTS.values()}) if v != f[k] and v not in n.split())
            assert not facts.search(world.card(n).replace(f"{k.capitalize()}: {f[k]}", f"{k.capitalize()}: {wrong}")), (n, k)

    os.makedirs(DATA_DIR, exist_ok=True)
    write_jsonl(os.path.join(DATA_DIR, "sft.jsonl"), sft_rows)
    write_jsonl(os.path.join(DATA_DIR, "dpo.jsonl"), dpo_rows)
    write_jsonl(os.path.join(DATA_DIR, "eval-prompts.jsonl"), eval_prompts)
    write_jsonl(os.path.join(DATA_DIR, "eval-pairs.jsonl"), eval_pairs)

    checks = {
        "version": 1,
        "description": (
            "Automatic checks for the webtune demo (animal cards). Apply each regex with JavaScript RegExp semantics "
            "(new RegExp(regex, flags)) to a generated completion: greedy decoding of the prompt as given, at most "
            "max_new_tokens new tokens, stopping at the EOS token, decoded with special tokens skipped, then with "
            "leading and trailing whitespace trimmed. A rate is the fraction of eval prompts whose completion matches."
        ),
        "generation": {"do_sample": False, "max_new_tokens": 48, "stop": "eos_token", "trim": True},
        "eval_prompts": "data/eval-prompts.jsonl",
        "eval_pairs": "data/eval-pairs.jsonl",
        "checks": [
            {
                "id": "format",
                "label": "Animal card format",
                "taught_by": "sft",
                "description": "The whole answer is the four-line card (Animal, Home, Food, Size), optionally followed by one closing line, and nothing else.",
                "regex": FORMAT_RE,
                "flags": "",
            },
            {
                "id": "closing",
                "label": "Friendly closing line",
                "taught_by": "dpo",
                "description": "The answer ends with a friendly closing line (the preferred property of the DPO data).",
                "regex": PREFERRED_RE,
                "flags": "",
            },
        ],
        "facts": {
            "description": (
                "Per eval prompt: the answer states this animal's true facts, whatever its format: its home, food and "
                "size each as a whole word anywhere (a card or a sentence), and no other home, food or size of the world "
                "(words of the animal's own name excepted). The base model's correct sentence passes; a card with a wrong "
                "value fails. The facts come from pretraining: the held-out animals are in no SFT or DPO row."
            ),
            "items": [{"prompt": row["prompt"], "regex": facts_regex(n)} for row, n in zip(eval_prompts, held)],
        },
        "reward_accuracy": {
            "description": "On eval-pairs.jsonl: the fraction of pairs with beta*(logp_policy(chosen)-logp_ref(chosen)) > beta*(logp_policy(rejected)-logp_ref(rejected)), reference = the SFT-merged model.",
        },
    }
    write_json(os.path.join(DEMO_DIR, "checks.json"), checks)
    write_json(os.path.join(DATA_DIR, "index.json"), [
        {"file": "sft.jsonl", "method": "sft", "title": "Animal cards (SFT)",
         "description": f"{len(sft_rows)} questions about animals answered with a four-line card; half end with a friendly closing line."},
        {"file": "dpo.jsonl", "method": "dpo", "title": "Friendly closings (DPO)",
         "description": f"{len(dpo_rows)} pairs of the same card: chosen ends with a friendly closing line, rejected does not."},
        {"file": "eval-pairs.jsonl", "method": "dpo", "title": "Held-out pairs (DPO, for evaluation)",
         "description": f"{len(eval_pairs)} pairs for animals in no training row: evaluate an adapter's reward accuracy on them."},
    ])
    print(
        f"sft {len(sft_rows)} rows ({n_closing} with a closing line), dpo {len(dpo_rows)} pairs, eval {len(eval_prompts)} prompts, "
        f"{len(eval_pairs)} pairs; train animals {len(train)}, held out {len(held)}: {', '.join(held)}"
    )


if __name__ == "__main__":
    main()
