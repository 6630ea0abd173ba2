#!/usr/bin/env bash
# UMAP and the contrastive family on Fashion-MNIST 70 000 x PCA-50: `nembed umap` and `nembed cne` (NEG at s = 0,
# 0.5, 1, NEG and InfoNCE at cne's defaults) vs umap-learn and cne (CPU PyTorch, when installed), 2 threads each, timed from the PCA-50
# matrix to the embedding (umap-learn is warmed up on a small subset first so numba's JIT is not counted; cne's
# PyTorch start-up is not counted either). Every embedding is scored by the same evaluator: `nembed evaluate`
# (kNN recall@10, 10-NN accuracy, trustworthiness and distance Spearman on 10 000 query points).
# Usage (from the repository root, with a build in build/ and bench/setup_bench_env.sh done):
#   bench/bench_umap.sh [REPEATS]
# umap-learn is timed warm: the same fit once before in the same process (bench/peers/run_umap.py; its first, cold
# fit with numba's compilation is reported as cold_seconds). UMAP_ONLY=1: nembed umap and umap-learn only, REPEATS
# interleaved pairs, then medians, ratios and both tools' quality (`bench/bench_umap.sh 3` with UMAP_ONLY=1 is the
# issue #21 table; NEMBED_BASE=path/to/nembed adds an older binary to each pair, for before/after).
# Environment: THREADS (2), OUT (out/bench_umap), PY (.venv-bench/bin/python), CNE_PY (python with cne and torch;
# default PY), CNE_REPEATS (1: each cne run takes minutes), UMAP_ONLY (0), NEMBED_BASE (none), NEMBED (./build/nembed),
# X / L (data and labels; a small subset gives a quick check of the script itself).
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=${1:-3}
THREADS=${THREADS:-2}
OUT=${OUT:-out/bench_umap}
PY=${PY:-.venv-bench/bin/python}
CNE_PY=${CNE_PY:-$PY}
CNE_REPEATS=${CNE_REPEATS:-1}
NEMBED=${NEMBED:-./build/nembed}
mkdir -p "$OUT"
X=${X:-out/fmnist_pca50.npy}; L=${L:-out/fmnist_labels.npy}
[ -f "$X" ] || $PY bench/peers/prepare_fmnist.py out
HAVE_CNE=0
[ -x "$CNE_PY" ] && "$CNE_PY" -c "import cne, torch" 2>/dev/null && HAVE_CNE=1
[ "$HAVE_CNE" = 1 ] || echo "cne not available ($CNE_PY cannot import cne and torch): skipping cne"
rss() { grep "Maximum resident" "$1" | awk '{print $6}'; }
if [ "${UMAP_ONLY:-0}" = 1 ]; then
  for r in $(seq 1 "$REPEATS"); do
    /usr/bin/time -v $NEMBED umap "$X" -o "$OUT/nembed_umap_$r.npy" -j "$THREADS" --seed 42 --quiet \
       --timings "$OUT/nembed_umap_$r.json" 2> "$OUT/nembed_umap_$r.time"
    echo "nembed umap run $r: $(cat "$OUT/nembed_umap_$r.json")"
    if [ -n "${NEMBED_BASE:-}" ]; then
      $NEMBED_BASE umap "$X" -o "$OUT/base_umap_$r.npy" -j "$THREADS" --seed 42 --quiet --timings "$OUT/base_umap_$r.json"
      echo "base umap run $r: $(cat "$OUT/base_umap_$r.json")"
    fi
    /usr/bin/time -v $PY bench/peers/run_umap.py "$X" "$OUT/umap_learn_$r.npy" "$THREADS" warm \
       > "$OUT/umap_learn_$r.json" 2> "$OUT/umap_learn_$r.time"
    echo "umap-learn run $r: $(tail -n 1 "$OUT/umap_learn_$r.json")"
  done
  for tool in nembed_umap umap_learn $([ -n "${NEMBED_BASE:-}" ] && echo base_umap); do
    $NEMBED evaluate "$X" --embedding "$OUT/${tool}_1.npy" --labels "$L" -k 10 --perplexity 0 -j "$THREADS" \
       -o "$OUT/${tool}_1_metrics.json" > /dev/null
  done
  $PY - "$OUT" "$REPEATS" <<'PYEOF'
import json, statistics, sys, os
out, reps = sys.argv[1], int(sys.argv[2])
def last(p): return json.loads(open(p).read().strip().splitlines()[-1])
rows = {}
for tool in ("nembed_umap", "base_umap", "umap_learn"):
    runs = [last(f"{out}/{tool}_{r}.json") for r in range(1, reps + 1) if os.path.exists(f"{out}/{tool}_{r}.json")]
    if runs: rows[tool] = runs
ul = statistics.median(r["seconds"] for r in rows["umap_learn"])
def nembed_cpu(path):  # user + system seconds from /usr/bin/time -v
    t = {l.split(":")[0].strip(): l.split()[-1] for l in open(path) if "time (seconds)" in l}
    return float(t["User time (seconds)"]) + float(t["System time (seconds)"])
cpu = {"nembed_umap": [nembed_cpu(f"{out}/nembed_umap_{r}.time") for r in range(1, reps + 1)
                       if os.path.exists(f"{out}/nembed_umap_{r}.time")],
       "umap_learn": [r["cpu_seconds"] for r in rows["umap_learn"] if "cpu_seconds" in r]}
