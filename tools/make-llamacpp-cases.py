#!/usr/bin/env python3
"""Writes llama.cpp's own token ids for the byte-level (tokenizer.ggml.model = gpt2) GGUF tokenizer
fixtures, as a reference next to tests/fixtures/gguf/tokenizer-cases.json (whose ids come from
transformers' GGUF loader, which ignores tokenizer.ggml.pre; llama.cpp honours it, e.g. `smollm`
splits digits one by one).

    scripts/install-llamacpp.sh .cache/venv-llamacpp
    .cache/venv-llamacpp/bin/python tools/make-llamacpp-cases.py \\
        tests/fixtures/gguf/tokenizer-cases-llamacpp.json

Pins: llama-cpp-python==0.3.36 (vendors ggml-org/llama.cpp@0c1e57098, built from source by
scripts/install-llamacpp.sh, numpy==2.3.5), Python 3.11. Reads tests/fixtures/gguf/
tokenizer-smollm2.gguf and tokenizer-qwen2.5.gguf (metadata only, no tensors: llama.cpp loads them
with llama_model_params.vocab_only = True; the loading is tools/llamacpp-logits.py's load_model) and
the texts of their entries in tests/fixtures/gguf/tokenizer-cases.json, plus EXTRA_TEXTS below.
--fixtures DIR reads the .gguf files and tokenizer-cases.json from DIR instead.

OUT_JSON: {"<file>.gguf": [{"text", "ids", "ids_with_special", "bos_added"}, ...]} with
  ids               llama_tokenize(add_special=False, parse_special=False): control tokens written
                    in the text ("<|im_start|>") are NOT recognised, they are split as plain text
  ids_with_special  llama_tokenize(add_special=True, parse_special=True): BOS/EOS added as the
                    file's tokenizer.ggml.add_bos_token/add_eos_token say, control tokens recognised
  bos_added         whether ids_with_special starts with a BOS that add_special put there (checked
                    against llama_tokenize(add_special=False, parse_special=True)); a text that
                    merely begins with the BOS token's string (SmolLM2: BOS is "<|im_start|>")
                    does not count
So the list to compare with a tokenizer that always recognises special-token strings in the text
(as HF tokenizers, and retain's, do) and adds nothing is ids_with_special minus the first id when
bos_added. The run fails if add_special added anything but a leading BOS. Output is deterministic
(same inputs and pins give the same bytes); a summary goes to stderr.
"""
import argparse
import importlib.util
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = ["tokenizer-smollm2.gguf", "tokenizer-qwen2.5.gguf"]
EXTRA_TEXTS = ["Room 101 costs $12,345.67 in 2024", "3.14159 and 1e-10 and 0x1F", "v2.0.1-beta 42nd",
               "a1b22c333"]


def _load_logits_tool():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "llamacpp-logits.py")
    spec = importlib.util.spec_from_file_location("llamacpp_logits", path)
    module = importlib.util.module_from_spec(spec)
    sys.dont_write_bytecode = True  # no tools/__pycache__ from this import
    spec.loader.exec_module(module)  # exits with a hint if llama_cpp is not importable
    return module


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--fixtures", default=os.path.join(REPO, "tests", "fixtures", "gguf"))
    ap.add_argument("--verbose", action="store_true", help="show llama.cpp's whole log")
    a = ap.parse_args()
    lc = _load_logits_tool()
    L = lc.L

    with open(os.path.join(a.fixtures, "tokenizer-cases.json"), encoding="utf-8") as f:
        hf_cases = json.load(f)
    out = {}
    for fname in FILES:
        if fname not in hf_cases:
            lc.die(f"{fname} has no entry in tokenizer-cases.json")
        texts = []
        for text in [c["text"] for c in hf_cases[fname]] + EXTRA_TEXTS:
            if text not in texts:
                texts.append(text)
        model, vocab = lc.load_model(os.path.join(a.fixtures, fname), vocab_only=True, verbose=a.verbose)
        if L.llama_vocab_type(vocab) != L.LLAMA_VOCAB_TYPE_BPE:
            lc.die(f"{fname}: expected a byte-level BPE (gpt2) vocabulary")
        bos = L.llama_vocab_bos(vocab)
        entries = []
        for text in texts:
            plain = lc.tokenize(vocab, text, False, False)
            special = lc.tokenize(vocab, text, True, True)
            parsed = lc.tokenize(vocab, text, False, True)
            bos_added = special == [bos] + parsed
            if special != parsed and not bos_added:
                lc.die(f"{fname}: add_special added more than a leading BOS for {text!r}: "
                       f"{special} vs {parsed}")
            entries.append({"text": text, "ids": plain, "ids_with_special": special,
                            "bos_added": bos_added})
        out[fname] = entries
        print(f"[llamacpp-cases] {fname}: {len(entries)} texts, bos={bos} "
              f"add_bos={bool(L.llama_vocab_get_add_bos(vocab))} "
              f"add_eos={bool(L.llama_vocab_get_add_eos(vocab))} "
              f"bos_added in {sum(e['bos_added'] for e in entries)}, "
              f"plain != special in {sum(e['ids'] != e['ids_with_special'] for e in entries)}",
              file=sys.stderr)
        L.llama_model_free(model)

    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"[llamacpp-cases] wrote {a.out} ({os.path.getsize(a.out)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
