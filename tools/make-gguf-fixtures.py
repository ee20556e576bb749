"""Writes the golden GGUF fixtures of tests/fixtures/gguf (see tests/fixtures/README.md) with the
reference implementations: the `gguf` package (llama.cpp's gguf-py) for the file format, its
quantizers and its reference dequantizers; transformers for loading GGUF models and tokenizers.

    python3 tools/make-gguf-fixtures.py OUT_DIR [--models DIR] [--hf DIR] [--tokenizers DIR]

OUT_DIR gets:
  quants.gguf + quants-expected.safetensors       dequantization goldens, one tensor per ggml type,
                                                  plus `<type>.real` rows cut from real GGUF files
  quantize-input.safetensors + quantized.gguf     `x` [4,512] and its bytes from gguf.quants.quantize
  <model>-f32.gguf, llama-q8_0.gguf, qwen2-q8_0.gguf
                                                  tiny models written as convert_hf_to_gguf.py does,
                                                  from the hf fixtures (llama, llama3-rope, qwen2, qwen3)
  <stem>.golden.safetensors + <stem>.config.json  transformers' logits and config for each model file
  tokenizer-smollm2.gguf, tokenizer-qwen2.5.gguf  the real files' tokenizer.* metadata, no tensors
  tokenizer-llama-spm.gguf                        a SentencePiece-style (`llama`) vocabulary from
                                                  llama2-tokenizer.json
  tokenizer-cases.json                            ids/decoded strings from the tokenizers transformers
                                                  builds from those GGUF files

--models DIR holds the real files SmolLM2-135M-Instruct.Q4_1.gguf and
qwen2.5-coder-1.5b-instruct-q4_k_m.gguf (default /work/models-cache); without them the `.real`
tensors and the two real-tokenizer files are skipped. --hf is the folder of the tiny hf fixtures
(default tests/fixtures/hf); --tokenizers holds llama2-tokenizer.json and cases.json (default:
build/tokenizers as scripts/fetch-tokenizers.sh lays it out, else /work/shared/fixtures/tokenizers;
cases.json falls back to tests/fixtures/tokenizers). The run prints a JSON report (versions, what
transformers refused, logits differences, file sizes) on stdout.

Everything is seeded and runs on one CPU thread; the same inputs and package versions give the same
bytes (checked by running twice). Versions used for the committed set (torch is PyPI's default Linux
wheel, 2.15.0+cu132, run on the CPU; accelerate is required by transformers' GGUF model loading):

    pip install gguf==0.19.0 numpy==2.4.6 transformers==5.23.0 tokenizers==0.23.3 torch==2.15.0 \
        safetensors==0.8.0 accelerate==1.16.0 sentencepiece==0.2.3 protobuf==7.36.2
"""
import argparse
import json
import math
import os
import random
import sys

import numpy as np

import gguf
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOLLM2 = "SmolLM2-135M-Instruct.Q4_1.gguf"
QWEN25 = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"

DEQUANT_TYPES = [T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1,
                 T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K]
QUANTIZE_TYPES = [T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1]
# Byte offsets of the fp16 scale fields in one block (gguf/quants.py, the dequantize_blocks of each
# K type): Q2_K scales[16] qs[64] d dmin; Q3_K hmask[32] qs[64] scales[12] d; Q4_K d dmin scales[12]
# qs[128]; Q5_K d dmin scales[12] qh[32] qs[128]; Q6_K ql[128] qh[64] scales[16] d.
K_SCALE_FIELDS = {T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208]}


def can_quantize(qtype):
    try:
        gguf.quants.quantize(np.zeros((1, GGML_QUANT_SIZES[qtype][0]), np.float32), qtype)
        return True
    except NotImplementedError:
        return False


def write_gguf(writer, path):
    writer.write_header_to_file(path)
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def add_raw(writer, name, raw, qtype):
    """`raw` as gguf.quants.quantize returns it (float32/float16 values, or uint8 blocks)."""
    if raw.dtype == np.uint8:
        writer.add_tensor(name, raw, raw_dtype=qtype)
    else:
        writer.add_tensor(name, raw)


