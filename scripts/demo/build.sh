#!/usr/bin/env bash
# Rebuilds every demo output from the seed in world.py. Run from anywhere:
#   bash scripts/demo/build.sh            # resumes an interrupted pretraining run from .build/pretrain/ckpt.pt
#   FRESH=1 bash scripts/demo/build.sh    # deletes .build/ first
set -euo pipefail
cd "$(dirname "$0")"
PY=/usr/bin/python3   # Debian's python3 with python3-torch; no other packages needed
[[ "${FRESH:-0}" == 1 ]] && rm -rf .build
$PY train_tokenizer.py      # 1. tokenizer.json, tokenizer_config.json
$PY corpus.py               # 2. .build/corpus.pt
$PY pretrain.py             # 3. model.safetensors, config.json
$PY make_data.py            # 4. data/*.jsonl, checks.json
$PY check_tokenizer.py      # 5. the tokenizer agrees with webtune's TextTokenizer
(cd ../.. && npx tsx scripts/demo/check_tokenizer.ts)
$PY lesson.py               # 6. LoRA SFT then DPO with the recipe: the measured effect (.build/lesson/recipe.json)
