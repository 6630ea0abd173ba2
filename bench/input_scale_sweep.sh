#!/usr/bin/env bash
# Issue #17: which scale should the networks' input map (parametric/mlp.hpp, InputNormalization) give the rows?
# Under Adam the input scale works as a learning rate of the first layer, so this sweeps it: the data are centred
# and scaled to a target RMS T ("tT"), or only centred ("centre": the pixels' own RMS, 0.296), by numpy and fed with
# the map off (NORMALIZE=0 / --no-input-normalization), against the map's own unit RMS ("unit") and the raw rows
# ("raw", paraDime's and cne's behaviour). Runs, seeds interleaved:
#   - paraDime's routines (bench_paradime_parts: the tutorial's ParametricUMAP, ParametricTSNE at paraDime's
#     defaults) on the first N Fashion-MNIST images /255 (bench_paradime.sh's file) and on their PCA-50 rows;
#   - cne's parametric mode (`nembed cne --parametric`, cne's defaults) on the first 10 000 PCA-50 rows (InfoNCE and
#     NEG) and on the N pixel rows (InfoNCE).
# Output lines "RUN VARIANT SEED recall@10 R accuracy A" (recall against the run's own input rows), then the means.
# Usage: bench/input_scale_sweep.sh   Env: BUILD (build), OUT (out/input_scale), PY (python3 with numpy),
#   PIXELS / LABELS (bench_paradime.sh's out/bench_paradime/fmnist_5000_{pixels,labels}.npy), PCA / PCA_LABELS
#   (out/fmnist_pca50.npy, out/fmnist_labels.npy: bench/peers/prepare_fmnist.py), SEEDS (12), TARGETS ("0.1 0.5 2").
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}; OUT=${OUT:-out/input_scale}; PY=${PY:-python3}
PIXELS=${PIXELS:-out/bench_paradime/fmnist_5000_pixels.npy}; LABELS=${LABELS:-out/bench_paradime/fmnist_5000_labels.npy}
PCA=${PCA:-out/fmnist_pca50.npy}; PCA_LABELS=${PCA_LABELS:-out/fmnist_labels.npy}
SEEDS=${SEEDS:-12}; TARGETS=${TARGETS:-0.1 0.5 2}
B=$BUILD/bench/bench_paradime_parts; N=$BUILD/nembed
mkdir -p "$OUT"
for f in "$PIXELS" "$PCA"; do [ -f "$f" ] || { echo "missing $f (bench/bench_paradime.sh, bench/peers/prepare_fmnist.py)"; exit 1; }; done
"$PY" - "$PIXELS" "$PCA" "$PCA_LABELS" "$OUT" $TARGETS <<'PYEOF'
import sys
import numpy as np
pixels, pca, pca_labels, out, targets = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
def scaled(x, name):
    x = x.astype(np.float64)
    c = x - x.mean(0)
    rms = np.sqrt((c ** 2).mean())
    np.save(f"{out}/{name}.npy", x.astype(np.float32))
    np.save(f"{out}/{name}_centre.npy", c.astype(np.float32))  # centred only: the data's own RMS
    for t in targets + ["0.3"]:
        np.save(f"{out}/{name}_t{t}.npy", (c * (float(t) / rms)).astype(np.float32))
x = np.load(pixels)
scaled(x, "pixels")
p = np.load(pca)
scaled(p[: len(x)], "pca_n")
scaled(p[:10000], "pca_10k")
np.save(f"{out}/pca_10k_labels.npy", np.load(pca_labels)[:10000])
PYEOF
line() { grep recall | sed "s/^/$1 $2 $3 /"; }
cne_q() {  # cne_q X EMB LABELS -> "recall@10 R accuracy A"
  $N evaluate "$1" --embedding "$2" --labels "$3" -k 10 -j 2 2>&1 |
    awk '/knn_recall@10/ {r=$2} /knn_accuracy@10/ {a=$2} END {print "recall@10", r, "accuracy", a}'
}
{
for m in umap tsne; do
  for ((s = 0; s < SEEDS; s++)); do
    $B $m "$OUT/pixels.npy" 2 $s f32 "$LABELS" | line "$m" unit $s
    NORMALIZE=0 $B $m "$OUT/pixels.npy" 2 $s f32 "$LABELS" | line "$m" raw $s
    NORMALIZE=0 $B $m "$OUT/pixels_centre.npy" 2 $s f32 "$LABELS" | line "$m" centre $s
    for t in $TARGETS; do NORMALIZE=0 $B $m "$OUT/pixels_t$t.npy" 2 $s f32 "$LABELS" | line "$m" "t$t" $s; done
  done
  for ((s = 0; s < SEEDS / 2; s++)); do
    $B $m "$OUT/pca_n.npy" 2 $s f32 "$LABELS" | line "pca-$m" unit $s
    NORMALIZE=0 $B $m "$OUT/pca_n_t0.3.npy" 2 $s f32 "$LABELS" | line "pca-$m" t0.3 $s
  done
done
for loss in infonce neg; do
  for s in 0 1 2; do
    $N cne "$OUT/pca_10k.npy" -o "$OUT/cne.npy" --parametric --loss $loss --seed $s -j 2 -q
    echo "cne-$loss unit $s $(cne_q "$OUT/pca_10k.npy" "$OUT/cne.npy" "$OUT/pca_10k_labels.npy")"
    $N cne "$OUT/pca_10k_t0.3.npy" -o "$OUT/cne.npy" --parametric --loss $loss --seed $s -j 2 -q --no-input-normalization
    echo "cne-$loss t0.3 $s $(cne_q "$OUT/pca_10k.npy" "$OUT/cne.npy" "$OUT/pca_10k_labels.npy")"
  done
done
for s in 0 1; do
  $N cne "$OUT/pixels.npy" -o "$OUT/cne.npy" --parametric --seed $s -j 2 -q
  echo "pix-cne unit $s $(cne_q "$OUT/pixels.npy" "$OUT/cne.npy" "$LABELS")"
  $N cne "$OUT/pixels_centre.npy" -o "$OUT/cne.npy" --parametric --seed $s -j 2 -q --no-input-normalization
  echo "pix-cne centre $s $(cne_q "$OUT/pixels.npy" "$OUT/cne.npy" "$LABELS")"
done
} | tee "$OUT/runs.txt"
"$PY" - "$OUT/runs.txt" <<'PYEOF'
import collections, statistics, sys
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) >= 7:
        d[(p[0], p[1])].append((float(p[4]), float(p[6])))
for (run, variant), v in sorted(d.items()):
    r = [x[0] for x in v]
    print(f"{run:12s} {variant:6s} n={len(v):2d} recall@10 {statistics.mean(r):.4f} ({min(r):.4f}-{max(r):.4f})"
          f" accuracy {statistics.mean(x[1] for x in v):.4f}")
PYEOF
