"""Writes a fixture set in the layout of tests/fixtures/hf (see tests/fixtures/README.md) with
Hugging Face transformers and peft: tiny randomly initialised checkpoints plus golden.safetensors
holding the reference's inputs, logits, loss, three gradients and a greedy generation.

    python3 tools/make-fixtures.py OUT_DIR [--seed N]

The shapes and options deliberately differ from the bundled set (other sizes, sliding windows,
q/k/v/o biases, the transformers-4 config layout, gated T5 v1.1, LoRA with rank/alpha patterns and
on GPT-2's Conv1D), so `RETAIN_FIXTURES=OUT_DIR make test` checks that nothing in retain depends
on the bundled sizes. Needs torch, transformers, peft and safetensors (the GPU machine has them).
"""
import argparse
import json
import os

import torch
import transformers
from safetensors.torch import save_file


def write_model(model, out, name, v4_layout=False):
    path = os.path.join(out, name)
    model.save_pretrained(path, safe_serialization=True)
    if v4_layout:  # rewrite "rope_parameters" as top-level rope_theta + rope_scaling
        config_path = os.path.join(path, "config.json")
        config = json.load(open(config_path))
        rope = config.pop("rope_parameters")
        config["rope_theta"] = rope.pop("rope_theta")
        config["rope_scaling"] = None if rope.get("rope_type") == "default" else rope
        json.dump(config, open(config_path, "w"), indent=2)
    return path


def causal_golden(model, path, grads, seq=12, seed=1):
    g = torch.Generator().manual_seed(seed)
    vocab = model.config.vocab_size
    ids = torch.randint(3, vocab, (2, seq), generator=g)
    mask = torch.ones_like(ids)
    mask[1, -3:] = 0
    labels = ids.masked_fill(mask == 0, -100)
    model.eval()
    model.zero_grad()
    out = model(input_ids=ids, attention_mask=mask, labels=labels)
    out.loss.backward()
    params = dict(model.named_parameters())
    golden = {
        "input_ids": ids, "attention_mask": mask, "labels": labels,
        "logits": out.logits.detach().contiguous(), "loss": out.loss.detach().reshape(1),
    }
    for name in grads:
        golden["grad." + name] = params[name].grad.detach().contiguous()
    prompt = ids[:1, :5].clone()
    model.generation_config.eos_token_id = None  # 8 new tokens, no early stop
    with torch.no_grad():
        generated = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=8,
                                   do_sample=False, pad_token_id=0)
    golden["generate.prompt"] = prompt
    golden["generate.output"] = generated.contiguous()
    save_file(golden, os.path.join(path, "golden.safetensors"))


