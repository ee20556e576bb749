"""The accuracy peer: a retain stream learned with transformers + peft the way retain learns it,
writing the accuracy matrix R in retain's matrix.json layout.

    python bench/peers/accuracy.py STREAM.toml MODEL_DIR OUT.json --method seqlora|osft|osft-reprojected|osft-dense \
        --seed S [--lr LR]

- seqlora: one PEFT LoRA adapter trained on every task in turn (retain: seqlora).
- osft: PEFT's OSF tuner (the OSFT authors' port) on every linear layer but the output head, 75 % of
  each matrix's rank frozen, applied afresh at each task: a new SVD of the current weights at the
  task's start, `merge_and_unload()` at its end (plain `unload()` would discard the task's update).
  Only the target matrices train, as in PEFT (retain: osft with method.others = "frozen").
- osft-reprojected: PEFT's OSF as above, plus mini_trainer's re-projection of the factors U_l and V_l
  after each AdamW step (PEFT projects only their gradients; AdamW's element-wise scaling then moves
  them back towards U_h and V_h): the rule retain's osft form = "factors" runs.
- osft-dense: retain's osft update rule written here in PyTorch, to tell the parametrisation from
  the rest: the same SVD and the same top 75 % frozen at each task's start, but the weight stays one
  dense parameter; after the clip its gradient is projected onto span(U_h)^⊥ ⊗ span(V_h)^⊥, and after
  each AdamW step the weight is re-projected (W ← F₀ + P(W), F₀ the task-start weight's frozen part).
  PEFT's OSF instead trains the factors U_l, s_l, V_l of the low singular values, projects the
  gradients of U_l and V_l in hooks (before the clip) and never re-projects the factors.

Same as retain, from the stream file: the tasks (generation and text-classification JSONL, the
template, the metric, max_new_tokens), epochs, batch size, max_length, the AdamW settings, the
schedule (warm-up then constant or cosine, restarted per task), the gradient-norm clip, a fresh
optimizer per task, and [method] rank / alpha / dropout / targets (retain's seqlora defaults: r 8,
alpha 32, dropout 0.1, q_proj and v_proj). Tokenization is the model's tokenizer.json through
Hugging Face tokenizers, as retain builds its examples: the prompt with the post-processor's special
tokens, the target without, then the model's first eos; cut to max_length keeping at least half of it
for the target. Scoring is retain's: greedy answers (left padding, stopped at eos, decoded without
special tokens), exact match after stripping whitespace, or ROUGE-L F1 over lower-cased runs of
[a-z0-9] and non-ASCII bytes. Only R[t][i] for i <= t is measured (retain: eval.forward_transfer =
false). What differs: the order of the examples in an epoch (its own seeded shuffle) and LoRA's
random initialisation (torch's generator, seeded with the same seed).
"""

import argparse
import json
import math
import os
import random
import re
import tomllib

import torch
from peft import LoraConfig, OSFConfig, get_peft_model
from peft.tuners.osf.layer import OSFLayer
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM


