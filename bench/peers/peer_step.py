"""One training workload of the peer (transformers + peft on pip's torch), timed step by step.

Run by bench/peers/speed.py, one process per workload so that each one's peak resident memory is
its own. The batch is what `retain bench methods` builds: `batch` sequences of `length` token ids
drawn uniformly from the vocabulary, every position a label; float32 weights; AdamW (lr 1e-4,
weight decay 0.01, fused where this torch has it on the CPU) after clipping the gradient norm to 1.0,
as retain's step does. Prints one JSON line: the median step in seconds, the set-up seconds (peft's
SVD for osf) and the step FLOP count (6·N·tokens plus attention, N the weights of every matrix
product, as retain counts them).

Workloads:
  full  full fine-tuning (retain: seqft)
  lora  peft LoRA r16 (alpha 32, no dropout) on every linear layer but the output head (retain: seqlora)
  osf   peft's `osf` tuner on every linear layer but the output head, 75 % of each matrix's rank frozen
        (retain: osft with its defaults)
  migu  full fine-tuning whose gradient rows are masked by the L1 magnitude of each linear layer's
        output on the step's batch, kept at or above the 0.7 quantile, through forward hooks, as
        MIGU's official code does (retain: migu)
"""

import argparse
import json
import statistics
import time

import torch


def step_flops(model, batch, length):
    weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    config = model.config
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    attention = 12 * config.num_hidden_layers * config.num_attention_heads * head_dim * length
    return batch * length * (6 * weights + attention)


def add_migu_hooks(model, threshold):
    """Records each linear layer's Σ|output| per output unit on the forward pass; masks the gradient
    rows of the units below the `threshold` quantile after the backward pass."""
    sums = {}

    def hook(module, inputs, output):
        sums[module] = output.detach().abs().reshape(-1, output.shape[-1]).sum(0)

    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    for module in linears:
        module.register_forward_hook(hook)

    def mask():
        for module in linears:
            if module.weight.grad is None or module not in sums:
                continue
            magnitudes = sums[module]
            keep = magnitudes >= torch.quantile(magnitudes, threshold)
            module.weight.grad.mul_(keep.to(module.weight.grad.dtype).unsqueeze(1))
        sums.clear()

    return mask


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--workload", choices=["full", "lora", "osf", "migu"], required=True)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args()

    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    flops = step_flops(model, args.batch, args.length)
    start = time.perf_counter()
    after_backward = None
    if args.workload == "lora":
        from peft import LoraConfig, get_peft_model

        targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
        model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules=targets))
    elif args.workload == "osf":
        from peft import OSFConfig, get_peft_model

        model = get_peft_model(model, OSFConfig(effective_rank=0.75, target_modules="all-linear"))
    elif args.workload == "migu":
        after_backward = add_migu_hooks(model, 0.7)
    setup_seconds = time.perf_counter() - start

    torch.manual_seed(0)
    ids = torch.randint(model.config.vocab_size, (args.batch, args.length))
    mask = torch.ones_like(ids)
    params = [p for p in model.parameters() if p.requires_grad]
    try:
        optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01, fused=True)
        fused = True
    except (RuntimeError, ValueError):
        optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
        fused = False
    model.train()
    seconds = []
    for i in range(args.warmup + args.steps):
        start = time.perf_counter()
        loss = model(input_ids=ids, attention_mask=mask, labels=ids).loss
        loss.backward()
        if after_backward is not None:
            after_backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if i >= args.warmup:
            seconds.append(time.perf_counter() - start)
    print(json.dumps({"workload": args.workload, "step_s": statistics.median(seconds), "setup_s": setup_seconds,
                      "flops": flops, "threads": torch.get_num_threads(), "fused_adamw": fused,
                      "trainable": sum(p.numel() for p in params), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
