#!/usr/bin/env bash
# t-SNE of Fashion-MNIST 70 000 x PCA-50: nembed vs openTSNE 1.0.4 (FFTW) vs FIt-SNE 1.2.1 (FFTW), 2 threads each,
# timed from the PCA-50 matrix to the embedding (openTSNE's defaults: perplexity 30, 250 + 500 iterations);
# peak RSS from /usr/bin/time; run 1 of every tool scored by the same evaluator (nembed evaluate: KL under the same
# perplexity-30 P, kNN recall@10, 10-NN accuracy); a Markdown summary at the end (bench/peers/summarize_tsne.py).
# Usage: bench/bench_tsne.sh [REPEATS]   (needs bench/setup_bench_env.sh and a build in build/)
# Env: TOOLS="nembed opentsne fitsne" (which to run), THREADS=2, OUT=out/bench_tsne, NEMBED=./build/nembed,
#      PY=.venv-bench/bin/python (the bench venv's interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=${1:-3}
THREADS=${THREADS:-2}
OUT=${OUT:-out/bench_tsne}
TOOLS=${TOOLS:-nembed opentsne fitsne}
PY=${PY:-.venv-bench/bin/python}
NEMBED=${NEMBED:-./build/nembed}
mkdir -p "$OUT"
[ -f out/fmnist_pca50.npy ] || $PY bench/peers/prepare_fmnist.py out
X=out/fmnist_pca50.npy; L=out/fmnist_labels.npy
rss() { grep "Maximum resident" "$1" | awk '{print $6}'; }
for r in $(seq 1 "$REPEATS"); do
  for tool in $TOOLS; do
    case $tool in
      nembed)
        /usr/bin/time -v $NEMBED tsne "$X" -o "$OUT/nembed_$r.npy" -j "$THREADS" --seed 42 --quiet \
           --timings "$OUT/nembed_$r.json" 2> "$OUT/nembed_$r.time"
        echo "nembed run $r: $(cut -c1-160 "$OUT/nembed_$r.json") rss_kb=$(rss "$OUT/nembed_$r.time")";;
      opentsne)
        /usr/bin/time -v $PY bench/peers/run_opentsne.py "$X" "$OUT/opentsne_$r.npy" "$THREADS" \
           > "$OUT/opentsne_$r.json" 2> "$OUT/opentsne_$r.time"
        echo "openTSNE run $r: $(cut -c1-160 "$OUT/opentsne_$r.json") rss_kb=$(rss "$OUT/opentsne_$r.time")";;
      fitsne)
        /usr/bin/time -v $PY bench/peers/run_fitsne.py "$X" "$OUT/fitsne_$r.npy" "$THREADS" \
           > "$OUT/fitsne_$r.log" 2> "$OUT/fitsne_$r.time"
        echo "FIt-SNE run $r: $(tail -n 1 "$OUT/fitsne_$r.log") rss_kb=$(rss "$OUT/fitsne_$r.time")";;
    esac
  done
done
for tool in $TOOLS; do
  $NEMBED evaluate "$X" --embedding "$OUT/${tool}_1.npy" --labels "$L" --perplexity 30 -j "$THREADS" --quiet \
     -o "$OUT/${tool}_1_metrics.json"
done
$PY bench/peers/summarize_tsne.py "$OUT"
