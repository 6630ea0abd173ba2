#!/usr/bin/env bash
# Recall over seeds: nembed and cne at the same settings, each run with several seeds, 2 threads; kNN recall@10 and
# 10-NN accuracy of every run by `nembed evaluate`, then the mean and range per tool. Settles "equal or better
# recall" beyond one seed's noise (cne's own seed spread is ~0.001 on Fashion-MNIST). ~6 min per seed (cne ~5).
# Usage (repository root, build in build/, bench/setup_bench_env.sh done): bench/recall_seeds.sh [LOSS (neg)] [S (none)]
# Environment: OUT (out/recall_seeds), SEEDS ("42 1 2 3 4"), X / L (data and labels).
set -euo pipefail
cd "$(dirname "$0")/.."
LOSS=${1:-neg}; S=${2:-none}
O=${OUT:-out/recall_seeds}; mkdir -p "$O"; X=${X:-out/fmnist_pca50.npy}; L=${L:-out/fmnist_labels.npy}
SEEDS=${SEEDS:-42 1 2 3 4}
sarg=(); [ "$S" != none ] && sarg=(--s "$S")
for seed in $SEEDS; do
  ./build/nembed cne $X -o $O/nembed_${LOSS}_$seed.npy --loss $LOSS "${sarg[@]}" -j 2 --seed $seed --quiet
  .venv-bench/bin/python bench/peers/run_cne.py $X $O/cne_${LOSS}_$seed.npy 2 $LOSS $S $seed > /dev/null
  for t in nembed cne; do
    ./build/nembed evaluate $X --embedding $O/${t}_${LOSS}_$seed.npy --labels $L -k 10 --perplexity 0 -j 2 --quiet \
      --output $O/${t}_${LOSS}_$seed.json
  done
done
python3 - "$O" "$LOSS" $SEEDS <<'PY'
import json, sys
o, loss, seeds = sys.argv[1], sys.argv[2], sys.argv[3:]
print(f"| tool | loss | seeds | recall@10 mean | range | 10-NN accuracy mean |")
print("|---|---|---|---|---|---|")
for t in ("nembed", "cne"):
    m = [json.load(open(f"{o}/{t}_{loss}_{s}.json")) for s in seeds]
    r = [x["knn_recall"] for x in m]; a = [x["knn_accuracy"] for x in m]
    print(f"| {t} | {loss} | {' '.join(seeds)} | {sum(r)/len(r):.4f} | {min(r):.4f}-{max(r):.4f} | {sum(a)/len(a):.4f} |")
PY
