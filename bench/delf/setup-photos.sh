#!/usr/bin/env bash
# Collect real photographs shipped in Debian packages, for the DELF instance-retrieval
# benchmark (Noh et al., ICCV 2017), and write DIR/manifest.tsv.
#
#   bench/delf/setup-photos.sh [--force] [DIR]      (DIR defaults to data/photos)
#
# Nothing is installed and no root is needed: each package is fetched with
# `apt-get download` into a temporary directory and unpacked with `dpkg-deb -x`.
# Which files count as photographs is decided in bench/delf/photo_select.py (patterns judged
# by eye once, plus JPEG/PNG headers of at least 200x200 px read with the Python stdlib).
#
# Output:
#   DIR/photos/<package>/<file>         the photographs (query / database images)
#   DIR/distractors/stellarium-data/    astronomy photos, database-only distractors
#   DIR/manifest.tsv                    id, path (relative to DIR), package, width, height,
#                                       sha256, role (train | heldout | distractor), group
# role is a hash of the group (photos of one scene share a group), ~30% heldout.
# Identical files (same sha256) are kept once: first package in the list wins.
#
# Idempotent: a package whose DIR/.../<package>/.done stamp matches the current rules is not
# downloaded again; --force redoes every package. The data are not for git: keep DIR ignored.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
source "$repo/bench/setup-args.sh"
setup_args setup-photos 21 "$repo/data/photos" "$@"

for tool in apt-get dpkg-deb python3; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "setup-photos: '$tool' not found; this script needs a Debian/Ubuntu system with $tool" >&2
    exit 2
  }
done

select_py="$here/photo_select.py"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
stamp_value="$(python3 "$select_py" rules-hash)"

work="$(mktemp -d "${TMPDIR:-/tmp}/setup-photos.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# apt-get download writes into the current directory; as root it warns that the _apt user
# cannot write there, which is harmless: silence only that line.
fetch() { # fetch PACKAGE_DIR_NAME ALTERNATIVES(a|b) -> path of the .deb on stdout
  local name="$1" alts="$2" alt log
  local d="$work/deb-$name"
  mkdir -p "$d"
  local -a names
  IFS="|" read -r -a names <<<"$alts"
  for alt in "${names[@]}"; do
    log="$work/apt-$alt.log"
    if (cd "$d" && apt-get download "$alt") >"$log" 2>&1; then
      ls "$d"/*.deb
      return 0
    fi
  done
  echo "setup-photos: 'apt-get download' failed for ${alts//|/ and }." >&2
  echo "  Is there network access and an apt source (try 'apt-get update')? apt said:" >&2
  grep -v -e 'unsandboxed as root' "$log" | tail -n 5 | sed 's/^/    /' >&2
  return 1
}

while IFS=$'\t' read -r name alts kind need; do
  if [[ "$kind" == distractor ]]; then dest="$dir/distractors/$name"; else dest="$dir/photos/$name"; fi
  if [[ $force -eq 0 && -f "$dest/.done" && "$(cat "$dest/.done")" == "$stamp_value" ]]; then
    echo "$name: already set up, skipping"
    continue
  fi
  echo "$name: downloading"
  if ! deb="$(fetch "$name" "$alts")"; then
    # Without network every package fails the same way: stop at the first required one.
    [[ "$need" == required ]] || { echo "  $name is optional: left out" >&2; continue; }
    echo "setup-photos: stopped; $dir/manifest.tsv was not (re)written" >&2
    exit 1
  fi
  root="$work/root-$name"
  mkdir -p "$root"
  if ! dpkg-deb -x "$deb" "$root"; then
    echo "setup-photos: 'dpkg-deb -x $deb' failed (corrupt download? rerun)" >&2
    exit 1
  fi
  rm -rf "$dest"
  python3 "$select_py" copy "$name" "$root" "$dest"
  echo "$stamp_value" >"$dest/.done"
  rm -rf "$root" "$work/deb-$name"   # the largest .deb is ~250 MB: free it now
done < <(python3 "$select_py" packages)

python3 "$select_py" manifest "$dir"
echo "manifest: $dir/manifest.tsv"
