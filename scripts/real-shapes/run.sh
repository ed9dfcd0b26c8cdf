#!/usr/bin/env bash
# Load, SFT eval, one DPO step and generation on a real-shape checkpoint (make_checkpoint.py), each timed, with the
# peak resident memory of the whole process tree (measure.sh).
#
#   bash scripts/real-shapes/run.sh /tmp/gemma3-270m [--max-length 64]
set -euo pipefail
model=${1:?usage: run.sh <model dir> [extra flags for eval/train]}
shift
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
work=$(mktemp -d)
demo=apps/studio/public/demo/data
head -n 4 "$demo/sft.jsonl" >"$work/sft.jsonl"
head -n 2 "$demo/dpo.jsonl" >"$work/dpo.jsonl"
export WEBTUNE_PROFILE_DIR="$work/profile"

# shellcheck source=measure.sh
source scripts/real-shapes/measure.sh

echo "$(basename "$model"): $(tr -d ' \n' <"$model/config.json" | grep -o '"architectures":\[[^]]*\]'), $(du -m "$model/model.safetensors" | cut -f1) MiB of weights"
measure sft-eval pnpm -s cli eval --method sft --model "$model" --data "$work/sft.jsonl" --batch-size 2 "$@"
measure dpo-step pnpm -s cli train --method dpo --model "$model" --data "$work/dpo.jsonl" --out "$work/dpo-out" \
  --max-steps 1 --batch-size 1 --gradient-accumulation-steps 2 "$@"
measure generate pnpm -s cli generate --model "$model" --prompt "Question: Tell me about the fox.
Answer:
" --max-new-tokens 8
echo "sft eval: $(cat "$work/sft-eval.out")"
echo "dpo step: $(grep -o '"loss":[^,]*' "$work/dpo-out/metrics.jsonl" | head -1)"
echo "generated: $(cat "$work/generate.out" | head -c 200)"
rm -rf "$work"
