#!/usr/bin/env bash
# paraDime's routines, nembed.paradime vs paraDime 1.1 (CPU PyTorch), 2 threads each, on the first 5000
# Fashion-MNIST training images (784 pixels / 255, as the seed tutorial feeds MNIST): the tutorial's parametric
# UMAP at its settings and ParametricTSNE at paraDime's defaults (bench/paradime_run.py). Timed from the data to
# the trained model (relations, derived data, all phases); every embedding is scored by `nembed evaluate`
# (kNN recall@10, 10-NN accuracy) against the 784-dimensional images.
# Usage (from the repository root, with build/nembed, bench/setup_bench_env.sh done and nembed installed for NEMBED_PY):
#   bench/bench_paradime.sh [REPEATS]
# Environment: THREADS (2), OUT (out/bench_paradime), PY (the bench venv's python: paraDime), NEMBED_PY (a python
# with nembed installed; default python3), N (5000), PRECISIONS (nembed's network precisions to run, "float32";
# e.g. "float32 bf16": each one a tool column, nembed_bf16).
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=${1:-3}
THREADS=${THREADS:-2}
OUT=${OUT:-out/bench_paradime}
PY=${PY:-.venv-bench/bin/python}
NEMBED_PY=${NEMBED_PY:-python3}
N=${N:-5000}
PRECISIONS=${PRECISIONS:-float32}
mkdir -p "$OUT"
X="$OUT/fmnist_${N}_pixels.npy"; L="$OUT/fmnist_${N}_labels.npy"
if [ ! -f "$X" ]; then
  "$NEMBED_PY" - "$X" "$L" "$N" <<'PYEOF'
import gzip, sys
import numpy as np
x, l, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = "/usr/share/datasets/fashion-mnist/"
with gzip.open(d + "train-images-idx3-ubyte.gz") as f:
    img = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)[:n]
with gzip.open(d + "train-labels-idx1-ubyte.gz") as f:
    lab = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
np.save(x, (img / 255.0).astype(np.float32)); np.save(l, lab.astype(np.int64))
PYEOF
fi
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS NUMBA_NUM_THREADS=$THREADS
for r in $(seq 1 "$REPEATS"); do
  for m in umap tsne; do
    tools=""
    for p in $PRECISIONS; do if [ "$p" = float32 ]; then tools="$tools nembed"; else tools="$tools nembed_$p"; fi; done
    for tool in $tools paradime; do
      py=$NEMBED_PY; [ "$tool" = paradime ] && py=$PY
      prec=float32; case "$tool" in nembed_*) prec=${tool#nembed_} ;; esac
      PRECISION=$prec "$py" bench/paradime_run.py "${tool%%_*}" "$m" "$X" "$OUT/${tool}_${m}_$r.npy" "$THREADS" \
        2>/dev/null | tail -n 1 > "$OUT/${tool}_${m}_$r.json"
      ./build/nembed evaluate "$X" --embedding "$OUT/${tool}_${m}_$r.npy" --labels "$L" -k 10 -j "$THREADS" \
        > "$OUT/${tool}_${m}_$r.eval" 2>&1
      echo "$tool $m run $r: $(cat "$OUT/${tool}_${m}_$r.json") $(grep -iE 'recall|accuracy' "$OUT/${tool}_${m}_$r.eval" | tr '\n' ' ')"
    done
  done
done
