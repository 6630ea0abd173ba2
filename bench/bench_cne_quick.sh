#!/usr/bin/env bash
# NEG and InfoNCE at cne's defaults: nembed twice, cne once each, interleaved, 2 threads; then the quality of run 1
# of each by `nembed evaluate`. A shorter form of bench_umap.sh for the two settings of the 10x bar (~13 min).
# Usage (repository root, build in build/, bench/setup_bench_env.sh done): bench/bench_cne_quick.sh
# Environment: OUT (out/bench_cne_quick), X / L (data and labels; a small subset checks the script itself).
set -euo pipefail
cd "$(dirname "$0")/.."
O=${OUT:-out/bench_cne_quick}; mkdir -p "$O"; X=${X:-out/fmnist_pca50.npy}; L=${L:-out/fmnist_labels.npy}
for r in 1 2; do
  ./build/nembed cne $X -o $O/nembed_neg_$r.npy --loss neg -j 2 --seed 42 --quiet --timings $O/nembed_neg_$r.json
  echo "nembed neg $r $(grep -o '"seconds":[0-9.]*' $O/nembed_neg_$r.json)"
  ./build/nembed cne $X -o $O/nembed_infonce_$r.npy -j 2 --seed 42 --quiet --timings $O/nembed_infonce_$r.json
  echo "nembed infonce $r $(grep -o '"seconds":[0-9.]*' $O/nembed_infonce_$r.json)"
  if [ $r = 1 ]; then
    .venv-bench/bin/python bench/peers/run_cne.py $X $O/cne_neg_1.npy 2 neg none | tail -1
    .venv-bench/bin/python bench/peers/run_cne.py $X $O/cne_infonce_1.npy 2 infonce none | tail -1
  fi
done
for t in nembed_neg nembed_infonce cne_neg cne_infonce; do
  echo "== $t"; ./build/nembed evaluate $X --embedding $O/${t}_1.npy --labels $L -k 10 --perplexity 0 -j 2 2>&1 | grep -E "recall|accuracy"
done
