#!/usr/bin/env bash
# Writes OUT/<model>-<type>.json (default OUT: tests/fixtures/gguf/llamacpp): the logits llama.cpp
# itself computes on the GGUF files `retain convert` writes from the tiny Hugging Face fixtures
# (tests/fixtures/hf/{llama,llama3-rope,qwen2,qwen3}, types f32 f16 q8_0 q4_0, the tokenizer of
# tests/fixtures/gguf/llama-f32.gguf), with each file's size and FNV-1a 64 checksum, so the test
# (tests/gguf-model-test.cpp) can check it writes the very file llama.cpp ran.
#
#   make build && scripts/install-llamacpp.sh .cache/venv-llamacpp && tools/make-llamacpp-logits.sh
#
# RETAIN (default build/retain) and PYTHON (default .cache/venv-llamacpp/bin/python, with
# llama-cpp-python 0.3.36 = llama.cpp 0c1e57098) can be overridden.
set -euo pipefail
cd "$(dirname "$0")/.."
retain=${RETAIN:-build/retain}
py=${PYTHON:-.cache/venv-llamacpp/bin/python}
out=${1:-tests/fixtures/gguf/llamacpp}
ids=5,17,300,42,99,7,250,383,3,128,64,1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
for model in llama llama3-rope qwen2 qwen3; do
  for type in f32 f16 q8_0 q4_0; do
    "$retain" convert "tests/fixtures/hf/$model" "$tmp/$model-$type.gguf" --type "$type" \
      --tokenizer tests/fixtures/gguf/llama-f32.gguf >/dev/null
    "$py" tools/llamacpp-logits.py "$tmp/$model-$type.gguf" --ids "$ids" --out "$tmp/$model-$type.json" 2>/dev/null
    "$py" - "$model" "$type" "$tmp/$model-$type.gguf" "$tmp/$model-$type.json" "$out/$model-$type.json" <<'PY'
import json, sys
model, qtype, gguf, logits, out = sys.argv[1:]
data = open(gguf, "rb").read()
h = 0xCBF29CE484222325
for b in data:
    h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
d = json.load(open(logits))
with open(out, "w") as f:
    json.dump({"hf_fixture": model, "type": qtype, "file_bytes": len(data), "fnv1a64": format(h, "016x"),
               "ids": d["ids"], "logits": [[float("%.8g" % v) for v in row] for row in d["logits"]]}, f)
    f.write("\n")
PY
    echo "[llamacpp-logits] $out/$model-$type.json"
  done
done
