#!/usr/bin/env bash
# The exports of a real-shape checkpoint (make_checkpoint.py) through the CLI, each timed with the peak resident
# memory of the whole process tree (measure.sh): the model loaded alone (generate, one token) as the baseline, then
# the merged folder and the F16 GGUF with a rank-8 adapter on every projection merged in. The exports read,
# merge and write a block of rows at a time, so they should need little beyond the loaded model.
#
#   bash scripts/real-shapes/export.sh /tmp/qwen3-0.6b
set -euo pipefail
model=${1:?usage: export.sh <model dir>}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
work=$(mktemp -d)
export WEBTUNE_PROFILE_DIR="$work/profile"
# shellcheck source=measure.sh
source scripts/real-shapes/measure.sh

/usr/bin/python3 scripts/real-shapes/make_adapter.py "$model" "$work/adapter"
echo "$(basename "$model"): $(du -m "$model/model.safetensors" | cut -f1) MiB of weights"
measure load pnpm -s cli generate --model "$model" --prompt "Hello" --max-new-tokens 1
measure merged pnpm -s cli export --format merged --model "$model" --adapter "$work/adapter" --out "$work/merged"
measure gguf-f16 pnpm -s cli export --format gguf --dtype f16 --model "$model" --adapter "$work/adapter" --out "$work/gguf"
du -m "$work/merged/model.safetensors" "$work/gguf/model.gguf"
rm -rf "$work"