def rouge_l(pred, ref):
    def tokens(text):
        return re.findall(rb"[a-z0-9\x80-\xff]+", text.encode("utf-8").lower())  # ASCII lower-casing only

    a, b = tokens(pred), tokens(ref)
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    row = [0] * (len(b) + 1)
    for x in a:
        diagonal = 0
        for j, y in enumerate(b, 1):
            diagonal, row[j] = row[j], diagonal + 1 if x == y else max(row[j], row[j - 1])
    lcs = row[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return 2 * precision * recall / (precision + recall)


def score(metric, pred, ref):
    if metric in ("exact_match", "accuracy"):
        space = " \t\n\r\f\v"  # retain's strip: ASCII whitespace only
        return 1.0 if pred.strip(space) == ref.strip(space) else 0.0
    if metric == "rouge_l":
        return rouge_l(pred, ref)
    raise SystemExit(f"[peer] metric {metric} is not scored here")


def read_tasks(stream_path, config):
    base = os.path.dirname(os.path.abspath(stream_path))
    tasks = []
    for task in config["task"]:
        kind = task["kind"]
        if task.get("max_train", 0) or task.get("max_test", 0):
            raise SystemExit(f"[peer] task {task['name']}: max_train / max_test pick retain's own shuffle; "
                             "prepare the data at the size wanted instead")
        if kind not in ("generation", "text-classification"):
            raise SystemExit(f"[peer] task {task['name']}: kind {kind} is not run here")
        fields = ("input", "output") if kind == "generation" else ("text", "label")

        def read(split):
            with open(os.path.join(base, task[split]), encoding="utf-8") as f:
                rows = [json.loads(line) for line in f if line.strip()]
            template = task.get("template", "{input}\n")
            return [(template.replace("{input}", r[fields[0]]).replace("{text}", r[fields[0]]), r[fields[1]])
                    for r in rows]

        tasks.append({"name": task["name"], "train": read("train"), "test": read("test"),
                      "metric": task.get("metric", "exact_match" if kind == "generation" else "accuracy"),
                      "max_new_tokens": task.get("max_new_tokens", 0)})
    return tasks


def tokenize_example(tok, prompt, target, eos, max_length):
    p = tok.encode(prompt, add_special_tokens=True).ids
    t = tok.encode(target, add_special_tokens=not p).ids + [eos]
    target_kept = min(len(t), max(1, max_length // 2))
    prompt_kept = min(len(p), max_length - target_kept)
    ids = p[len(p) - prompt_kept:] + t[:max_length - prompt_kept]
    return ids, prompt_kept


def lr_at(step, total, warmup, schedule, base):
    if step < warmup:
        return base * step / max(1, warmup)
    if schedule == "constant":
        return base
    progress = (step - warmup) / max(1, total - warmup)
    return base * max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))


def relative_change(before, model):
    """‖W_after − W_before‖ / ‖W_before‖ over the parameters present before (PEFT's wrappers stripped)."""
    after = {n.replace("base_model.model.", "").replace(".base_layer", ""): p for n, p in model.named_parameters()}
    change = total = 0.0
    for name, old in before.items():
        new = after.get(name.replace("base_model.model.", "").replace(".base_layer", ""))
        if new is not None and new.shape == old.shape:
            change += float((new.detach() - old).double().pow(2).sum())
            total += float(old.double().pow(2).sum())
    return math.sqrt(change / total) if total else 0.0


class ReprojectedOsf:
    """mini_trainer's re-projection of PEFT's OSF factors after each AdamW step, as PEFT's gradient hooks
    project: U_l off U_h (or onto the initial U_l where U_h and U_l span everything), V_l likewise."""

    def __init__(self, model):
        self.layers = [m for m in model.modules() if isinstance(m, OSFLayer)]

    def project_gradients(self):
        pass  # PEFT's hooks did, before the clip

    @torch.no_grad()
    def project_weights(self):
        for layer in self.layers:
            for adapter, factors in layer.osf_svd_params.items():
                U, V = factors["U_low"], factors["V_low"]  # [N, r], [r, M]
                if adapter in layer._osf_U_high:
                    H = layer._osf_U_high[adapter]
                    U.sub_(H @ (H.T @ U))
                else:
                    L = layer._osf_U_low_init[adapter]
                    U.copy_(L @ (L.T @ U))
                if adapter in layer._osf_V_high:
                    H = layer._osf_V_high[adapter]
                    V.sub_((V @ H.T) @ H)
                else:
                    L = layer._osf_V_low_init[adapter]
                    V.copy_((V @ L.T) @ L)


class DenseOsft:
    """retain's osft (strict projection, method.others = "frozen") on a plain transformers model."""

    def __init__(self, model, frozen_ratio):
        head = model.get_output_embeddings()
        for p in model.parameters():
            p.requires_grad_(False)
        self.weights = [m.weight for m in model.modules() if isinstance(m, torch.nn.Linear) and m is not head]
        for w in self.weights:
            w.requires_grad_(True)
        self.frozen_ratio = frozen_ratio
        self.bases = []

    def start_task(self):
        self.bases = []
        with torch.no_grad():
            for w in self.weights:
                U, S, Vt = torch.linalg.svd(w, full_matrices=False)
                rank = S.shape[0]
                k = min(max(int(self.frozen_ratio * rank), 1), rank - 1)
                U_h, V_h = U[:, :k].contiguous(), Vt[:k].T.contiguous()
                self.bases.append((U_h, V_h, w - self.project(w, U_h, V_h)))

    @staticmethod
    def project(x, U_h, V_h):
        """(I − U_h U_hᵀ) x (I − V_h V_hᵀ)"""
        left = x - U_h @ (U_h.T @ x)
        return left - (left @ V_h) @ V_h.T

    @torch.no_grad()
    def project_gradients(self):
        for w, (U_h, V_h, _) in zip(self.weights, self.bases):
            if w.grad is not None:
                w.grad.copy_(self.project(w.grad, U_h, V_h))

    @torch.no_grad()
    def project_weights(self):
        for w, (U_h, V_h, frozen) in zip(self.weights, self.bases):
            w.copy_(frozen + self.project(w, U_h, V_h))


def train_task(model, tok, task, train, eos, pad, rng, constraint=None):
    examples = [tokenize_example(tok, p, t, eos, train["max_length"]) for p, t in task["train"]]
    batch = train["batch_size"]
    per_epoch = (len(examples) + batch - 1) // batch
    steps = max(1, train["epochs"] * per_epoch)
    warmup = round(train["warmup_ratio"] * steps)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=train["lr"], betas=(train["beta1"], train["beta2"]), eps=train["eps"],
                                  weight_decay=train["weight_decay"])
    model.train()
    order = []
    for step in range(steps):
        if step % per_epoch == 0:
            order = list(range(len(examples)))
            rng.shuffle(order)
        rows = [examples[i] for i in order[(step % per_epoch) * batch:(step % per_epoch + 1) * batch]]
        length = max(len(ids) for ids, _ in rows)
        input_ids = torch.full((len(rows), length), pad)
        mask = torch.zeros((len(rows), length), dtype=torch.long)
        labels = torch.full((len(rows), length), -100)
        for r, (ids, prompt) in enumerate(rows):
            input_ids[r, :len(ids)] = torch.tensor(ids)
            mask[r, :len(ids)] = 1
            labels[r, prompt:len(ids)] = torch.tensor(ids[prompt:])
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, steps, warmup, train["schedule"], train["lr"])
        loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        if train["clip_norm"] > 0:
            torch.nn.utils.clip_grad_norm_(params, train["clip_norm"])
        if constraint:
            constraint.project_gradients()
        optimizer.step()
        if constraint:
            constraint.project_weights()
        optimizer.zero_grad()


