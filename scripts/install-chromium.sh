#!/usr/bin/env bash
# Make sure the WebGPU stacks the tests use are there: a Chromium (headless WebGPU), and the
# Vulkan loader that Dawn in Node (the `webgpu` package) needs to reach a GPU or Chromium's
# SwiftShader. Uses $WEBTUNE_CHROMIUM when set; installs what is missing with apt when root.
set -euo pipefail

browser=""
if [[ -n "${WEBTUNE_CHROMIUM:-}" ]]; then
  [[ -x "$WEBTUNE_CHROMIUM" ]] || { echo "WEBTUNE_CHROMIUM=$WEBTUNE_CHROMIUM is not an executable" >&2; exit 1; }
  browser="$WEBTUNE_CHROMIUM"
fi
for candidate in /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome /usr/bin/google-chrome-stable; do
  if [[ -z "$browser" && -x "$candidate" ]]; then browser="$candidate"; fi
done
missing=()
[[ -n "$browser" ]] || missing+=(chromium)
/sbin/ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 ' || missing+=(libvulkan1)

if [[ ${#missing[@]} -gt 0 ]]; then
  if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "Installing ${missing[*]} with apt-get..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [[ -n "$browser" ]] || browser="$(command -v chromium)"
  else
    cat >&2 <<MSG
Missing: ${missing[*]}. This script can only install them as root on Debian/Ubuntu.
Install them yourself:   sudo apt-get install -y ${missing[*]}
or point webtune at a Chrome/Chromium you have:   export WEBTUNE_CHROMIUM=/path/to/chrome
MSG
    exit 1
  fi
fi
echo "browser: $browser"
