#!/usr/bin/env bash
# bench/peers/setup.sh VENV - a Python virtual environment holding the peer of the benchmarks,
# exactly as bench/peers/requirements.txt pins it (no other version is ever resolved: --no-deps over
# the full pinned list). Kept when its versions already match. Needs python3 with venv and pip, and
# the Python package registry.
set -euo pipefail
venv=${1:?usage: bench/peers/setup.sh VENV}
here=$(cd "$(dirname "$0")" && pwd)
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "[peers] installing the pinned peer into $venv (about 5.6 GB: pip's torch brings its CUDA libraries)" >&2
python3 -m venv "$venv" || { echo "[peers] python3 -m venv $venv failed (apt-get install python3-venv)" >&2; exit 1; }
if ! "$venv/bin/pip" install --quiet --no-deps -r "$here/requirements.txt" > "$venv/install.log" 2>&1; then
  echo "[peers] pip install failed: $(grep -m1 -iE 'error' "$venv/install.log" || tail -n 1 "$venv/install.log") (log: $venv/install.log)" >&2
  exit 1
fi
"$venv/bin/python" -c "import torch, transformers, peft" || { echo "[peers] the peer does not import (log: $venv/install.log)" >&2; exit 1; }
echo "$want" > "$stamp"