@torch.no_grad()
def evaluate(model, tok, task, evaluation, eos, pad, max_length):
    model.eval()
    max_new = task["max_new_tokens"] or evaluation["max_new_tokens"]
    room = max(1, max_length - max_new)
    total = 0.0
    for begin in range(0, len(task["test"]), evaluation["batch_size"]):
        part = task["test"][begin:begin + evaluation["batch_size"]]
        prompts = [tok.encode(p, add_special_tokens=True).ids[-room:] for p, _ in part]
        length = max(len(p) for p in prompts)
        input_ids = torch.full((len(part), length), pad)
        mask = torch.zeros((len(part), length), dtype=torch.long)
        for r, p in enumerate(prompts):
            input_ids[r, length - len(p):] = torch.tensor(p)
            mask[r, length - len(p):] = 1
        out = model.generate(input_ids=input_ids, attention_mask=mask, max_new_tokens=max_new, do_sample=False,
                             eos_token_id=eos, pad_token_id=pad)
        for r, (_, reference) in enumerate(part):
            answer = []
            for token in out[r, length:].tolist():
                if token == eos:
                    break
                answer.append(token)
            total += score(task["metric"], tok.decode(answer, skip_special_tokens=True), reference)
    model.train()
    return 100.0 * total / len(task["test"]) if task["test"] else 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("stream")
    parser.add_argument("model")
    parser.add_argument("out")
    parser.add_argument("--method", choices=["seqlora", "osft", "osft-reprojected", "osft-dense"], default="seqlora")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, help="train.lr (default: the stream's)")
    args = parser.parse_args()
    with open(args.stream, "rb") as f:
        config = tomllib.load(f)
    method = config.get("method", {})
    if method.get("name", "seqft") != args.method.split("-")[0]:
        print(f"[peer] the stream's method is {method.get('name', 'seqft')}; running {args.method} as asked")
    train = {"epochs": 1, "batch_size": 8, "lr": 1e-4, "weight_decay": 0.0, "beta1": 0.9, "beta2": 0.999,
             "eps": 1e-8, "schedule": "constant", "warmup_ratio": 0.0, "clip_norm": 1.0, "max_length": 256}
    train.update({k: v for k, v in config.get("train", {}).items() if k in train})
    if args.lr is not None:
        train["lr"] = args.lr
    evaluation = {"batch_size": 16, "max_new_tokens": 32}
    evaluation.update({k: v for k, v in config.get("eval", {}).items() if k in evaluation})

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    eos = model.config.eos_token_id
    eos = eos[0] if isinstance(eos, list) else eos
    pad = model.config.pad_token_id if model.config.pad_token_id is not None else eos
    max_length = min(train["max_length"], model.config.max_position_embeddings)
    train["max_length"] = max_length
    constraint = None  # the projections osft-dense and osft-reprojected add to the step
    if args.method == "seqlora":
        targets = method.get("targets") or "q_proj,v_proj"  # retain's default for the Llama family (PEFT's)
        adapter = LoraConfig(r=method.get("rank", 8), lora_alpha=method.get("alpha", 32),
                             lora_dropout=method.get("dropout", 0.1),
                             target_modules=[t.strip() for t in targets.split(",")])
        model = get_peft_model(model, adapter)
        settings = {"r": adapter.r, "alpha": adapter.lora_alpha, "dropout": adapter.lora_dropout,
                    "targets": sorted(adapter.target_modules)}
    elif args.method in ("osft", "osft-reprojected"):
        frozen = 1.0 - method.get("unfreeze_rank_ratio", 0.25)
        settings = {"effective_rank": frozen, "targets": "all-linear", "reapplied": "each task, merge_and_unload",
                    "factors_reprojected": args.method == "osft-reprojected"}
    else:
        constraint = DenseOsft(model, 1.0 - method.get("unfreeze_rank_ratio", 0.25))
        settings = {"frozen_ratio": constraint.frozen_ratio, "targets": "every linear but the output head",
                    "parametrisation": "dense, strict projection of the gradient and the weight"}
    tasks = read_tasks(args.stream, config)
    rng = random.Random(args.seed)
    R = [[None] * len(tasks) for _ in tasks]
    moved = {}  # task -> ‖ΔW‖ / ‖W‖ over the parameters the model has before and after the task
    for t, task in enumerate(tasks):
        if args.method in ("osft", "osft-reprojected"):
            model = get_peft_model(model, OSFConfig(effective_rank=frozen, target_modules="all-linear"))
            if args.method == "osft-reprojected":
                constraint = ReprojectedOsf(model)
        elif constraint:
            constraint.start_task()
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        train_task(model, tok, task, train, eos, pad, rng, constraint)
        if args.method in ("osft", "osft-reprojected"):
            model = model.merge_and_unload()
        moved[task["name"]] = relative_change(before, model)
        for i in range(t + 1):
            R[t][i] = evaluate(model, tok, tasks[i], evaluation, eos, pad, max_length)
        print(f"[peer] after {task['name']}: " + " ".join(f"{tasks[i]['name']}={R[t][i]:.4g}" for i in range(t + 1))
              + f"; weights moved by {moved[task['name']]:.3e} (relative)", flush=True)
    result = {"tasks": [t["name"] for t in tasks], "metric_names": [t["metric"] for t in tasks], "R": R,
              "weights_moved": moved,
              "settings": {"peer": f"transformers + peft, {args.method}", "seed": args.seed, "train": train,
                           "method": settings}}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