# ---------------------------------------------------------------------------------------------
# 1. dequantization goldens


def test_rows(rng, n):
    """Three rows: random normal, zeros, mixed magnitudes (1e-8 .. 6e4, both signs)."""
    normal = rng.standard_normal(n).astype(np.float32)
    zeros = np.zeros(n, np.float32)
    mixed = (rng.choice([-1.0, 1.0], n) * 10.0 ** rng.uniform(-8, math.log10(60000), n)).astype(np.float32)
    mixed[0], mixed[-1] = 1e-8, -60000.0
    return np.stack([normal, zeros, mixed])


def random_k_blocks(rng, qtype, rows, blocks_per_row):
    _, type_size = GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, (rows, blocks_per_row, type_size), dtype=np.uint8)
    for offset in K_SCALE_FIELDS[qtype]:
        scale = (rng.standard_normal((rows, blocks_per_row)) * 0.05).astype(np.float16)
        assert np.isfinite(scale).all()
        raw[:, :, offset:offset + 2] = scale.view(np.uint8).reshape(rows, blocks_per_row, 2)
    return raw.reshape(rows, blocks_per_row * type_size)


def real_rows(models_dir):
    """{type: (raw uint8 [2, bytes], source)} from the first 2-D tensor of each type in the real files."""
    found = {}
    for fname in (SMOLLM2, QWEN25):
        path = os.path.join(models_dir, fname) if models_dir else None
        if not path or not os.path.exists(path):
            print(f"[gguf-fixtures] {fname} not found: no .real tensors from it", file=sys.stderr)
            continue
        for tensor in gguf.GGUFReader(path).tensors:
            qtype = tensor.tensor_type
            if qtype in found or qtype in (T.F32, T.F16) or len(tensor.shape) != 2:
                continue
            block_size, type_size = GGML_QUANT_SIZES[qtype]
            ne0 = int(tensor.shape[0])
            blocks = min(ne0 // block_size, 16)  # whole rows here; at most 16 blocks of a longer row
            data = np.asarray(tensor.data).view(np.uint8).reshape(int(tensor.shape[1]), -1)
            raw = np.ascontiguousarray(data[:2, :blocks * type_size])
            source = f"{fname}:{tensor.name} rows 0-1, blocks 0-{blocks - 1} of {ne0 // block_size}"
            found[qtype] = (raw, source)
    return found


def make_quants(out, rng, models_dir):
    writer = gguf.GGUFWriter(None, "retain-fixture")
    expected = {}
    sources = {}
    for qtype in DEQUANT_TYPES:
        name = qtype.name.lower()
        block_size, _ = GGML_QUANT_SIZES[qtype]
        ne0 = 2 * block_size if block_size > 1 else 64  # the float types get 64 columns, not 2
        if can_quantize(qtype) or qtype == T.F32:
            raw = gguf.quants.quantize(test_rows(rng, ne0), qtype)
        else:
            raw = random_k_blocks(rng, qtype, 3, 2)
        add_raw(writer, name, raw, qtype)
        expected[name] = gguf.quants.dequantize(raw, qtype)
    for qtype, (raw, source) in sorted(real_rows(models_dir).items()):
        name = qtype.name.lower() + ".real"
        add_raw(writer, name, raw, qtype)
        expected[name] = gguf.quants.dequantize(raw, qtype)
        sources[name] = source
    raw = gguf.quants.quantize(rng.standard_normal((3, 2, 64)).astype(np.float32), T.Q8_0)  # ne [64,2,3]
    add_raw(writer, "q8_0.3d", raw, T.Q8_0)
    expected["q8_0.3d"] = gguf.quants.dequantize(raw, T.Q8_0)
    raw = rng.standard_normal(10).astype(np.float32)  # ne [10]
    add_raw(writer, "f32.1d", raw, T.F32)
    expected["f32.1d"] = raw.copy()
    for name, source in sources.items():
        writer.add_string(f"retain.fixture.source.{name}", source)
    write_gguf(writer, os.path.join(out, "quants.gguf"))
    save_np(expected, os.path.join(out, "quants-expected.safetensors"))
    return sources


def save_np(tensors, path):
    from safetensors.numpy import save_file
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}, path)


