"""Trains two small SentencePiece Unigram models with the trainer settings T5 used, converts them to
Hugging Face tokenizer.json files the way transformers does, and writes a cases file in the layout
of tests/fixtures/tokenizers/cases.json with the ids Hugging Face tokenizers produces for them:

- t5: vocab_size 284, byte_fallback off, converted by transformers' T5Tokenizer with extra_ids=100
  (284 pieces + <extra_id_99> .. <extra_id_0> = 384 ids, the vocab_size of tests/fixtures/hf/t5);
  normalizer Precompiled (nmt_nfkc), pre-tokenizer WhitespaceSplit + Metaspace, post-processor
  appending </s>, decoder Metaspace.
- unigram-bytes: vocab_size 600 with byte_fallback on (256 <0xNN> pieces), converted by
  AutoTokenizer from a bare tokenizer.model, i.e. transformers' generic SentencePiece path
  (SpmConverter.build_tokenizer_from_spm_proto): Unigram with byte_fallback, normalizer Precompiled
  + Replace(" ", "▁"), no pre-tokenizer (so no dummy prefix and no whitespace collapsing, unlike
  sentencepiece itself), decoder Replace + ByteFallback + Fuse. T5Tokenizer always builds its
  Unigram with byte_fallback off, so it cannot produce this one.

The training text is the source of a few Python stdlib modules (as in make-tokenizer-cases.py) plus
fixed lines of accented Latin-script text; the trainer runs on one thread with a fixed seed and no
sampling, so the output depends only on the Python version (its stdlib sources) and the pinned
packages. The cases are the texts of the "llama2" key of tests/fixtures/tokenizers/cases.json plus
texts aimed at the Precompiled normalizer and at Unigram; each is also encoded with sentencepiece
itself and the agreement is printed (for information; it is not written to the file).

    python3 -m venv VENV && VENV/bin/pip install transformers==5.23.0 tokenizers==0.23.3
    VENV/bin/pip install sentencepiece==0.2.3 protobuf==7.36.2
    VENV/bin/python tools/make-unigram-tokenizer.py tests/fixtures/tokenizers OUT.json

writes TOKENIZER_DIR/t5-tokenizer.json and TOKENIZER_DIR/unigram-bytes-tokenizer.json and OUT.json
({"t5": [...], "unigram-bytes": [...]}); `RETAIN_TOKENIZER_CASES=OUT.json
RETAIN_TOKENIZER_DIR=TOKENIZER_DIR` runs the tokenizer tests on them. The bundled files were made
with Python 3.11.7.
"""
import argparse
import hashlib
import importlib.util
import io
import json
import os
import random
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import sentencepiece as spm  # noqa: E402
import transformers  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
from transformers import AutoTokenizer, T5Tokenizer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLED_CASES = os.path.join(HERE, "..", "tests", "fixtures", "tokenizers", "cases.json")

# Repeated ten times in the training text so that character_coverage=0.9995 keeps most of their
# accented letters (the rarest ones, e.g. ż, ž, —, “, ”, drop out and become <unk> or bytes).
ACCENTED = [
    "Le café est à côté de l’hôtel, où la crème brûlée coûte très cher.",
    "Ça va ? Oui, c’est déjà l’été : on mange une bûche et des œufs à la française.",
    "Der Bär läuft über die Straße, und die Mädchen hören Musik im Gärtchen.",
    "Grüße aus München! Schöne Größe, süße Äpfel, Übermaß und Ölkännchen.",
    "El niño comió piña en la montaña; ¿qué pasó después? ¡Mañana será otro día!",
    "La canción del corazón está en el jardín de mi abuelo, según él.",
    "A informação não está disponível; a ação começa às três horas, irmã.",
    "Perché la città è così bella? Però il caffè più buono è là giù.",
    "Zażółć gęślą jaźń; łódź płynie po jeziorze, ćma leci nad źdźbłem.",
    "Příliš žluťoučký kůň úpěl ďábelské ódy, řekl můj přítel.",
    "Åsa och Örjan åt smörgåsar vid sjön; Ærø og Øresund ligger nær.",
    "Türkçe öğrenmek güzel; şimdi çay içiyoruz, ağabey ile ışıkta.",
    "Tiếng Việt có nhiều dấu: người, những, được, thế, giới.",
    "Naïve résumé, façade, fiancée, coöperate and déjà vu — “quoted” ‘single’ words…",
    "Él dijo: «¡Qué día más bonito!» y ella respondió: «Sí, señor».",
    "Ünïcödé façade naïveté: São Paulo, Zürich, Kraków, Malmö, Besançon.",
]

