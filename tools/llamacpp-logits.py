#!/usr/bin/env python3
"""Run a GGUF model through llama.cpp itself (CPU) and dump its logits.

Reference check for our GGUF writer: whatever we write must load and run in
upstream llama.cpp. Uses llama-cpp-python (pinned; it builds its vendored
llama.cpp with the local compiler) through its low-level C API bindings.

Install once (cold build of llama.cpp: ~17 CPU-min, 10-25 min on 2 cores):
    scripts/install-llamacpp.sh .cache/venv-llamacpp
Run with that venv's python:
    .cache/venv-llamacpp/bin/python tools/llamacpp-logits.py M.gguf --ids 1,2,3 [--out l.json]
    .cache/venv-llamacpp/bin/python tools/llamacpp-logits.py M.gguf --tokenize "Hello"

--ids: all ids are evaluated in ONE batch at positions 0..n-1, no BOS added,
sequence 0, logits requested for every position. Output JSON:
    {"n_vocab": V, "ids": [...], "logits": [[V floats] per position]}
Logits are llama.cpp's float32 output (written as JSON floats via repr, so
they round-trip exactly to float32). KV cache is f32, flash attention off,
no GPU offload; weights are used in their stored type (quantized matmuls
still quantize activations, as llama.cpp always does on CPU).
A summary (argmax of the last position and its text piece) goes to stderr.

--tokenize: prints llama.cpp's ids for TEXT twice as JSON lines:
"plain" (add_special=False, parse_special=False) and "special"
(add_special=True -> BOS etc. as the model's metadata asks,
parse_special=True -> "<|im_start|>" etc. become single ids).
--verbose shows llama.cpp's whole log (otherwise only its errors).

What llama.cpp (vendored @0c1e57098) demands of a GGUF, as tried here: a known
general.architecture; tokenizer.ggml.model (may be "none", then
<arch>.vocab_size gives n_vocab, and --tokenize is refused); general.alignment
optional (default 32; if present a u32 power of 2). Tiny models (hidden 64,
head dim 16, vocab 384, 2 layers) load fine.
"""
import argparse
import ctypes
import json
import sys

try:
    import numpy as np
    import llama_cpp as L
except ImportError:
    sys.exit("error: [llamacpp-logits] llama_cpp not importable: run with the venv "
             "made by scripts/install-llamacpp.sh")

_show_all = False
_last_level = 0


@L.llama_log_callback
def _log(level, text, _user):
    # ggml levels: 1 debug, 2 info, 3 warn, 4 error, 5 continuation of previous
    # (llama-cpp-python's own logger maps these wrongly and hides errors).
    global _last_level
    if level != 5:
        _last_level = level
    if _show_all or _last_level >= 4:
        sys.stderr.write(text.decode("utf-8", errors="replace"))


def die(msg):
    print(f"error: [llamacpp-logits] {msg}", file=sys.stderr)
    sys.exit(1)


def piece(vocab, tok):
    if L.llama_vocab_type(vocab) == L.LLAMA_VOCAB_TYPE_NONE:
        return ""  # tokenizer.ggml.model == "none": no token texts
    buf = ctypes.create_string_buffer(256)
    n = L.llama_token_to_piece(vocab, tok, buf, len(buf), 0, True)
    return buf.raw[: max(n, 0)].decode("utf-8", errors="replace")


def tokenize(vocab, text, add_special, parse_special):
    data = text.encode("utf-8")
    cap = len(data) + 16
    toks = (L.llama_token * cap)()
    n = L.llama_tokenize(vocab, data, len(data), toks, cap, add_special, parse_special)
    if n < 0:
        die(f"llama_tokenize failed ({n})")
    return list(toks[:n])