# ---------------------------------------------------------------------------------------------
# 2. quantizer goldens


def quantize_input(rng):
    x = np.zeros((4, 512), np.float32)
    x[0] = rng.standard_normal(512) * 0.02
    # row 1 stays zero
    mixed = rng.choice([-1.0, 1.0], 512) * 10.0 ** rng.uniform(-8, math.log10(60000), 512)
    mixed[0:4] = [1e-8, -1e-8, 60000.0, -60000.0]
    mixed[100], mixed[101] = 1e-8, -60000.0
    mixed[200], mixed[201] = -1e-8, 60000.0
    x[2] = mixed
    row = rng.standard_normal(512).astype(np.float32)
    for block in range(16):  # exact ties of the block's extreme: argmax and sign choices
        i, j = block * 32 + int(rng.integers(0, 16)), block * 32 + 16 + int(rng.integers(0, 16))
        if block % 4 == 0:
            row[i] = row[j] = 3.0          # duplicated maximum
        elif block % 4 == 1:
            row[i], row[j] = -3.0, 3.0     # |max| tie, negative first
        elif block % 4 == 2:
            row[i], row[j] = 3.0, -3.0     # |max| tie, positive first
        else:
            row[i] = row[j] = -3.0         # duplicated negative maximum
    x[3] = row
    return x


def make_quantized(out, rng):
    from safetensors.numpy import save_file
    x = quantize_input(rng)
    save_file({"x": x}, os.path.join(out, "quantize-input.safetensors"))
    writer = gguf.GGUFWriter(None, "retain-fixture")
    for qtype in QUANTIZE_TYPES:
        add_raw(writer, qtype.name.lower(), gguf.quants.quantize(x, qtype), qtype)
    write_gguf(writer, os.path.join(out, "quantized.gguf"))


# ---------------------------------------------------------------------------------------------
# 3. tiny models, as llama.cpp's convert_hf_to_gguf.py writes them

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "A small model learns a new task and should not forget the old ones.",
    "Continual learning trains one network on a stream of tasks, one after another.",
    "Each task brings its own data, and the model keeps what it learned before.",
    "We measure the accuracy on every task after training on the last one.",
    "Forgetting is the drop in accuracy on an old task after learning a new one.",
    "Low rank adapters add two thin matrices to each weight and train only those.",
    "The tokenizer splits text into pieces that the model can look up in a table.",
    "Numbers like 12, 345 and 6789 appear in tables, dates and prices.",
    "She said: \"It's the third time they've asked, isn't it?\"",
    "def train(model, data):\n    for batch in data:\n        loss = model(batch)\n",
    "In the morning the river was quiet, and the boats waited by the shore.",
    "Read the file, parse the header, check the magic number and the version.",
    "Quantized weights are stored in blocks with one scale for every block.",
]


def train_tiny_tokenizer(vocab_size=384, seed=0):
    """A byte-level BPE of exactly `vocab_size` tokens: <|endoftext|> <s> </s>, the 256 bytes, merges.
    (<|endoftext|> is also GPT2Tokenizer's default unk token: naming id 0 that way keeps transformers from
    appending it as an extra token 384.)"""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    rng = random.Random(seed)
    lines = []
    for _ in range(60):
        lines.append(" ".join(rng.sample(CORPUS, 3)))
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(lines, trainer)
    model = json.loads(tokenizer.to_str())["model"]
    vocab = model["vocab"]
    assert len(vocab) == vocab_size, len(vocab)
    tokens = [None] * vocab_size
    for token, index in vocab.items():
        tokens[index] = token
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    return {"tokens": tokens, "merges": merges, "specials": {0: "pad", 1: "bos", 2: "eos"}}


def add_tiny_vocab(writer, tok):
    """What _set_vocab_gpt2 + SpecialVocab write for a byte-level BPE with these specials."""
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tok["tokens"])
    writer.add_token_types([int(gguf.TokenType.CONTROL) if i in tok["specials"] else int(gguf.TokenType.NORMAL)
                            for i in range(len(tok["tokens"]))])
    writer.add_token_merges(tok["merges"])
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_pad_token_id(0)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)


