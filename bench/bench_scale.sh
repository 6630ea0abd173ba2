#!/usr/bin/env bash
# Scale (issue #21 item 3): t-SNE and UMAP from 10 000 to 1 000 000 points of a 100-cluster Gaussian mixture in 50-D
# (bench/make_mixture.py), nembed at openTSNE's / umap-learn's defaults, and the peers up to PEER_MAX points.
# Per run: wall and CPU seconds, peak RSS (/usr/bin/time -v), nembed's phases and seconds per 50 t-SNE iterations
# (flat as the map expands?); then a table and the log-log slopes of the cost curve (bench/peers/summarize_scale.py).
# Usage (repository root, build in build/, bench/setup_bench_env.sh done for peers): bench/bench_scale.sh
# Environment: SIZES ("10000 30000 100000 300000 1000000"), THREADS (2), OUT (out/bench_scale), PY
# (.venv-bench/bin/python, peers), PEER_MAX (100000; 0: no peers), NICE (0; 19 runs the series in the background of
# other work: then only CPU seconds and peak RSS mean anything), METHODS ("tsne umap").
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"10000 30000 100000 300000 1000000"}
THREADS=${THREADS:-2}
OUT=${OUT:-out/bench_scale}
PY=${PY:-.venv-bench/bin/python}
PEER_MAX=${PEER_MAX:-100000}
NICE=${NICE:-0}
METHODS=${METHODS:-"tsne umap"}
mkdir -p "$OUT"
run() {  # run NAME CMD...: /usr/bin/time -v into NAME.time, stdout into NAME.out
  local name=$1; shift
  nice -n "$NICE" /usr/bin/time -v "$@" > "$OUT/$name.out" 2> "$OUT/$name.time" || {
    echo "$name failed:"; tail -3 "$OUT/$name.time"; return 0; }
  echo "$name: $(grep -E 'Elapsed' "$OUT/$name.time" | awk '{print $NF}') wall, $(grep -E 'User time' "$OUT/$name.time" | awk '{print $NF}') s user"
}
for n in $SIZES; do
  X=$OUT/mix_$n.npy
  [ -f "$X" ] || python3 bench/make_mixture.py "$n" "$X"
  for m in $METHODS; do
    run "nembed_${m}_$n" ./build/nembed "$m" "$X" -o "$OUT/nembed_${m}_$n.npy" -j "$THREADS" --seed 42 --quiet \
        --timings "$OUT/nembed_${m}_$n.json"
    if [ "$PEER_MAX" -ge "$n" ] && [ -x "$PY" ]; then
      if [ "$m" = tsne ]; then
        run "opentsne_$n" "$PY" bench/peers/run_opentsne.py "$X" "$OUT/opentsne_$n.npy" "$THREADS"
      else
        run "umap_learn_$n" "$PY" bench/peers/run_umap.py "$X" "$OUT/umap_learn_$n.npy" "$THREADS" subset
      fi
    fi
  done
done
python3 bench/peers/summarize_scale.py "$OUT"
