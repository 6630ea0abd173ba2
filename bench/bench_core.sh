#!/usr/bin/env bash
# Issue #15 (one engine): t-SNE, UMAP, NEG and InfoNCE on Fashion-MNIST 70 000 x PCA-50 before and after the move onto
# the shared core, interleaved, 2 threads, seed 42; optionally the peers once each in the same run (openTSNE 1.0.4,
# umap-learn warm, cne 0.4 NEG and InfoNCE: PEERS=1, ~15 min more). Quality of every embedding by `nembed evaluate`
# (KL under perplexity 30 for t-SNE, kNN recall@10, 10-NN accuracy).
# Usage: BEFORE=path/to/old/nembed bench/bench_core.sh [REPEATS]  (build in build/; bench/setup_bench_env.sh for peers)
# Env: BEFORE (required), AFTER (./build/nembed), OUT (out/bench_core), PEERS (0), THREADS (2), X / L (data, labels).
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=${1:-2}
THREADS=${THREADS:-2}
OUT=${OUT:-out/bench_core}
AFTER=${AFTER:-./build/nembed}
BEFORE=${BEFORE:?set BEFORE to the nembed binary to compare with}
PY=${PY:-.venv-bench/bin/python}
X=${X:-out/fmnist_pca50.npy}; L=${L:-out/fmnist_labels.npy}
mkdir -p "$OUT"
[ -f "$X" ] || $PY bench/peers/prepare_fmnist.py out
secs() { grep -o '"seconds":[0-9.]*' "$1" | head -1 | cut -d: -f2; }
run() {  # run NAME BINARY ARGS... : one timed nembed run, timings JSON in $OUT/NAME.json
  local name=$1 bin=$2; shift 2
  "$bin" "$@" -o "$OUT/$name.npy" -j "$THREADS" --seed 42 --quiet --timings "$OUT/$name.json"
  echo "$name $(secs "$OUT/$name.json")"
}
for r in $(seq 1 "$REPEATS"); do
  for v in before after; do
    bin=$BEFORE; [ $v = after ] && bin=$AFTER
    run tsne_${v}_$r "$bin" tsne "$X"
    run umap_${v}_$r "$bin" umap "$X"
    run neg_${v}_$r "$bin" cne "$X" --loss neg
    run infonce_${v}_$r "$bin" cne "$X"
  done
done
if [ "${PEERS:-0}" = 1 ]; then
  $PY bench/peers/run_opentsne.py "$X" "$OUT/opentsne.npy" "$THREADS" | tail -1 | sed 's/^/opentsne /'
  $PY bench/peers/run_umap.py "$X" "$OUT/umap_learn.npy" "$THREADS" | tail -1 | sed 's/^/umap_learn /'
  $PY bench/peers/run_cne.py "$X" "$OUT/cne_neg.npy" "$THREADS" neg none | tail -1 | sed 's/^/cne_neg /'
  $PY bench/peers/run_cne.py "$X" "$OUT/cne_infonce.npy" "$THREADS" infonce none | tail -1 | sed 's/^/cne_infonce /'
fi
for f in "$OUT"/*_1.npy "$OUT"/opentsne.npy "$OUT"/umap_learn.npy "$OUT"/cne_*.npy; do
  [ -f "$f" ] || continue
  px=0; case $(basename "$f") in tsne_*|opentsne*) px=30;; esac  # the KL only means something for t-SNE
  echo "== $(basename "$f" .npy): $("$AFTER" evaluate "$X" --embedding "$f" --labels "$L" -k 10 -j "$THREADS" \
        --perplexity $px 2>&1 |
        grep -E -i "kl|recall|accuracy" | tr -s ' ' | tr '\n' ' ')"
done
for m in tsne umap neg infonce; do  # identical bits before/after?
  cmp -s "$OUT/${m}_before_1.npy" "$OUT/${m}_after_1.npy" && echo "$m: before and after bitwise identical" ||
    echo "$m: before and after DIFFER"
done
