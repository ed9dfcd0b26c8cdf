#!/usr/bin/env bash
# The classroom's shipped adapters: trained by webtune itself (`pnpm cli classroom --ship`, headless Chromium) with the
# lesson's own recipe and seed (lesson.json, the preset's settings over it), into the preset's "adapters" folder
# (apps/studio/public/demo/adapters/<preset>/), with a snapshot of each stage's run after its first steps and
# shipped.json (the recipe, the SHA-256 of every demo file read and of every file written, each step's metrics, the
# figures and answers). Run from anywhere:
#   bash scripts/demo/ship-adapters.sh [preset]               train and write them (quick: ~5 minutes on 2 idle cores)
#   VERIFY=1 bash scripts/demo/ship-adapters.sh [preset]      check them: the fingerprint, then the first steps of each
#                                                             stage trained fresh against the snapshots (about a minute)
#   VERIFY=full bash scripts/demo/ship-adapters.sh [preset]   the whole recipe trained fresh against the final adapters
set -euo pipefail
cd "$(dirname "$0")/../.."
preset="${1:-quick}"
demo=apps/studio/public/demo
folder=$(node -e 'const p = require(process.argv[1]).presets?.[process.argv[2]]; if (!p?.adapters) process.exit(1); console.log(p.adapters)' \
  "./$demo/lesson.json" "$preset") || { echo "lesson.json has no preset \"$preset\" with an \"adapters\" folder" >&2; exit 2; }
# A profile of its own, thrown away after: nothing cached from another run (reference log-probs, checkpoints) is used.
profile=$(mktemp -d /tmp/webtune-ship-XXXXXX)
trap 'rm -rf "$profile"' EXIT
export WEBTUNE_PROFILE_DIR="$profile"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" >&2
case "${VERIFY:-}" in
  "") pnpm --silent cli classroom --preset "$preset" --ship "$demo/$folder" ;;
  full) pnpm --silent cli classroom --preset "$preset" --verify-shipped --full ;;
  *) pnpm --silent cli classroom --preset "$preset" --verify-shipped ;;
esac
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
