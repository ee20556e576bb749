#!/usr/bin/env bash
# Install a pinned llama.cpp for Python into a venv, for tools/llamacpp-logits.py.
#
#   scripts/install-llamacpp.sh VENV_DIR      (e.g. .cache/venv-llamacpp)
#
# llama-cpp-python==0.3.36 vendors ggml-org/llama.cpp@0c1e57098 and is on PyPI as
# an sdist only, so pip compiles that llama.cpp here with the machine's gcc, cmake
# and ninja (CPU only; nothing is fetched beyond PyPI). Cold build: ~17 CPU-minutes,
# i.e. ~10-25 min wall on 2 cores depending on load; venv ~150 MB. pip's wheel
# cache (~/.cache/pip) makes a rebuild of the venv on the same machine take seconds.
# (The prebuilt xllamacpp wheel installs in seconds but only exposes llama.cpp's
# server API, not per-position logits, so it is not used.)
#
# Idempotent: if VENV_DIR already has the pinned versions, nothing is done.
set -euo pipefail

LCP_VERSION=0.3.36
NUMPY_VERSION=2.3.5

fail() { echo "error: [install-llamacpp] $*" >&2; exit 1; }

[ $# -eq 1 ] || fail "usage: $0 VENV_DIR"
VENV=$1
PY=${PYTHON:-python3}

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "
import sys, llama_cpp, numpy
sys.exit(not (llama_cpp.__version__ == '$LCP_VERSION' and numpy.__version__ == '$NUMPY_VERSION'))" 2>/dev/null
then
  echo "[install-llamacpp] $VENV already has llama-cpp-python $LCP_VERSION"
  exit 0
fi

for tool in cc c++ cmake; do
  command -v $tool >/dev/null || fail "'$tool' not found; llama.cpp is built from source (apt-get install build-essential cmake ninja-build)"
done

"$PY" -m venv "$VENV" || fail "could not create a venv at $VENV with $PY"

# Exact pins for everything pip installs, build backend included (PIP_CONSTRAINT
# also reaches pip's isolated build environment).
cat > "$VENV/llamacpp-constraints.txt" <<EOF
llama-cpp-python==$LCP_VERSION
numpy==$NUMPY_VERSION
typing-extensions==4.16.0
diskcache==5.6.3
jinja2==3.1.6
MarkupSafe==3.0.4
scikit-build-core==1.1.2
packaging==26.4
pathspec==1.1.1
EOF
export PIP_CONSTRAINT="$VENV/llamacpp-constraints.txt"

# CPU-only libllama/libggml; skip llama.cpp's tools, tests, examples and the
# multimodal library, which the logits tool does not use.
export CMAKE_ARGS="${CMAKE_ARGS:-} -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF"
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}

echo "[install-llamacpp] building llama-cpp-python $LCP_VERSION into $VENV (log: $VENV/install.log)"
if ! "$VENV/bin/pip" install --disable-pip-version-check --only-binary=numpy \
       "numpy==$NUMPY_VERSION" "llama-cpp-python==$LCP_VERSION" > "$VENV/install.log" 2>&1; then
  fail "pip install llama-cpp-python==$LCP_VERSION failed: $(grep -m1 -iE '^error|error:' "$VENV/install.log" || tail -n 1 "$VENV/install.log") (full log: $VENV/install.log)"
fi

"$VENV/bin/python" -c "import llama_cpp; llama_cpp.llama_backend_init()" ||
  fail "llama_cpp was installed but does not load (see $VENV/install.log)"
echo "[install-llamacpp] ok: llama-cpp-python $LCP_VERSION in $VENV"
