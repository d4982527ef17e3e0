#!/usr/bin/env bash
# A fresh clone stands on its own: no tracked file refers to a folder beside the repository, and
# the committed tree, cloned into a temporary folder with nothing around it, builds and runs the
# whole demo (the demo test asserts each of its sections: risk levels, the photo sealed and
# opened, the location flags with their reasons, the audit chain).
#
# `bash scripts/fresh-clone.sh` (part of scripts/test.sh). It clones HEAD: commit first.
# The clone builds into target/fresh-clone of this checkout (kept between runs, so only the
# first run builds the dependencies): not into target/ itself, whose artifacts would then carry
# the clone's paths (the fixtures' folder is compiled in) and outlive it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

echo "== no tracked file refers to the shared folder beside the repository"
# The pattern is spelt with escapes, and no message here spells the path, so that this file
# does not match itself.
if git grep -n -E '\.\./shared' -- .; then
  echo "the tracked files above refer to a folder beside the repository, which a fresh clone does not have" >&2
  exit 1
fi

# One fixed folder, so that target/fresh-clone never holds artifacts built from another path.
tmp=/tmp/safehome-fresh-clone
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
for d in "$tmp" "$(dirname "$tmp")"; do
  if [ -e "$d/shared" ] || [ -e "$(dirname "$d")/shared" ]; then
    echo "$d has a shared/ folder near it: the check would prove nothing" >&2
    exit 1
  fi
done

echo "== git clone into $tmp/safehome, then the demo test there"
git clone --quiet --no-hardlinks "$root" "$tmp/safehome"
cd "$tmp/safehome"
CARGO_TARGET_DIR="$root/target/fresh-clone" cargo test --locked -p safehome-cli --test cli demo_ -- --nocapture

echo "fresh clone: OK"
