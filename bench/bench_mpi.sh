#!/usr/bin/env bash
# Distributed t-SNE or UMAP (docs/mpi.md) on Fashion-MNIST 70 000 x 50 with 1, 2 and 4 ranks on this machine: wall time,
# peak memory of every rank (/usr/bin/time %M), bytes each rank sends (nembed -v), and a byte comparison of every
# run's embedding with the single-process one (they must be identical).
#
#   bash bench/bench_mpi.sh [nembed binary] [data.npy] [output dir]
#
# Environment: METHOD (tsne, umap, cne or ne; default tsne; cne: --n-epochs EPOCHS; ne: `nembed ne --method NE_METHOD` (default tsne) with
# --max-iter ITER (default 500 for ne too)), RANKS (default "1 2 4"; a count may repeat, e.g. "1 2 1 2" to
# interleave), THREADS per rank (default 1), ITER (t-SNE main-phase iterations, default 500; early exaggeration
# stays 250), EPOCHS (UMAP, default 200: umap-learn's above 10 000 points), NEIGHBORS (exact, the default, or hnsw)
# and SHARDS (--knn-shards with hnsw, default 2); KNN_INPUT=PREFIX (tsne, cne) reads precomputed neighbours
# (`nembed knn -o PREFIX`, by rows) instead of searching, the same file for every R. One rank is the plain
# single-process run (no mpirun; with KNN_INPUT the distributed code on one process). On a 2-core machine 4 ranks are oversubscribed: their wall time measures contention, not scaling.
set -euo pipefail
BIN=${1:-build/nembed}
DATA=${2:-/work/main/out/fmnist_pca50.npy}
OUT=${3:-/tmp/bench_mpi}
RANKS=${RANKS:-"1 2 4"}
THREADS=${THREADS:-1}
ITER=${ITER:-500}
EPOCHS=${EPOCHS:-200}
METHOD=${METHOD:-tsne}
NE_METHOD=${NE_METHOD:-tsne}
NEIGHBORS=${NEIGHBORS:-exact}  # or hnsw: the sharded search, SHARDS shards (default 2) for every R, 1 included
SHARDS=${SHARDS:-2}
knn=(--neighbors "$NEIGHBORS"); [ "$NEIGHBORS" = hnsw ] && knn+=(--knn-shards "$SHARDS")
[ -n "${KNN_INPUT:-}" ] && knn=(--knn-input "$KNN_INPUT")
read -r -a extra <<< "${EXTRA:-}"  # further options for every run, e.g. EXTRA="--init pca"
mkdir -p "$OUT"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
case "$METHOD" in
    # --point-order none: the order ranks keep (one process renumbers along a Hilbert curve from 10 000 points)
    tsne) args=(tsne "$DATA" --seed 1 -j "$THREADS" "${knn[@]}" --n-iter "$ITER" --point-order none -v "${extra[@]}") ;;
    umap) args=(umap "$DATA" --seed 1 -j "$THREADS" "${knn[@]}" --n-epochs "$EPOCHS" -v "${extra[@]}") ;;
    cne) args=(cne "$DATA" --seed 1 -j "$THREADS" "${knn[@]}" --n-epochs "$EPOCHS" -v "${extra[@]}") ;;
    ne) args=(ne "$DATA" --method "$NE_METHOD" --seed 1 -j "$THREADS" "${knn[@]}" --max-iter "$ITER" -v "${extra[@]}") ;;
    *) echo "METHOD must be tsne, umap, cne or ne" >&2; exit 2 ;;
esac
echo "# $(date -u '+%Y-%m-%d %H:%M UTC') $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# $BIN ${args[*]}"
for R in $RANKS; do
    log="$OUT/r$R.log"
    start=$(date +%s.%N)
    if [ "$R" = 1 ]; then
        ${NICE:-} /usr/bin/time -f "peak_rss_kb %M cpu_s %U %S" "$BIN" "${args[@]}" -o "$OUT/y$R.npy" > "$log" 2>&1
    else
        ${NICE:-} mpirun --oversubscribe -n "$R" /usr/bin/time -f "peak_rss_kb %M cpu_s %U %S" "$BIN" "${args[@]}" -o "$OUT/y$R.npy" \
            > "$log" 2>&1
    fi
    end=$(date +%s.%N)
    wall=$(echo "$end - $start" | bc)
    peaks=$(grep -o 'peak_rss_kb [0-9]*' "$log" | awk '{printf "%.0f ", $2/1024}')
    cpu=$(grep -o 'cpu_s [0-9.]* [0-9.]*' "$log" | awk '{s += $2 + $3} END {printf "%.1f", s}')
    same="-"
    [ "$R" != 1 ] && { cmp -s "$OUT/y1.npy" "$OUT/y$R.npy" && same=identical || same=DIFFERENT; }
    timings=$(grep -m1 '^timings:' "$log" || true)
    timings="$timings $(grep -m1 '^KL divergence' "$log" || true)"
    echo "R=$R wall ${wall} s; CPU ${cpu} s (all ranks); peak MB per rank: ${peaks}; vs 1 rank: $same"
    echo "   $timings"
    grep 'sent:' "$log" | sed 's/^/   /' || true
done
