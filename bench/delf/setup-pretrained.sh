#!/usr/bin/env bash
# Fetch ImageNet-pretrained MobileNetV2 weights for the DELF backbone: the npm package
# nsfwjs 4.4.0 (MIT) ships a MobileNetV2 (224 px, width 1.0) as a TF.js layers model whose
# layers up to block_10 keep their ImageNet weights (8-bit quantized); the later blocks were
# fine-tuned for its own task and are not used. engine-cli reads the model files as they are
# (org.deephash.model.pretrained.TfjsLayersModel); nothing from the package is executed.
#
#   bench/delf/setup-pretrained.sh [--force] [DIR]     (DIR defaults to data/pretrained)
#
# Output: DIR/mobilenet_v2/{model.min.js,group1-shard1of1.min.js,LICENSE}
# Needs npm (apt-get install -y npm); the tarball's SHA-256 is checked against the pinned one.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
version=4.4.0
sha256=585cd178f3b994337c4d10a87b080d342fc52f8b9bf0085c4d1f345a3a1c5382
source "$repo/bench/setup-args.sh"
setup_args setup-pretrained 11 "$repo/data/pretrained" "$@"
out="$dir/mobilenet_v2"
if [[ $force -eq 0 && -f "$out/.done" && "$(cat "$out/.done")" == "$sha256" ]]; then
  echo "setup-pretrained: $out is up to date (--force to fetch again)"
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "setup-pretrained: npm not found: apt-get install -y npm" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "setup-pretrained: npm pack nsfwjs@$version"
(cd "$tmp" && npm pack --silent "nsfwjs@$version" >/dev/null)
tgz="$tmp/nsfwjs-$version.tgz"
got="$(sha256sum "$tgz" | cut -d' ' -f1)"
if [[ "$got" != "$sha256" ]]; then
  echo "setup-pretrained: nsfwjs-$version.tgz has SHA-256 $got, expected $sha256; refusing it" >&2
  exit 1
fi
tar -xzf "$tgz" -C "$tmp" package/LICENSE package/dist/models/mobilenet_v2
# write next to the target and rename, so an interrupted run leaves the old copy whole
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
cp "$tmp"/package/dist/models/mobilenet_v2/* "$tmp/package/LICENSE" "$out.tmp/"
echo "$sha256" > "$out.tmp/.done"
rm -rf "$out"
mv "$out.tmp" "$out"
echo "setup-pretrained: wrote $out ($(du -sh "$out" | cut -f1))"