def permute(weights, n_head, n_head_kv):
    """LlamaModel.permute of convert_hf_to_gguf.py (llama.cpp's rope layout for attn_q/attn_k)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def llama3_rope_factors(rope, head_dim):
    """LlamaModel.generate_extra_tensors: the `rope_freqs.weight` llama.cpp uses for rope_type llama3."""
    import torch
    base = rope.get("rope_theta", 10000.0)
    freqs = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    factor = rope.get("factor", 8.0)
    low_freq_factor = rope.get("low_freq_factor", 1.0)
    high_freq_factor = rope.get("high_freq_factor", 4.0)
    old_context_len = rope.get("original_max_position_embeddings", 8192)
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    factors = []
    for freq in freqs:
        wavelen = 2 * math.pi / freq
        if wavelen < high_freq_wavelen:
            factors.append(1)
        elif wavelen > low_freq_wavelen:
            factors.append(factor)
        else:
            smooth = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
            factors.append(1 / ((1 - smooth) / factor + smooth))
    return torch.tensor(factors, dtype=torch.float32)


MIX = [T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.F16, T.BF16]


def convert_tiny(hf_dir, arch, out_path, tok, mixed):
    """Returns {gguf tensor name: ggml type name}."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoConfig
    hparams = AutoConfig.from_pretrained(hf_dir).to_dict()  # ModelBase.load_hparams
    rope = hparams.get("rope_parameters", hparams.get("rope_scaling")) or {}
    if "rope_theta" not in rope and "rope_theta" in hparams:
        rope["rope_theta"] = hparams["rope_theta"]
    head_dim = hparams.get("head_dim") or hparams["hidden_size"] // hparams["num_attention_heads"]
    n_layers = hparams["num_hidden_layers"]
    name = os.path.basename(out_path)[:-len(".gguf")]

    writer = gguf.GGUFWriter(None, arch)
    writer.add_type("model")
    writer.add_name(f"retain tiny {name}")
    # TextModel.set_gguf_parameters
    writer.add_block_count(n_layers)
    writer.add_context_length(hparams["max_position_embeddings"])
    writer.add_embedding_length(hparams["hidden_size"])
    writer.add_feed_forward_length(hparams["intermediate_size"])
    writer.add_head_count(hparams["num_attention_heads"])
    writer.add_head_count_kv(hparams["num_key_value_heads"])
    # rope_type llama3 is "handled in generate_extra_tensors": no rope.scaling.* keys
    writer.add_rope_freq_base(rope["rope_theta"])
    writer.add_layer_norm_rms_eps(hparams["rms_norm_eps"])
    if hparams.get("head_dim") is not None:
        writer.add_key_length(hparams["head_dim"])
        writer.add_value_length(hparams["head_dim"])
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0 if mixed else gguf.LlamaFileType.ALL_F32)
    if arch == "llama":  # LlamaModel.set_gguf_parameters
        writer.add_vocab_size(hparams["vocab_size"])
        writer.add_rope_dimension_count(head_dim)
    add_tiny_vocab(writer, tok)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)

    tensor_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH[arch.upper()], n_layers)
    tensors = []
    if arch == "llama" and rope.get("rope_type", "").lower() == "llama3":
        tensors.append((gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.ROPE_FREQS] + ".weight", llama3_rope_factors(rope, head_dim)))
    state = load_file(os.path.join(hf_dir, "model.safetensors"))
    n_head, n_kv = hparams["num_attention_heads"], hparams["num_key_value_heads"]
    for hf_name in sorted(state):
        data = state[hf_name].to(torch.float32)
        if arch == "llama":
            if hf_name.endswith(("q_proj.weight", "q_proj.bias")):
                data = permute(data, n_head, n_head)
            if hf_name.endswith(("k_proj.weight", "k_proj.bias")):
                data = permute(data, n_head, n_kv)
        new_name = tensor_map.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if new_name is None:
            raise ValueError(f"Can not map tensor {hf_name!r}")
        tensors.append((new_name, data))

    types = {}
    mix_index = 0
    for new_name, data in tensors:
        data = data.numpy()
        qtype = T.F32
        if mixed and data.ndim > 1 and not new_name.endswith("_norm.weight") and new_name.endswith(".weight"):
            qtype = MIX[mix_index % len(MIX)]
            if data.shape[-1] % GGML_QUANT_SIZES[qtype][0] != 0:
                qtype = T.F16  # the converter's fallback when a row is not whole blocks; keeps the slot
            else:
                mix_index += 1
        add_raw(writer, new_name, gguf.quants.quantize(data, qtype), qtype)
        types[new_name] = qtype.name
    write_gguf(writer, out_path)
    return types


