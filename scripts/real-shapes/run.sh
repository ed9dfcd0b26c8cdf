#!/usr/bin/env bash
# Load, SFT eval, one DPO step and generation on a real-shape checkpoint (make_checkpoint.py), each timed, with the
# peak resident memory of the whole process tree (the CLI, Chromium and its GPU process: under SwiftShader GPU buffers
# live in host memory, so this is the GPU's memory too). RSS is summed over the process tree, so pages shared
# between them count more than once: an upper bound.
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

tree_rss() { # KiB resident in a process and all its descendants (Chromium runs in its own process group)
  ps -eo pid=,ppid=,rss= | awk -v root="$1" '{ parent[$1] = $2; rss[$1] = $3 }
    END { for (p in rss) { q = p; while (q != "" && q != root && q in parent && q != 1) q = parent[q]; if (q == root) s += rss[p] } print s + 0 }'
}

measure() { # name, then the command; prints "name: seconds, peak MiB"
  local name=$1
  shift
  local start peak=0 rss pid
  start=$(date +%s.%N)
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    rss=$(tree_rss "$pid")
    ((rss > peak)) && peak=$rss
    sleep 0.5
  done
  wait "$pid" || { echo "$name failed:"; tail -5 "$work/$name.err"; exit 1; }
  printf '%-9s %7.1f s  peak RSS %6d MiB\n' "$name" "$(echo "$(date +%s.%N) - $start" | bc)" $((peak / 1024))
}

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