def load_model(path, vocab_only, verbose=False):
    """Loads PATH with llama.cpp (CPU; vocab_only=True reads only the tokenizer.* metadata, so a
    GGUF without tensors loads too) and returns (model, vocab); dies with llama.cpp's error."""
    global _show_all
    _show_all = verbose
    L.llama_log_set(_log, ctypes.c_void_p(0))
    L.llama_backend_init()
    mp = L.llama_model_default_params()
    mp.n_gpu_layers = 0
    mp.vocab_only = vocab_only
    model = L.llama_model_load_from_file(path.encode(), mp)
    if not model:
        die(f"llama.cpp failed to load {path} (its error is above; --verbose for the full log)")
    return model, L.llama_model_get_vocab(model)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--ids", help="comma-separated token ids")
    g.add_argument("--tokenize", metavar="TEXT")
    ap.add_argument("--out", help="JSON output file (default: stdout)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()

    model, vocab = load_model(a.model, vocab_only=a.tokenize is not None, verbose=a.verbose)
    n_vocab = L.llama_vocab_n_tokens(vocab)

    if a.tokenize is not None:
        if L.llama_vocab_type(vocab) == L.LLAMA_VOCAB_TYPE_NONE:
            die('tokenizer.ggml.model is "none": this model has no tokenizer')
        for name, add, special in (("plain", False, False), ("special", True, True)):
            ids = tokenize(vocab, a.tokenize, add, special)
            print(json.dumps({"mode": name, "ids": ids,
                              "pieces": [piece(vocab, t) for t in ids]}))
        return

    try:
        ids = [int(x) for x in a.ids.split(",") if x.strip()]
    except ValueError:
        die(f"--ids must be comma-separated integers, got {a.ids!r}")
    n = len(ids)
    if n == 0 or any(t < 0 or t >= n_vocab for t in ids):
        die(f"need 1+ ids in [0, {n_vocab})")

    cp = L.llama_context_default_params()
    cp.n_ctx = n           # llama.cpp may round this up internally; that is fine
    cp.n_batch = n         # whole input is one batch ...
    cp.n_ubatch = n        # ... and one micro-batch (one graph evaluation)
    cp.n_seq_max = 1
    cp.n_outputs_max = cp.n_outputs_max_per_seq = n  # logits for every position
    cp.n_threads = cp.n_threads_batch = a.threads
    cp.type_k = cp.type_v = L.GGML_TYPE_F32
    cp.flash_attn_type = L.LLAMA_FLASH_ATTN_TYPE_DISABLED
    cp.offload_kqv = False
    cp.op_offload = False
    cp.embeddings = False
    cp.no_perf = True
    ctx = L.llama_init_from_model(model, cp)
    if not ctx:
        die("llama_init_from_model failed (rerun with --verbose for its log)")

    batch = L.llama_batch_init(n, 0, 1)
    for i, t in enumerate(ids):
        batch.token[i] = t
        batch.pos[i] = i
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = 0
        batch.logits[i] = 1
    batch.n_tokens = n
    rc = L.llama_decode(ctx, batch)
    if rc != 0:
        die(f"llama_decode returned {rc}")

    rows = []
    for i in range(n):
        p = L.llama_get_logits_ith(ctx, i)
        if not p:
            die(f"no logits for position {i}")
        rows.append(np.ctypeslib.as_array(p, shape=(n_vocab,)).astype(np.float32))
    top = int(np.argmax(rows[-1]))
    print(f"[llamacpp-logits] n_vocab={n_vocab} n={n} last argmax={top} "
          f"{piece(vocab, top)!r} logit={rows[-1][top]:.4f}", file=sys.stderr)

    out = {"n_vocab": n_vocab, "ids": ids,
           "logits": [[float(v) for v in r] for r in rows]}
    if a.out:
        with open(a.out, "w") as f:
            json.dump(out, f)
    else:
        json.dump(out, sys.stdout)
        sys.stdout.write("\n")

    L.llama_batch_free(batch)
    L.llama_free(ctx)
    L.llama_model_free(model)


if __name__ == "__main__":
    main()