def model_golden(out, fname, hf_dir):
    """`logits` from transformers' own GGUF loader; `logits.hf` from the hf fixture it was converted
    from (same input, no attention mask). They differ where transformers ignores what the file says
    (see the README): then `logits` is what transformers made of the file with the stated override."""
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import AutoModelForCausalLM
    stem = fname[:-len(".gguf")]
    ids = load_file(os.path.join(hf_dir, "golden.safetensors"))["input_ids"]
    result = {"file": fname}
    golden = {"input_ids": ids.contiguous()}
    with torch.no_grad():
        reference = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32).eval()
        golden["logits.hf"] = reference(input_ids=ids).logits.contiguous()
        try:
            model = AutoModelForCausalLM.from_pretrained(out, gguf_file=fname, dtype=torch.float32).eval()
        except Exception as error:  # noqa: BLE001 -- reported, then retried with the file's head_dim
            result["refused"] = f"{type(error).__name__}: {error}"
            print(f"[gguf-fixtures] transformers refused {fname}: {result['refused']}", file=sys.stderr)
            reader = gguf.GGUFReader(os.path.join(out, fname))
            arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()
            key = reader.fields.get(f"{arch}.attention.key_length")
            if key is None:
                raise
            override = {"head_dim": int(key.parts[-1][0])}
            model = AutoModelForCausalLM.from_pretrained(out, gguf_file=fname, dtype=torch.float32, **override).eval()
            result["override"] = override
        golden["logits"] = model(input_ids=ids).logits.contiguous()
    config = model.config.to_dict()
    config["_name_or_path"] = fname  # the output folder's path otherwise
    with open(os.path.join(out, stem + ".config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True, default=str)
        f.write("\n")
    # one key: safetensors orders metadata keys by hash, which would change the bytes from run to run
    metadata = {"retain": json.dumps({"gguf": fname, "hf_fixture": os.path.basename(hf_dir),
                                      "override": result.get("override", {}), "refused": result.get("refused", "")},
                                     sort_keys=True)}
    save_file(golden, os.path.join(out, stem + ".golden.safetensors"), metadata=metadata)
    result["max_abs_diff_vs_hf_model"] = float((golden["logits"] - golden["logits.hf"]).abs().max())
    hf_golden = load_file(os.path.join(hf_dir, "golden.safetensors"))
    mask = hf_golden["attention_mask"].bool()  # the hf golden ran row 2 right-padded: compare real positions
    result["max_abs_diff_vs_hf_golden"] = float((golden["logits"] - hf_golden["logits"])[mask].abs().max())
    result["hf_model_vs_hf_golden"] = float((golden["logits.hf"] - hf_golden["logits"])[mask].abs().max())
    return result


def check_rope_freqs(out, fname, hf_dir):
    """rope_freqs.weight against transformers' llama3 inv_freq: base / factors == inv_freq."""
    import torch
    from transformers import AutoConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
    config = AutoConfig.from_pretrained(hf_dir)
    inv_freq, _ = ROPE_INIT_FUNCTIONS["llama3"](config, "cpu")
    factors = next(t for t in gguf.GGUFReader(os.path.join(out, fname)).tensors if t.name == "rope_freqs.weight")
    factors = torch.from_numpy(np.array(factors.data, dtype=np.float32))
    head_dim = config.head_dim
    base = 1.0 / (config.rope_parameters["rope_theta"] ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    return {"factors": factors.tolist(), "max_rel_diff_inv_freq": float(((base / factors) / inv_freq - 1).abs().max())}


# ---------------------------------------------------------------------------------------------
# 4. tokenizers


def copy_tokenizer(src, dst):
    """A GGUF with no tensors: the source's general.architecture and every tokenizer.* key, same
    value types, same order, strings copied as raw bytes."""
    reader = gguf.GGUFReader(src)
    arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()
    writer = gguf.GGUFWriter(None, arch)
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer."):
            continue
        vtype = gguf.GGUFValueType(field.types[0])
        if vtype == gguf.GGUFValueType.ARRAY:
            sub = gguf.GGUFValueType(field.types[1])
            values = [scalar(field.parts[i], sub) for i in field.data]
            writer.add_key_value(key, values, vtype, sub_type=sub)
        else:
            writer.add_key_value(key, scalar(field.parts[field.data[0]], vtype), vtype)
    write_gguf(writer, dst)


def scalar(part, vtype):
    if vtype == gguf.GGUFValueType.STRING:
        return bytes(part)
    value = part[0].item()
    return bool(value) if vtype == gguf.GGUFValueType.BOOL else value


def make_llama_spm(tokenizer_json, dst):
    """tokenizer.ggml.model = llama from a SentencePiece-style tokenizer.json (llama2): tokens in id
    order; types control (<s> </s>), unknown (<unk>), byte (<0xNN>), normal; no merges, as
    _set_vocab_sentencepiece writes them. Scores: a normal token made by a merge scores -(rank of
    the first merge that makes it), so the merges transformers rebuilds from the scores come back in
    the file's order; normal tokens no merge makes (single characters) score -(n_merges + id);
    control, unknown and byte tokens score 0, as in llama.cpp's files."""
    spec = json.load(open(tokenizer_json, encoding="utf-8"))
    model = spec["model"]
    vocab = model["vocab"]
    tokens = [None] * len(vocab)
    for token, index in vocab.items():
        tokens[index] = token
    rank = {}
    for index, merge in enumerate(model["merges"]):
        left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
        rank.setdefault(left + right, index)
    special = {t["id"]: t["content"] for t in spec["added_tokens"] if t["special"]}
    unk = model["unk_token"]
    types, scores = [], []
    for index, token in enumerate(tokens):
        if token == unk:
            types.append(gguf.TokenType.UNKNOWN)
        elif index in special:
            types.append(gguf.TokenType.CONTROL)
        elif len(token) == 6 and token.startswith("<0x") and token.endswith(">"):
            types.append(gguf.TokenType.BYTE)
        else:
            types.append(gguf.TokenType.NORMAL)
        if types[-1] != gguf.TokenType.NORMAL:
            scores.append(0.0)
        else:
            scores.append(-float(rank[token]) if token in rank else -float(len(model["merges"]) + index))
    writer = gguf.GGUFWriter(None, "llama")
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types([int(t) for t in types])
    writer.add_bos_token_id(vocab["<s>"])
    writer.add_eos_token_id(vocab["</s>"])
    writer.add_unk_token_id(vocab[unk])
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    write_gguf(writer, dst)


CHAT = "<|im_start|>user\nHi<|im_end|>\n"


def tokenizer_cases(out, files, texts):
    from transformers import AutoTokenizer
    cases, refused, kinds = {}, {}, {}
    for fname in files:
        try:
            tokenizer = AutoTokenizer.from_pretrained(out, gguf_file=fname)
        except Exception as error:  # noqa: BLE001
            refused[fname] = f"{type(error).__name__}: {error}"
            print(f"[gguf-fixtures] transformers refused tokenizer {fname}: {refused[fname]}", file=sys.stderr)
            continue
        kinds[fname] = type(tokenizer).__name__
        entries = []
        extra = [CHAT] if "<|im_start|>" in tokenizer.get_vocab() else []
        for text in texts + extra:
            ids_with_special = tokenizer.encode(text)
            entries.append({
                "text": text,
                "ids": tokenizer.encode(text, add_special_tokens=False),
                "ids_with_special": ids_with_special,
                "decoded": tokenizer.decode(ids_with_special, skip_special_tokens=True),
            })
        cases[fname] = entries
    with open(os.path.join(out, "tokenizer-cases.json"), "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=1)
        f.write("\n")
    return cases, refused, kinds


# ---------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--models", default="/work/models-cache")
    parser.add_argument("--hf", default=os.path.join(REPO, "tests", "fixtures", "hf"))
    parser.add_argument("--tokenizers", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    report = {"versions": {"gguf": getattr(gguf, "__version__", None) or _dist_version("gguf"),
                           "numpy": np.__version__, "torch": torch.__version__,
                           "transformers": _dist_version("transformers"),
                           "tokenizers": _dist_version("tokenizers")}}
    rng = np.random.default_rng(args.seed)

    report["quantizable"] = [t.name for t in T if _try_quantizable(t)]
    report["real_sources"] = make_quants(args.out, rng, args.models)
    make_quantized(args.out, rng)

    tok = train_tiny_tokenizer(seed=args.seed)
    models = {}
    for name, arch, mixed in [("llama", "llama", False), ("llama", "llama", True), ("llama3-rope", "llama", False),
                              ("qwen2", "qwen2", False), ("qwen2", "qwen2", True), ("qwen3", "qwen3", False)]:
        fname = f"{name}-{'q8_0' if mixed else 'f32'}.gguf"
        hf_dir = os.path.join(args.hf, name)
        types = convert_tiny(hf_dir, arch, os.path.join(args.out, fname), tok, mixed)
        models[fname] = model_golden(args.out, fname, hf_dir)
        models[fname]["types"] = types
        if "rope_freqs.weight" in types:
            models[fname]["rope_freqs"] = check_rope_freqs(args.out, fname, hf_dir)
    report["models"] = models

    token_files = []
    for src, dst in [(SMOLLM2, "tokenizer-smollm2.gguf"), (QWEN25, "tokenizer-qwen2.5.gguf")]:
        path = os.path.join(args.models, src) if args.models else None
        if path and os.path.exists(path):
            copy_tokenizer(path, os.path.join(args.out, dst))
            token_files.append(dst)
    tok_dir = args.tokenizers or next((d for d in (os.path.join(REPO, "build", "tokenizers"),
                                                   "/work/shared/fixtures/tokenizers")
                                       if os.path.exists(os.path.join(d, "llama2-tokenizer.json"))), None)
    if tok_dir:
        make_llama_spm(os.path.join(tok_dir, "llama2-tokenizer.json"), os.path.join(args.out, "tokenizer-llama-spm.gguf"))
        token_files.append("tokenizer-llama-spm.gguf")
    token_files.append("llama-f32.gguf")  # the tiny models' byte-level BPE, once
    cases_path = os.path.join(tok_dir, "cases.json") if tok_dir and os.path.exists(os.path.join(tok_dir, "cases.json")) \
        else os.path.join(REPO, "tests", "fixtures", "tokenizers", "cases.json")
    texts = []
    for entries in json.load(open(cases_path, encoding="utf-8")).values():
        for entry in entries:
            if entry["text"] not in texts:
                texts.append(entry["text"])
    _, refused, kinds = tokenizer_cases(args.out, token_files, texts)
    report["tokenizers"] = {"classes": kinds, "refused": refused}
    report["files"] = {}
    for fname in sorted(os.listdir(args.out)):
        os.chmod(os.path.join(args.out, fname), 0o644)  # safetensors writes 0600
        report["files"][fname] = os.path.getsize(os.path.join(args.out, fname))
    json.dump(report, sys.stdout, indent=1, default=str)
    print()


def _try_quantizable(qtype):
    if qtype not in GGML_QUANT_SIZES:
        return False
    try:
        return can_quantize(qtype)
    except Exception:  # noqa: BLE001
        return False


def _dist_version(name):
    from importlib.metadata import version
    return version(name)


if __name__ == "__main__":
    main()
