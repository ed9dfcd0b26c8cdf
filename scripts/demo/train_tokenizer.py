#!/usr/bin/python3
"""Step 1: train the byte-level BPE tokenizer (765 merges + 256 bytes + 3 specials = 1024 tokens) on a sample of
the pretraining distribution; writes .build/tokenizer/ (pretrain.py copies it into the demo model folder).

    /usr/bin/python3 scripts/demo/train_tokenizer.py
"""
import os
import time

from common import BUILD, N_MERGES, Tokenizer, train_bpe
from world import SEED, make_docs

TOKENIZER_DOCS = 20000


def main():
    t0 = time.time()
    docs = make_docs(SEED + 1, TOKENIZER_DOCS)
    merges = train_bpe(docs, N_MERGES)
    assert len(merges) == N_MERGES, len(merges)
    tok = Tokenizer(merges)
    assert tok.size == 1024
    # The model folder gets this tokenizer together with the weights trained on it (pretrain.py).
    tok.write(os.path.join(BUILD, "tokenizer"))
    sample = docs[0]
    ids = tok.encode(sample)
    assert tok.decode(ids) == sample
    print(f"tokenizer: {tok.size} tokens, {len(merges)} merges, {len(sample)} chars -> {len(ids)} tokens, {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
