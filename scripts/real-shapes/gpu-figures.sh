#!/usr/bin/env bash
# The real-GPU figures of docs/performance.md in one run, on a machine with a GPU, no package registry and no browser
# (a lent device: run from the repository's root, carrying .gpu-kit, made here by gpu-kit.sh):
#
#   bash scripts/real-shapes/gpu-figures.sh "$OUT" 67000     # OUT: where the results go; 67000: the card's fp32
#                                                             # peak in GFLOP/s (H100 SXM), for the "of peak" column
#
# torch_step.py --check first (on the CPU), then for each model shape the LoRA SFT step in eager PyTorch, float32 and
# bf16 (torch_step.py), then webtune's SFT and DPO steps on Dawn (`bench --runtime dawn --gpu hardware --model M
# --batch-size 4 --max-length 512`: tokens/s, peak GPU bytes, dispatches, submits, host reads), each bounded by
# WEBTUNE_TIMEOUT seconds (default 240) so that a hang leaves the rest. Writes into OUT: log.txt (everything printed,
# the GPU and its Vulkan setup first; its last 15 MB when longer), torch.jsonl (a line per PyTorch run) and
# webtune-<model>.json (the bench's JSON); exits 1 if any step failed. MODELS, SHAPE and GPU override the defaults,
# e.g. for a dry run on a CPU:
#   MODELS=smollm2-135m SHAPE="--batch-size 1 --max-length 8" GPU=swiftshader bash scripts/real-shapes/gpu-figures.sh /tmp/out
set -uo pipefail
out=$(realpath -m "${1:?usage: gpu-figures.sh OUT_DIR [PEAK_GFLOPS]}")
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
peak=${2:-}
kit=$PWD/.gpu-kit
models=${MODELS:-smollm2-135m qwen2.5-0.5b}
shape=${SHAPE:---batch-size 4 --max-length 512}
gpu=${GPU:-hardware}
limit=${WEBTUNE_TIMEOUT:-240}
[ -f "$kit/webtune.mjs" ] || { echo "no $kit/webtune.mjs: run bash scripts/real-shapes/gpu-kit.sh first, and carry .gpu-kit" >&2; exit 2; }
mkdir -p "$out"

# xz without xz-utils (Python's lzma), written beside and renamed: never a half-written binary.
unxz() { python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2.part" && mv "$2.part" "$2"; }
# grep reads all of ldconfig's output: with -q it would stop early and pipefail would see ldconfig's SIGPIPE.
has_library() { ldconfig -p | grep -F "$1 " > /dev/null; }

main() {
  export PYTHONUNBUFFERED=1 # the log in the order things happen
  local failed=0
  echo "== $(cat "$kit/BUILT")"
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>/dev/null || echo "(no nvidia-smi)"

  # Dawn reaches the GPU through Vulkan: the loader (the kit's Debian one where the machine has none, by
  # LD_LIBRARY_PATH: nothing is installed) and NVIDIA's driver manifest.
  if ! has_library libvulkan.so.1; then
    [ -d "$kit/vk" ] || dpkg -x "$kit"/libvulkan1_*.deb "$kit/vk"
    export LD_LIBRARY_PATH="$kit/vk/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "Vulkan loader: the kit's (libvulkan1 from Debian)"
  fi
  icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [ ! -f "$icd" ] && ! grep -lqs nvidia /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json && has_library libGLX_nvidia.so.0; then
    icd=$kit/nvidia_icd.json # the driver's library is there but not its manifest: write the one it ships
    echo '{"file_format_version": "1.0.0", "ICD": {"library_path": "libGLX_nvidia.so.0", "api_version": "1.3"}}' > "$icd"
  fi
  [ -f "$icd" ] && export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
  echo "Vulkan driver manifest: ${VK_DRIVER_FILES:-none set}; the system ones: $(ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json 2>/dev/null | tr '\n' ' ')"
  # Node 20 or later: the machine's, else the kit's.
  local node=node
  if ! command -v node > /dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
    unxz "$kit/node.xz" /tmp/webtune-node && chmod +x /tmp/webtune-node && node=/tmp/webtune-node
  fi
  local dawn=$kit/node_modules/webgpu/dist/linux-x64/dawn.node
  [ -f "$dawn" ] || { mkdir -p "$(dirname "$dawn")" && unxz "$kit/dawn.node.xz" "$dawn"; }
  echo "== node $($node -v), torch $(python3 -c 'import torch; print(torch.__version__, torch.cuda.is_available())' 2>&1)"

  echo "== torch_step.py --check (the baseline's model against the fixtures' goldens, float64 on the CPU)"
  python3 scripts/real-shapes/torch_step.py --check || failed=1
  local device model dtype
  device=$(python3 -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')
  for model in $models; do
    for dtype in float32 bfloat16; do
      echo "== PyTorch eager: $model, $dtype, $shape"
      # shellcheck disable=SC2086  # $shape is flags
      if python3 scripts/real-shapes/torch_step.py "$model" --device "$device" --dtype "$dtype" $shape --json /tmp/torch-step.json; then
        python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))))' /tmp/torch-step.json >> "$out/torch.jsonl"
      else
        failed=1
      fi
    done
  done
  for model in $models; do
    echo "== webtune on Dawn: $model, $shape"
    # shellcheck disable=SC2086
    timeout "$limit" "$node" "$kit/webtune.mjs" bench --runtime dawn --gpu "$gpu" --model "$model" $shape \
      ${peak:+--peak-gflops "$peak"} --out "$out/webtune-$model.json" || { echo "(exit $?)"; failed=1; }
  done
  echo "== done$([ "$failed" = 0 ] || echo ', with failures above')"
  return "$failed"
}

# Everything printed goes to log.txt too; the pipe (not exec > >(tee)) makes the script wait for tee to finish it.
main 2>&1 | tee "$out/log.txt"
status=$?
if [ "$(stat -c %s "$out/log.txt")" -gt 15000000 ]; then # the device tool returns files of 16 MiB at most
  tail -c 15000000 "$out/log.txt" > "$out/log.part" && mv "$out/log.part" "$out/log.txt"
fi
exit "$status"
