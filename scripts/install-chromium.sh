#!/usr/bin/env bash
# Make sure a Chromium with WebGPU is there for the tests and the CLI.
# Uses $WEBTUNE_CHROMIUM when set; installs Debian's chromium with apt when missing and root.
set -euo pipefail

if [[ -n "${WEBTUNE_CHROMIUM:-}" ]]; then
  [[ -x "$WEBTUNE_CHROMIUM" ]] || { echo "WEBTUNE_CHROMIUM=$WEBTUNE_CHROMIUM is not an executable" >&2; exit 1; }
  echo "browser: $WEBTUNE_CHROMIUM"; exit 0
fi
for candidate in /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome /usr/bin/google-chrome-stable; do
  if [[ -x "$candidate" ]]; then echo "browser: $candidate"; exit 0; fi
done

if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "No Chromium found: installing Debian's chromium with apt-get..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  echo "browser: $(command -v chromium)"
  exit 0
fi

cat >&2 <<'MSG'
No Chromium found, and this script can only install one as root on Debian/Ubuntu.
Install it yourself:   sudo apt-get install -y chromium
or point webtune at a Chrome/Chromium you have:   export WEBTUNE_CHROMIUM=/path/to/chrome
MSG
exit 1
