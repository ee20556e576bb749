#!/usr/bin/env bash
# bench/peers/accuracy.sh OUT_DIR - accuracy of a retain method against the same method written with
# transformers + peft (bench/peers/accuracy.py) on the same stream, model, data, budget, learning rate
# and seeds, in one invocation: METHOD=seqlora (a sequential PEFT LoRA loop) or METHOD=osft (PEFT's OSF
# re-applied at each task boundary; retain with method.others = "frozen", as PEFT trains only the
# target matrices). METHOD=osft runs five sides: PEFT's OSF as it ships; retain's factor form
# (method.form = factors, the parametrisation PEFT and mini_trainer train) against PEFT's OSF with
# mini_trainer's re-projection of the factors after each step (accuracy.py --method
# osft-reprojected), the same rule; and retain's default dense form against that dense rule written
# in PyTorch (--method osft-dense). What lies between the pairs is what the parametrisation does.
# Writes OUT_DIR/accuracy.md: AA and BWT per side (mean ± sd over the seeds, and each seed's), and for
# each pair the difference of the means against the seed-to-seed spread. A side whose result is
# already in OUT_DIR is kept (delete it to run that side again), so an interrupted run goes on.
#
# Environment (defaults in brackets): RETAIN [build/retain], PEER_VENV [.cache/peer-venv], STREAM
# [streams/smollm2-instructions.toml: prepare its model and data first, README "Real models"],
# MODEL [the stream's [model] path], METHOD [seqlora], SEEDS [0 1 2], SETS [none]: more --set options for both sides
# (the peer reads the train.* and method.* ones from the resolved stream retain writes).
set -euo pipefail
out=${1:?usage: bench/peers/accuracy.sh OUT_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
retain=${RETAIN:-$root/build/retain}
venv=${PEER_VENV:-$root/.cache/peer-venv}
stream=$(realpath "${STREAM:-$root/streams/smollm2-instructions.toml}")
seeds=${SEEDS:-"0 1 2"}
method=${METHOD:-seqlora}
[ -x "$retain" ] || { echo "[peers] $retain is missing (make build)" >&2; exit 1; }
"$root/bench/peers/setup.sh" "$venv"
mkdir -p "$out"
out=$(realpath "$out")
sets=(--set "method.name=$method" --set eval.forward_transfer=false --set eval.general_text= --set eval.probe=)
[ "$method" = osft ] && sets+=(--set method.others=frozen)
for s in ${SETS:-}; do sets+=(--set "$s"); done
retain_side() {  # NAME SEED [--set ...]: retain's run, kept once its matrix.json is written (at its end)
  local name=$1 seed=$2
  shift 2
  if [ -f "$out/$name/seed$seed/matrix.json" ]; then echo "[peers] seed $seed: $name kept"; return; fi
  echo "[peers] seed $seed: $name"
  "$retain" run "$stream" --force --set "run.out=$out/$name" --set "run.name=seed$seed" --set "run.seed=$seed" \
    --set model.save=none "${sets[@]}" "$@" > "$out/$name-seed$seed.log" 2>&1
}
peer_side() {  # NAME METHOD SEED: the peer, on the stream as retain resolved it (every --set applied, paths absolute)
  local name=$1 peer_method=$2 seed=$3
  if [ -f "$out/$name-seed$seed.json" ]; then echo "[peers] seed $seed: $name kept"; return; fi
  echo "[peers] seed $seed: $name"
  local config="$out/retain/seed$seed/config.toml"
  local model=${MODEL:-$(sed -n 's/^path = "\(.*\)"$/\1/p' "$config" | head -1)}
  "$venv/bin/python" "$root/bench/peers/accuracy.py" "$config" "$model" "$out/$name-seed$seed.json.partial" \
    --method "$peer_method" --seed "$seed" > "$out/$name-seed$seed.log" 2>&1
  mv "$out/$name-seed$seed.json.partial" "$out/$name-seed$seed.json"
}
for seed in $seeds; do
  if [ "$method" = osft ]; then
    retain_side retain "$seed" --set method.form=dense
    retain_side retain-factors "$seed" --set method.form=factors
    peer_side peer osft "$seed"
    peer_side peer-reprojected osft-reprojected "$seed"
    peer_side peer-dense osft-dense "$seed"
  else
    retain_side retain "$seed"
    peer_side peer "$method" "$seed"
  fi
done
"$venv/bin/python" - "$out" "$method" $seeds <<'PY'
import json, statistics, sys
out, method, seeds = sys.argv[1], sys.argv[2], sys.argv[3:]
def metrics(R):
    T = len(R)
    aa = statistics.mean(R[T - 1])
    bwt = statistics.mean([R[T - 1][i] - R[i][i] for i in range(T - 1)]) if T > 1 else 0.0
    return aa, bwt
def mean_sd(xs):
    return f"{statistics.mean(xs):.2f} ± {statistics.stdev(xs):.2f}" if len(xs) > 1 else f"{xs[0]:.2f}"
def retain_side(name):
    return [json.load(open(f"{out}/{name}/seed{s}/matrix.json"))["R"] for s in seeds]
def peer_side(name):
    return [json.load(open(f"{out}/{name}-seed{s}.json"))["R"] for s in seeds]
if method == "osft":
    sides = {"peer: peft OSF as it ships (factors, gradients projected)": peer_side("peer"),
             "retain osft, form = factors": retain_side("retain-factors"),
             "peer: peft OSF + the factors re-projected after each step": peer_side("peer-reprojected"),
             "retain osft, form = dense (default)": retain_side("retain"),
             "peer: retain's dense rule in PyTorch": peer_side("peer-dense")}
else:
    sides = {f"retain {method}": retain_side("retain"), f"peer {method} (transformers + peft)": peer_side("peer")}
names = list(sides)
pairs = [(names[i], names[i + 1]) for i in range(len(names) % 2, len(names), 2)]
lines = ["| side | AA | BWT | AA per seed | last row, seed " + seeds[0] + " |", "|---|---:|---:|---|---|"]
scores = {}
for side, matrices in sides.items():
    m = [metrics(R) for R in matrices]
    scores[side] = {"AA": [a for a, _ in m], "BWT": [b for _, b in m]}
    lines.append(f"| {side} | {mean_sd(scores[side]['AA'])} | {mean_sd(scores[side]['BWT'])} | "
                 + " / ".join(f"{a:.2f}" for a, _ in m) + " | " + " / ".join(f"{x:.1f}" for x in matrices[0][-1]) + " |")
if len(seeds) > 1:
    lines.append("")
    for a, b in pairs:
        for metric in ("AA", "BWT"):
            x, y = scores[a][metric], scores[b][metric]
            spread = max(statistics.stdev(x), statistics.stdev(y))
            difference = statistics.mean(x) - statistics.mean(y)
            lines.append(f"- {a} against {b}, {metric}: difference of the means {difference:+.2f}; seed-to-seed sd "
                         f"{statistics.stdev(x):.2f} and {statistics.stdev(y):.2f}; "
                         f"{'within' if abs(difference) <= 2 * spread else 'OUTSIDE'} twice the larger sd.")
open(f"{out}/accuracy.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
