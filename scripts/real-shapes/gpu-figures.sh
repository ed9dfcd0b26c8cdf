#!/usr/bin/env bash
# The real-GPU figures of docs/performance.md in one run, on a machine with a GPU, no package registry and no browser
# (a lent device: run from the repository's root, carrying .gpu-kit, made here by gpu-kit.sh):
#
#   bash scripts/real-shapes/gpu-figures.sh "$OUT" 67000     # OUT: where the results go; 67000: the card's fp32
#                                                             # peak in GFLOP/s (H100 SXM), for the "of peak" column
#
# For each model shape: webtune's SFT and DPO steps on Dawn (`bench --runtime dawn --gpu hardware --model M
# --batch-size 4 --max-length 512`: tokens/s, peak GPU bytes, dispatches, submits, host reads), then the same SFT
# step in eager PyTorch, float32 and bf16 (torch_step.py; its --check first, on the CPU). Writes 4 files into OUT:
# log.txt (everything printed, the GPU's name first), webtune-<model>.json (the bench's JSON) and torch.jsonl (one
# line per PyTorch run). MODELS, SHAPE and GPU override the defaults, e.g. for a dry run on a CPU:
#   MODELS=smollm2-135m SHAPE="--batch-size 1 --max-length 8" GPU=swiftshader bash scripts/real-shapes/gpu-figures.sh /tmp/out
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
out=${1:?usage: gpu-figures.sh OUT_DIR [PEAK_GFLOPS]}
peak=${2:-}
kit=.gpu-kit
models=${MODELS:-smollm2-135m qwen2.5-0.5b}
shape=${SHAPE:---batch-size 4 --max-length 512}
gpu=${GPU:-hardware}
[ -f "$kit/webtune.mjs" ] || { echo "no $kit/webtune.mjs: run bash scripts/real-shapes/gpu-kit.sh first, and carry .gpu-kit" >&2; exit 2; }
mkdir -p "$out"

unxz() { python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; }
main() {
  export PYTHONUNBUFFERED=1 # the log in the order things happen
  echo "== $(cat "$kit/BUILT")"
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>/dev/null || echo "(no nvidia-smi)"

  # Dawn's Vulkan backend needs the loader; NVIDIA's driver says where its ICD is.
  if ! ldconfig -p | grep -q 'libvulkan.so.1 '; then
    for f in "$kit"/libvulkan1_*.deb; do dpkg -x "$f" /; done
    ldconfig
  fi
  icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  [ -f "$icd" ] && export VK_DRIVER_FILES=$icd
  # Node 20 or later: the machine's, else the kit's.
  node=node
  if ! command -v node > /dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
    unxz "$kit/node.xz" /tmp/webtune-node && chmod +x /tmp/webtune-node && node=/tmp/webtune-node
  fi
  dawn=$kit/node_modules/webgpu/dist/linux-x64/dawn.node
  [ -f "$dawn" ] || { mkdir -p "$(dirname "$dawn")" && unxz "$kit/dawn.node.xz" "$dawn"; }
  echo "== node $($node -v), torch $(python3 -c 'import torch; print(torch.__version__, torch.cuda.is_available())' 2>&1)"

  echo "== torch_step.py --check (the baseline's model against the fixtures' goldens, float64 on the CPU)"
  python3 scripts/real-shapes/torch_step.py --check
  device=$(python3 -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')
  for model in $models; do
    echo "== webtune on Dawn: $model, $shape"
    # shellcheck disable=SC2086  # $shape is flags
    "$node" "$kit/webtune.mjs" bench --runtime dawn --gpu "$gpu" --model "$model" $shape ${peak:+--peak-gflops "$peak"} \
      --out "$out/webtune-$model.json"
    for dtype in float32 bfloat16; do
      echo "== PyTorch eager: $model, $dtype, $shape"
      # shellcheck disable=SC2086
      python3 scripts/real-shapes/torch_step.py "$model" --device "$device" --dtype "$dtype" $shape --json /tmp/torch-step.json &&
        python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))))' /tmp/torch-step.json >> "$out/torch.jsonl"
    done
  done
  echo "== done"
}
# Everything printed goes to log.txt too; the pipe (not exec > >(tee)) makes the script wait for tee to finish it.
main 2>&1 | tee "$out/log.txt"
