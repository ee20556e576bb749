"""retain against transformers + peft, step for step, on the same model, batch and threads.

Each workload runs as `retain bench methods` and as bench/peers/peer_step.py, each in a process of its
own (its peak resident memory is read from the kernel when it exits), one after the other on the same
cores; with --retain-pip also as a retain built against the peer's own libtorch (the like-for-like
row: same ATen kernels, same BLAS). Writes a Markdown table of the medians and the retain/peer ratios.
Run by bench/peers/speed.sh, which installs the pinned peer and prepares the model.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import torch

# workload → the retain method and its options (the peer's settings are in peer_step.py).
LORA_TARGETS = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"
RETAIN_METHODS = {
    "full": ("seqft", []),
    "lora": ("seqlora", ["rank=16", "alpha=32", "dropout=0", "targets=" + LORA_TARGETS]),
    "osf": ("osft", []),
    "migu": ("migu", []),
}


def run_measured(command):
    """Runs `command`; returns its stdout and its peak resident set in MB (the kernel's ru_maxrss)."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"speed.py: {' '.join(command)} failed with exit code {process.returncode}")
    return out, usage.ru_maxrss / 1024


def matmul_rate(threads):
    torch.set_num_threads(threads)
    n = 2048
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    seconds = []
    for _ in range(5):
        start = time.perf_counter()
        torch.mm(a, b)
        seconds.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(seconds)


def retain_row(binary, args, workload):
    method, sets = RETAIN_METHODS[workload]
    command = [binary, "bench", "methods", "--model", args.model, "--methods", method,
               "--batch", str(args.batch), "--length", str(args.length),
               "--steps", str(args.steps), "--warmup", str(args.warmup)]
    for s in sets:
        command += ["--set", s]
    out, rss = run_measured(command)
    header = re.search(r"([0-9.e+]+) FLOP per step; float32 matmul ([0-9.]+) GFLOP/s(?:; OpenBLAS (\w+) kernels)?", out)
    row = re.search(r"^\| " + re.escape(method) + r" \| ([0-9.]+) \|.*\| ([0-9.]+) \|$", out, re.MULTILINE)
    if not header or not row:
        sys.exit(f"speed.py: could not read retain's output:\n{out}")
    return {"step_s": float(row.group(1)) / 1e3, "setup_s": float(row.group(2)), "flops": float(header.group(1)),
            "matmul": float(header.group(2)) * 1e9, "kernels": header.group(3), "rss_mb": rss}


def peer_row(args, workload):
    import json

    command = [sys.executable, os.path.join(os.path.dirname(__file__), "peer_step.py"), "--model", args.model,
               "--workload", workload, "--batch", str(args.batch), "--length", str(args.length),
               "--steps", str(args.steps), "--warmup", str(args.warmup)]
    out, rss = run_measured(command)
    row = json.loads(out.strip().splitlines()[-1])
    row["rss_mb"] = rss
    return row


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--retain", required=True)
    parser.add_argument("--retain-pip", help="retain built against the peer's torch (-DRETAIN_TORCH_CPU_FROM)")
    parser.add_argument("--model", required=True, help="a Hugging Face folder both sides load")
    parser.add_argument("--workloads", default="full,lora,osf,migu")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    threads = int(os.environ.get("OMP_NUM_THREADS", os.cpu_count()))
    peer_matmul = matmul_rate(threads)
    tokens = args.batch * args.length
    lines = [
        f"{args.batch} x {args.length} tokens per step, float32, {threads} threads; median of {args.steps} steps "
        f"after {args.warmup} warm-up; peer: torch {torch.__version__} (float32 matmul {peer_matmul / 1e9:.1f} "
        "GFLOP/s)",
        "",
        "| workload | retain ms/step | peer ms/step | retain / peer time | retain tok/s | peer tok/s "
        "| retain GFLOP/s (of its matmul) | peer GFLOP/s (of its matmul) | retain peak MB | peer peak MB "
        "| retain / peer memory | retain set-up s | peer set-up s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    # (row suffix, binary, its name under the table)
    builds = [("", args.retain, "retain")]
    if args.retain_pip:
        builds.append((", retain on the peer's torch", args.retain_pip, "retain on the peer's torch"))
    retain_matmul = {label: [] for label, _, _ in builds}
    retain_kernels = {label: set() for label, _, _ in builds}
    rate = lambda row, matmul: f"{row['flops'] / row['step_s'] / 1e9:.1f} ({100 * row['flops'] / row['step_s'] / matmul:.0f} %)"
    for workload in args.workloads.split(","):
        mine = {}
        for label, binary, _ in builds:
            print(f"[speed] {workload}: retain{label}", file=sys.stderr, flush=True)
            mine[label] = retain_row(binary, args, workload)
            retain_matmul[label].append(mine[label]["matmul"])
            retain_kernels[label].add(mine[label]["kernels"] or "no OpenBLAS")
        print(f"[speed] {workload}: peer", file=sys.stderr, flush=True)
        theirs = peer_row(args, workload)
        for label, row in mine.items():
            lines.append(
                f"| {workload}{label} | {1e3 * row['step_s']:.0f} | {1e3 * theirs['step_s']:.0f} "
                f"| {row['step_s'] / theirs['step_s']:.2f} | {tokens / row['step_s']:.0f} | {tokens / theirs['step_s']:.0f} "
                f"| {rate(row, row['matmul'])} | {rate(theirs, peer_matmul)} | {row['rss_mb']:.0f} | {theirs['rss_mb']:.0f} "
                f"| {row['rss_mb'] / theirs['rss_mb']:.2f} | {row['setup_s']:.1f} | {theirs['setup_s']:.1f} |")
            print(lines[-1], file=sys.stderr, flush=True)
    lines.append("")
    for label, _, name in builds:
        kernels = ", ".join(sorted(retain_kernels[label]))
        lines.append(f"{name}: float32 matmul in its process {statistics.median(retain_matmul[label]) / 1e9:.1f} GFLOP/s "
                     f"(kernels: {kernels}; OPENBLAS_CORETYPE {os.environ.get('OPENBLAS_CORETYPE', 'not set')})")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
