"""Checks that what retain writes loads in Hugging Face transformers and peft and computes the
golden outputs: every model folder DIR/save-<fixture> (retain's model_save of a fixture) and every
adapter folder DIR/adapter-save-<fixture> (retain's adapter_save), as the tests leave them under
BUILD/test-scratch.

    python3 tools/check-saved.py BUILD/test-scratch FIXTURES
"""
import json
import os
import sys

import peft
import torch
import transformers
from safetensors.torch import load_file


def logits_of(model, golden):
    inputs = {k: golden[k] for k in ("input_ids", "attention_mask", "pixel_values") if k in golden}
    if "labels" in golden and model.config.is_encoder_decoder:
        inputs["labels"] = golden["labels"]
    with torch.no_grad():
        return model(**inputs).logits


def main():
    scratch, fixtures = sys.argv[1], sys.argv[2]
    manifest = json.load(open(os.path.join(fixtures, "MANIFEST.json")))["models"]
    failures = 0
    for entry in sorted(os.listdir(scratch)):
        path = os.path.join(scratch, entry)
        if entry.startswith("save-"):
            name = entry[len("save-"):]
            model = transformers.AutoModelForImageClassification if name.startswith("vit") else (
                transformers.AutoModelForSeq2SeqLM if name.startswith("t5") else transformers.AutoModelForCausalLM)
            loaded = model.from_pretrained(path).eval()
        elif entry.startswith("adapter-save-"):
            name = entry[len("adapter-save-"):]
            base = transformers.AutoModelForCausalLM.from_pretrained(os.path.join(fixtures, manifest[name]["base"]))
            loaded = peft.PeftModel.from_pretrained(base, path).eval()
        else:
            continue
        golden = load_file(os.path.join(fixtures, name, "golden.safetensors"))
        diff = (logits_of(loaded, golden) - golden["logits"]).abs().max().item()
        ok = diff <= 1e-4
        failures += not ok
        print(f"{entry:28s} max|dlogit| {diff:.2e} {'ok' if ok else 'FAIL'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