def adapter_golden(model, path, seq=12, seed=2):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, model.config.vocab_size, (2, seq), generator=g)
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    save_file({"input_ids": ids, "logits": logits.contiguous()}, os.path.join(path, "golden.safetensors"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    manifest = {"transformers": transformers.__version__, "torch": torch.__version__, "seed": args.seed, "models": {}}
    common = dict(vocab_size=300)

    # Llama, GQA 6 heads / 3 kv heads, head_dim 8, three layers, untied, attention + mlp biases,
    # written in the transformers-4 layout.
    llama = transformers.LlamaForCausalLM(transformers.LlamaConfig(
        hidden_size=48, intermediate_size=96, num_hidden_layers=3, num_attention_heads=6, num_key_value_heads=3,
        head_dim=8, attention_bias=True, mlp_bias=True, rms_norm_eps=1e-5, tie_word_embeddings=False,
        rope_parameters={"rope_type": "default", "rope_theta": 5000.0}, max_position_embeddings=128, **common))
    path = write_model(llama, args.out, "llama", v4_layout=True)
    causal_golden(llama, path, ["model.layers.2.self_attn.k_proj.weight", "model.layers.0.mlp.up_proj.bias",
                                "model.embed_tokens.weight"])
    manifest["models"]["llama"] = {"class": "LlamaForCausalLM"}

    # llama3 rope scaling in the transformers-4 layout, MQA, tied.
    llama3 = transformers.LlamaForCausalLM(transformers.LlamaConfig(
        hidden_size=32, intermediate_size=80, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
        tie_word_embeddings=True, max_position_embeddings=2048,
        rope_parameters={"rope_type": "llama3", "rope_theta": 100000.0, "factor": 4.0, "low_freq_factor": 1.0,
                         "high_freq_factor": 2.0, "original_max_position_embeddings": 32}, **common))
    path = write_model(llama3, args.out, "llama3-rope", v4_layout=True)
    causal_golden(llama3, path, ["model.layers.1.mlp.down_proj.weight", "model.norm.weight", "model.embed_tokens.weight"])
    manifest["models"]["llama3-rope"] = {"class": "LlamaForCausalLM"}

    # Mistral with a sliding window shorter than the sequence.
    mistral = transformers.MistralForCausalLM(transformers.MistralConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        sliding_window=5, max_position_embeddings=128, tie_word_embeddings=False, **common))
    path = write_model(mistral, args.out, "mistral")
    causal_golden(mistral, path, ["model.layers.1.self_attn.o_proj.weight", "lm_head.weight", "model.norm.weight"])
    manifest["models"]["mistral"] = {"class": "MistralForCausalLM"}

    # Qwen2 with sliding-window layers (use_sliding_window from layer 1 on), untied.
    qwen2 = transformers.Qwen2ForCausalLM(transformers.Qwen2Config(
        hidden_size=48, intermediate_size=72, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=4,
        use_sliding_window=True, sliding_window=4, max_window_layers=1, tie_word_embeddings=False,
        max_position_embeddings=128, **common))
    path = write_model(qwen2, args.out, "qwen2")
    causal_golden(qwen2, path, ["model.layers.0.self_attn.v_proj.bias", "model.layers.2.mlp.gate_proj.weight",
                                "lm_head.weight"])
    manifest["models"]["qwen2"] = {"class": "Qwen2ForCausalLM"}

    # Qwen3 with an explicit head_dim larger than hidden/heads and attention biases.
    qwen3 = transformers.Qwen3ForCausalLM(transformers.Qwen3Config(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1,
        head_dim=24, attention_bias=True, tie_word_embeddings=True, max_position_embeddings=128, **common))
    path = write_model(qwen3, args.out, "qwen3")
    causal_golden(qwen3, path, ["model.layers.1.self_attn.q_norm.weight", "model.layers.0.self_attn.o_proj.bias",
                                "model.embed_tokens.weight"])
    manifest["models"]["qwen3"] = {"class": "Qwen3ForCausalLM"}

    # GPT-2 with three layers, 3 heads and attention scaled by the inverse layer index.
    gpt2 = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        n_embd=48, n_layer=3, n_head=3, n_positions=64, scale_attn_by_inverse_layer_idx=True,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, **common))
    path = write_model(gpt2, args.out, "gpt2")
    causal_golden(gpt2, path, ["transformer.h.2.attn.c_attn.weight", "transformer.wpe.weight", "transformer.ln_f.weight"])
    manifest["models"]["gpt2"] = {"class": "GPT2LMHeadModel"}

    # T5 v1.1: gated-gelu, untied head (no rescale), fewer decoder than encoder layers (transformers'
    # cache is sized by num_layers, so more decoder layers would break its generate).
    t5 = transformers.T5ForConditionalGeneration(transformers.T5Config(
        d_model=48, d_kv=12, d_ff=80, num_layers=3, num_decoder_layers=2, num_heads=3,
        relative_attention_num_buckets=16, relative_attention_max_distance=20, feed_forward_proj="gated-gelu",
        tie_word_embeddings=False, dropout_rate=0.0, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
        **common))
    path = write_model(t5, args.out, "t5")
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(2, 300, (2, 11), generator=g)
    mask = torch.ones_like(ids)
    mask[1, -4:] = 0
    labels = torch.randint(2, 300, (2, 7), generator=g)
    labels[1, -2:] = -100
    t5.eval()
    out = t5(input_ids=ids, attention_mask=mask, labels=labels, use_cache=False)
    out.loss.backward()
    params = dict(t5.named_parameters())
    prompt = ids[:1, :6].clone()
    t5.generation_config.eos_token_id = None
    with torch.no_grad():
        generated = t5.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=8, do_sample=False)
    golden = {"input_ids": ids, "attention_mask": mask, "labels": labels, "logits": out.logits.detach().contiguous(),
              "loss": out.loss.detach().reshape(1), "generate.prompt": prompt, "generate.output": generated.contiguous()}
    # lm_head.weight is a parameter of its own only when transformers leaves the head untied.
    for name in ["shared.weight", "lm_head.weight", "decoder.block.1.layer.1.EncDecAttention.v.weight"]:
        if name in params:
            golden["grad." + name] = params[name].grad.contiguous()
    save_file(golden,
              os.path.join(path, "golden.safetensors"))
    manifest["models"]["t5"] = {"class": "T5ForConditionalGeneration"}

    # ViT on 32x32 RGB images, patch 8, 5 labels.
    vit = transformers.ViTForImageClassification(transformers.ViTConfig(
        hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, image_size=32,
        patch_size=8, num_channels=3, num_labels=5, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0))
    path = write_model(vit, args.out, "vit")
    g = torch.Generator().manual_seed(4)
    pixels = torch.randn(4, 3, 32, 32, generator=g)
    labels = torch.randint(0, 5, (4,), generator=g)
    vit.eval()
    out = vit(pixel_values=pixels, labels=labels)
    save_file({"pixel_values": pixels, "labels": labels, "logits": out.logits.detach().contiguous(),
               "loss": out.loss.detach().reshape(1)}, os.path.join(path, "golden.safetensors"))
    manifest["models"]["vit"] = {"class": "ViTForImageClassification"}

    # LoRA with per-module ranks and alphas, on the llama above; and on GPT-2's Conv1D layers.
    import peft
    lora = peft.get_peft_model(transformers.LlamaForCausalLM.from_pretrained(os.path.join(args.out, "llama")),
                               peft.LoraConfig(r=3, lora_alpha=6, target_modules=["q_proj", "k_proj", "o_proj", "up_proj"],
                                               rank_pattern={"o_proj": 2}, alpha_pattern={"up_proj": 10},
                                               init_lora_weights=False))
    lora.save_pretrained(os.path.join(args.out, "llama-lora"))
    adapter_golden(lora, os.path.join(args.out, "llama-lora"))
    manifest["models"]["llama-lora"] = {"class": "peft LoRA on llama", "base": "llama"}

    gpt2_lora = peft.get_peft_model(transformers.GPT2LMHeadModel.from_pretrained(os.path.join(args.out, "gpt2")),
                                    peft.LoraConfig(r=4, lora_alpha=16, target_modules=["c_attn", "c_fc"],
                                                    fan_in_fan_out=True, use_rslora=True, init_lora_weights=False))
    gpt2_lora.save_pretrained(os.path.join(args.out, "gpt2-lora"))
    adapter_golden(gpt2_lora, os.path.join(args.out, "gpt2-lora"))
    manifest["models"]["gpt2-lora"] = {"class": "peft LoRA on gpt2", "base": "gpt2"}

    json.dump(manifest, open(os.path.join(args.out, "MANIFEST.json"), "w"), indent=1)
    print("fixtures written to", args.out, sorted(manifest["models"]))


if __name__ == "__main__":
    main()