print("| tool | wall s (runs) | median | / warm umap-learn | kNN recall@10 | 10-NN acc. |")
print("|---|---|---|---|---|---|")
for tool, runs in rows.items():
    t = [r["seconds"] for r in runs]; m = statistics.median(t)
    q = json.load(open(f"{out}/{tool}_1_metrics.json"))
    print(f"| {tool} | {', '.join(f'{v:.2f}' for v in t)} | {m:.2f} | {m / ul:.3f} | {q['knn_recall']:.4f} | {q['knn_accuracy']:.4f} |")
if cpu["nembed_umap"] and cpu["umap_learn"]:
    a, b = statistics.median(cpu["nembed_umap"]), statistics.median(cpu["umap_learn"])
    print(f"CPU seconds (user + system; nembed's whole process, umap-learn's timed fit): nembed "
          f"{', '.join(f'{v:.1f}' for v in cpu['nembed_umap'])}, umap-learn {', '.join(f'{v:.1f}' for v in cpu['umap_learn'])}; "
          f"medians {a:.1f} / {b:.1f} = {a / b:.3f}")
cold = [r["cold_seconds"] for r in rows["umap_learn"]]
print(f"umap-learn cold (first fit in the process): {', '.join(f'{v:.2f}' for v in cold)}; median {statistics.median(cold):.2f} s")
for tool in ("nembed_umap", "base_umap"):
    if tool in rows:
        ph = {k: statistics.median(r[k] for r in rows[tool]) for k in ("knn", "graph", "init", "optimize")}
        print(tool, "phase medians (s):", " ".join(f"{k} {v:.2f}" for k, v in ph.items()))
PYEOF
  exit 0
fi
tools=(nembed_umap umap_learn nembed_neg nembed_neg_s0 nembed_neg_s05 nembed_neg_s1 nembed_infonce)
for r in $(seq 1 "$REPEATS"); do
  /usr/bin/time -v $NEMBED umap "$X" -o "$OUT/nembed_umap_$r.npy" -j "$THREADS" --seed 42 --quiet \
     --timings "$OUT/nembed_umap_$r.json" 2> "$OUT/nembed_umap_$r.time"
  echo "nembed umap run $r: $(cat "$OUT/nembed_umap_$r.json") rss_kb=$(rss "$OUT/nembed_umap_$r.time")"
  /usr/bin/time -v $PY bench/peers/run_umap.py "$X" "$OUT/umap_learn_$r.npy" "$THREADS" \
     > "$OUT/umap_learn_$r.json" 2> "$OUT/umap_learn_$r.time"
  echo "umap-learn run $r: $(tail -n 1 "$OUT/umap_learn_$r.json") rss_kb=$(rss "$OUT/umap_learn_$r.time")"
  for s in none 0 0.5 1; do
    tag=nembed_neg_s${s/./}; [ "$s" = none ] && tag=nembed_neg
    /usr/bin/time -v $NEMBED cne "$X" -o "$OUT/${tag}_$r.npy" --loss neg --s "$s" -j "$THREADS" --seed 42 --quiet \
       --timings "$OUT/${tag}_$r.json" 2> "$OUT/${tag}_$r.time"
    echo "nembed cne neg s=$s run $r: seconds=$(grep -o '"seconds":[0-9.]*' "$OUT/${tag}_$r.json") rss_kb=$(rss "$OUT/${tag}_$r.time")"
  done
  /usr/bin/time -v $NEMBED cne "$X" -o "$OUT/nembed_infonce_$r.npy" -j "$THREADS" --seed 42 --quiet \
     --timings "$OUT/nembed_infonce_$r.json" 2> "$OUT/nembed_infonce_$r.time"
  echo "nembed cne infonce run $r: seconds=$(grep -o '"seconds":[0-9.]*' "$OUT/nembed_infonce_$r.json") rss_kb=$(rss "$OUT/nembed_infonce_$r.time")"
  if [ "$HAVE_CNE" = 1 ] && [ "$r" -le "$CNE_REPEATS" ]; then
    for run in "neg none cne_neg" "neg 0 cne_neg_s0" "neg 1 cne_neg_s1" "infonce none cne_infonce"; do
      set -- $run
      /usr/bin/time -v $CNE_PY bench/peers/run_cne.py "$X" "$OUT/${3}_$r.npy" "$THREADS" "$1" "$2" \
         > "$OUT/${3}_$r.json" 2> "$OUT/${3}_$r.time"
      echo "cne $1 s=$2 run $r: $(tail -n 1 "$OUT/${3}_$r.json") rss_kb=$(rss "$OUT/${3}_$r.time")"
    done
  fi
done
[ "$HAVE_CNE" = 1 ] && tools+=(cne_neg cne_neg_s0 cne_neg_s1 cne_infonce)
for tool in "${tools[@]}"; do
  echo "== quality of ${tool}_1"
  $NEMBED evaluate "$X" --embedding "$OUT/${tool}_1.npy" --labels "$L" -k 10 --perplexity 0 -j "$THREADS" \
     -o "$OUT/${tool}_1_metrics.json"
done
