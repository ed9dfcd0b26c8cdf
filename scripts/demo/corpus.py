#!/usr/bin/python3
"""Step 2: generate the pretraining corpus (train and validation documents drawn from world.py with different
seeds) and tokenise it into a flat token stream with </s> after every document (no BOS).

    /usr/bin/python3 scripts/demo/corpus.py      # writes scripts/demo/.build/corpus.pt (+ corpus-sample.txt)
"""
import os
import time

import torch

from common import BUILD, Tokenizer
from world import SEED, make_docs

TRAIN_DOCS = 120000
VAL_DOCS = 3000


def stream(tok, docs):
    ids, starts = [], []
    for d in docs:
        starts.append(len(ids))
        ids.extend(tok.encode(d))
        ids.append(tok.eos_id)
    return torch.tensor(ids, dtype=torch.int16), torch.tensor(starts, dtype=torch.int64)


def main():
    t0 = time.time()
    tok = Tokenizer.load(os.path.join(BUILD, "tokenizer"))
    train_docs = make_docs(SEED + 2, TRAIN_DOCS)
    val_docs = make_docs(SEED + 3, VAL_DOCS)
    tr, trs = stream(tok, train_docs)
    va, vas = stream(tok, val_docs)
    os.makedirs(BUILD, exist_ok=True)
    torch.save({"train": tr, "train_starts": trs, "val": va, "val_starts": vas}, os.path.join(BUILD, "corpus.pt"))
    with open(os.path.join(BUILD, "corpus-sample.txt"), "w") as f:
        f.write("\n\n=====\n\n".join(train_docs[:200]))
    print(f"corpus: {len(train_docs)} train docs, {len(tr)} tokens; {len(val_docs)} val docs, {len(va)} tokens; "
          f"{sum(map(len, train_docs))/len(tr):.2f} chars/token; {time.time()-t0:.1f}s")


if __name__ == "__main__":
    main()
