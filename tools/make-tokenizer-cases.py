"""Writes a tokenizer cases file in the layout of tests/fixtures/tokenizers/cases.json with Hugging
Face tokenizers, for every tokenizer in TOKENIZER_DIR (<name>-tokenizer.json), on texts that differ
from the bundled cases: lines of prose and code from Python's own sources plus random strings
mixing scripts, whitespace, digits, emoji and the tokenizers' special tokens.

    python3 tools/make-tokenizer-cases.py TOKENIZER_DIR OUT.json [--count N]

Then `RETAIN_TOKENIZER_CASES=OUT.json RETAIN_TOKENIZER_DIR=TOKENIZER_DIR` runs the tokenizer tests
on them.
"""
import argparse
import glob
import inspect
import json
import os
import random

from tokenizers import Tokenizer

PIECES = ["Hello", " world", "  ", "\n", "\r\n", "\t", "naïve", "café", "Ünïcödé", "日本語", "中文", "한국어", "Ελληνικά",
          "русский", "עברית", "العربية", "हिन्दी", "🙂", "👩\u200d👩\u200d👧", "🚀", "∑", "√", "©", "123", "4567890", "3.14",
          "'s", "'ll", "DON'T", "http://x.org/a?b=c", "a.b@c.de", "   ", "__init__", "x += 1;", "{}", "[]", "...", "—",
          "“", "”", "\u00a0", "\u3000", "e\u0301", "A\u030a", "ﬁ", "Ⅻ", "①", "\u200b", "<s>", "</s>", "<unk>"]


def random_text(rng, specials):
    parts = PIECES + specials
    return "".join(rng.choice(parts) for _ in range(rng.randint(1, 12)))


def prose_lines():
    import collections, json as json_module, textwrap, email
    lines = []
    for module in (collections, json_module, textwrap, email, argparse, random, inspect):
        for line in inspect.getsource(module).splitlines():
            if line.strip():
                lines.append(line)
    return lines


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("tokenizer_dir")
    parser.add_argument("out")
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(11)
    prose = prose_lines()
    cases = {}
    for path in sorted(glob.glob(os.path.join(args.tokenizer_dir, "*-tokenizer.json"))):
        name = os.path.basename(path)[: -len("-tokenizer.json")]
        tok = Tokenizer.from_file(path)
        specials = [t.content for t in tok.get_added_tokens_decoder().values()][:8]
        texts = [rng.choice(prose) for _ in range(args.count // 2)]
        texts += [random_text(rng, specials) for _ in range(args.count - len(texts))]
        texts.append("\n".join(rng.choice(prose) for _ in range(40)))  # one long multi-line text
        entries = []
        for text in texts:
            plain = tok.encode(text, add_special_tokens=False).ids
            special = tok.encode(text, add_special_tokens=True).ids
            entries.append({"text": text, "ids": plain, "ids_with_special": special,
                            "decoded": tok.decode(special, skip_special_tokens=True)})
        cases[name] = entries
    json.dump(cases, open(args.out, "w"), ensure_ascii=False, indent=0)
    print("wrote", args.out, {k: len(v) for k, v in cases.items()})


if __name__ == "__main__":
    main()