# Trainer settings of T5's spiece.model (pad 0, eos 1, unk 2, no bos, nmt_nfkc, dummy prefix,
# whitespace collapsing), made deterministic: one thread, every sentence, no shuffling.
TRAINER = dict(model_type="unigram", character_coverage=0.9995, normalization_rule_name="nmt_nfkc",
               add_dummy_prefix=True, remove_extra_whitespaces=True, pad_id=0, pad_piece="<pad>",
               eos_id=1, eos_piece="</s>", unk_id=2, unk_piece="<unk>", bos_id=-1, num_threads=1,
               input_sentence_size=0, shuffle_input_sentence=False, minloglevel=2)
SEED = 1


def prose_lines():
    """The stdlib source lines tools/make-tokenizer-cases.py draws its prose from (its own function)."""
    spec = importlib.util.spec_from_file_location("make_tokenizer_cases", os.path.join(HERE, "make-tokenizer-cases.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.prose_lines()


def train(lines, vocab_size, byte_fallback):
    out = io.BytesIO()
    spm.set_random_generator_seed(SEED)
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=out, vocab_size=vocab_size,
                                   byte_fallback=byte_fallback, **TRAINER)
    model = out.getvalue()
    size = spm.SentencePieceProcessor(model_proto=model).get_piece_size()
    assert size == vocab_size, (size, vocab_size)
    return model


def convert(model, file_name, load):
    """Saves `model` as `file_name` in a scratch folder, loads it with `load`, saves the tokenizer and
    returns (the transformers tokenizer, the text of the tokenizer.json it wrote)."""
    with tempfile.TemporaryDirectory() as scratch:
        with open(os.path.join(scratch, file_name), "wb") as f:
            f.write(model)
        tok = load(scratch)
        tok.save_pretrained(os.path.join(scratch, "out"))
        with open(os.path.join(scratch, "out", "tokenizer.json"), encoding="utf-8") as f:
            return tok, f.read()


def parts(tokenizer_json):
    """Everything but the vocab, with the charsmap shortened."""
    j = json.loads(tokenizer_json)
    for n in precompiled(j["normalizer"]):
        n["precompiled_charsmap"] = "<%d base64 characters>" % len(n["precompiled_charsmap"])
    j["model"].pop("vocab")
    j["added_tokens"] = "<%d added tokens>" % len(j["added_tokens"])
    return j


def precompiled(normalizer):
    steps = normalizer["normalizers"] if normalizer["type"] == "Sequence" else [normalizer]
    return [n for n in steps if n["type"] == "Precompiled" and n.get("precompiled_charsmap")]


def check_t5(tokenizer_json):
    j = json.loads(tokenizer_json)
    assert j["model"]["type"] == "Unigram" and j["model"]["unk_id"] == 2 and not j["model"]["byte_fallback"]
    vocab = [p for p, _ in j["model"]["vocab"]]
    assert len(vocab) == 384 and vocab[:3] == ["<pad>", "</s>", "<unk>"], vocab[:3]
    assert vocab[284] == "<extra_id_99>" and vocab[383] == "<extra_id_0>"
    assert j["normalizer"]["type"] == "Precompiled" and precompiled(j["normalizer"])
    post = j["post_processor"]
    assert post["type"] == "TemplateProcessing" and post["single"][-1] == {"SpecialToken": {"id": "</s>", "type_id": 0}}
    assert post["special_tokens"]["</s>"]["ids"] == [1]
    added = {t["content"]: t["id"] for t in j["added_tokens"]}
    assert added["<extra_id_0>"] == 383 and added["</s>"] == 1 and all(t["special"] for t in j["added_tokens"])


def check_bytes(tokenizer_json):
    j = json.loads(tokenizer_json)
    assert j["model"]["type"] == "Unigram" and j["model"]["unk_id"] == 2 and j["model"]["byte_fallback"] is True
    vocab = [p for p, _ in j["model"]["vocab"]]
    assert len(vocab) == 600 and vocab[:3] == ["<pad>", "</s>", "<unk>"]
    assert all("<0x%02X>" % b in vocab for b in range(256))
    assert precompiled(j["normalizer"])
    assert {"type": "ByteFallback"} in j["decoder"]["decoders"]


def extra_texts():
    long_text = "\n".join(prose_lines()[100:160]) + "\n" + " ".join(ACCENTED)
    long_text = long_text[:2000]
    assert len(long_text) == 2000
    return [
        # NFKC compatibility characters
        "ﬁnance ﬂow ﬀ ﬃ ﬄ", "ﬁ", "①②③ ⑩ ⑳", "①", "Ⅻ Ⅳ ⅷ Ⅸ", "㍿ ㌔ ㎏ ㎞ ℃ ℉ ㈱ ㊙",
        "ＡＢＣ１２３ ｆｕｌｌ－ｗｉｄｔｈ！", "ｈｅｌｌｏ\u3000ｗｏｒｌｄ", "ｶﾞｷﾞｸﾞ ﾊﾟﾋﾟ ｱｲｳ ﾟﾞ",
        "x²³ H₂O ½ ¼ ¾ µ ⁿ ₐ", "™ ℠ © ® … ‥", "𝐀𝐁𝐂 𝕏 ℝ ℕ", "ǅemal ǈ ǋ", "Straße STRASSE ß ẞ",
        "İstanbul ıi", "٠١٢٣ ०१२३ １２３",
        # combining sequences, precomposed vs decomposed
        "e\u0301", "cafe\u0301 vs caf\u00e9", "A\u030a vs \u00c5 vs \u212b", "a\u0308\u0301",
        "\u1100\u1161\u11a8 vs \uac01", "한국어 and \u1112\u1161\u11ab\u1100\u116e\u11a8", "n\u0303o\u0308",
        "Zu\u0308rich Mu\u0308nchen Gro\u0308\u00dfe", "Tie\u0302\u0301ng Vie\u0323\u0302t vs Tiếng Việt",
        "\u0301start", "e\u0323\u0302 vs e\u0302\u0323", "x\u0301\u0301\u0301", "e\u0302\u0301\u0323 (7 bytes)",
        "variation\ufe0f selector ❤️ ❤\ufe0e",
        # emoji
        "👩\u200d💻 👨\u200d👩\u200d👧\u200d👦", "👍🏽 👋🏿 🧑🏻\u200d🚀", "🇫🇷🇩🇪🇯🇵 🏳️\u200d🌈", "🇦 🇧🇨 🇿",
        # whitespace and controls
        "line1\r\nline2\r\n", "\r", "\r\r\n", "\ttab\tseparated\t\tvalues\t", "tab\t\t\tmany",
        "vertical\x0btab and form\x0cfeed", "a\tb\nc\rd\x0be\x0cf", "next\u0085line", "\u0085",
        "line\u2028separator\u2029paragraph", "\u2028", "no\u00a0break\u00a0space", "\u00a0", "\u00a0\u00a0leading nbsp",
        "ideographic\u3000space\u3000\u3000", "\u3000", "  \u3000 mixed\u00a0 whitespace \u2003em\u2002en\u2009thin  ",
        "zero\u200bwidth\u200cnon\u200djoiner", "\u200b", "a\u200b", "soft\u00adhyphen", "\ufeffBOM at start",
        "ctrl\u0001char\u007fdel \u001bescape \u0008backspace",
        "  leading", "trailing  ", "multiple     spaces   inside", " ", "     ", "\n\n\n", "\t \n \r\n",
        # long words, unknown scripts, meta symbol
        "pneumonoultramicroscopicsilicovolcanoconiosis Donaudampfschifffahrtsgesellschaftskapitän",
        "abcdefghijklmnopqrstuvwxyz" * 8, "1234567890" * 30,
        "中文字符测试", "ภาษาไทย", "हिन्दी देवनागरी", "日本語の文章", "Ελληνικά Русский עברית العربية",
        "▁", "▁▁x ▁y", "_under_score_ __init__",
        # special tokens inline
        "<extra_id_0>", "Fill <extra_id_0> the <extra_id_1> blanks </s>", "a<extra_id_1>b", "</s></s>",
        "<pad> padded <pad>", "<unk>", "x</s>y", "<extra_id_99><extra_id_100>", "<extra_id_0 > < /s>",
        " <extra_id_0> ", "<s>",
        # digits, punctuation, mixed text
        "3.14159 2,718 1e-10 0x1F 007 1,000,000", "!!! ??? ... ,,, ;;; ::: --- ___ ((( ))) [[[ ]]] {{{ }}} @#$%^&*",
        "Hello世界Привет🙂مرحبا", "tokenization with ﬁ and ① mixed ＡＢＣ in one sentence.",
        "def __init__(self, *args, **kwargs):", "La crème brûlée coûte très cher.", "ÉCOLE ÇA ÀÉÎÕÜ",
        "“smart” ‘quotes’ — dashes – and ‐ hyphens", "don't won't y'all o'clock", "¡Hola! ¿Qué tal?",
        "email@example.com https://www.python.org/dev/peps/pep-0008/", "UPPER lower MiXeD", "a", "A",
        long_text,
    ]


def encode_cases(path, texts, sp):
    tok = Tokenizer.from_file(path)
    entries, agree, differ = [], 0, []
    for text in texts:
        plain = tok.encode(text, add_special_tokens=False).ids
        special = tok.encode(text, add_special_tokens=True).ids
        entries.append({"text": text, "ids": plain, "ids_with_special": special,
                        "decoded": tok.decode(special, skip_special_tokens=True)})
        reference = sp.encode(text)
        if reference == plain:
            agree += 1
        else:
            differ.append((text, plain, reference))
    return entries, agree, differ


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("tokenizer_dir")
    parser.add_argument("out")
    args = parser.parse_args()
    transformers.logging.set_verbosity_error()

    lines = prose_lines() + ACCENTED * 10
    print("training text:", len(lines), "lines, sha256",
          hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16])
    variants = {}

    model = train(lines, 284, byte_fallback=False)
    tok, text = convert(model, "spiece.model", lambda d: T5Tokenizer.from_pretrained(d, extra_ids=100))
    check_t5(text)
    variants["t5"] = (model, tok, text)

    model = train(lines, 600, byte_fallback=True)
    tok, text = convert(model, "tokenizer.model", AutoTokenizer.from_pretrained)
    check_bytes(text)
    variants["unigram-bytes"] = (model, tok, text)

    with open(BUNDLED_CASES, encoding="utf-8") as f:
        texts = [c["text"] for c in json.load(f)["llama2"]] + extra_texts()
    cases = {}
    for name, (model, tok, text) in variants.items():
        path = os.path.join(args.tokenizer_dir, name + "-tokenizer.json")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        sp = spm.SentencePieceProcessor(model_proto=model)
        cases[name], agree, differ = encode_cases(path, texts, sp)
        same = sum(tok(t, add_special_tokens=True)["input_ids"] == c["ids_with_special"] for t, c in zip(texts, cases[name]))
        print(f"{name}: {path} ({os.path.getsize(path)} bytes), {len(texts)} cases, transformers agrees on {same}, "
              f"sentencepiece agrees on {agree}")
        print(json.dumps(parts(text), ensure_ascii=False))
        for t, ours, theirs in differ:
            print("  differs:", json.dumps(t, ensure_ascii=False)[:80], ours[:12], "sentencepiece", theirs[:12])
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=1)
    print("wrote", args.out, {k: len(v) for k, v in cases.items()})


if __name__ == "__main__":
    main()
