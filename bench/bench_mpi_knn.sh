#!/usr/bin/env bash
# The crossover of the distributed kNN (docs/mpi.md §5): the exact ring against the HNSW shards (--neighbors hnsw
# --knn-shards R), both under mpirun -n R, on the first N rows of a data set, the kNN phase only (nembed umap's
# --timings "knn", k = 14, one epoch, random start). Interleaved: exact, shards, exact, shards, ... per N.
#
#   bash bench/bench_mpi_knn.sh [nembed binary] [data.npy (N x D, C order)] [output dir]
#
# Environment: SIZES (default "10000 20000 40000 70000"), RANKS (default 2), THREADS per rank (default 1), REPS
# (default 2), SHARDS (default = RANKS).
set -euo pipefail
BIN=${1:-build/nembed}
DATA=${2:?data.npy}
OUT=${3:-/tmp/bench_mpi_knn}
SIZES=${SIZES:-"10000 20000 40000 70000"}
RANKS=${RANKS:-2}
THREADS=${THREADS:-1}
REPS=${REPS:-2}
SHARDS=${SHARDS:-$RANKS}
mkdir -p "$OUT"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "# $(date -u '+%Y-%m-%d %H:%M UTC') $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), R = $RANKS, -j $THREADS"
echo "N method rep knn_seconds"
for N in $SIZES; do
    python3 -c "import numpy as np; X=np.load('$DATA', mmap_mode='r'); np.save('$OUT/x$N.npy', np.ascontiguousarray(X[:$N], dtype=np.float32))"
    for rep in $(seq "$REPS"); do
        for m in exact hnsw; do
            extra=(); [ "$m" = hnsw ] && extra=(--knn-shards "$SHARDS")
            mpirun --oversubscribe -n "$RANKS" "$BIN" umap "$OUT/x$N.npy" -o "$OUT/y.npy" --seed 1 -j "$THREADS" \
                --n-epochs 1 --init random --neighbors "$m" "${extra[@]}" --timings "$OUT/t.json" -q
            echo "$N $m $rep $(python3 -c "import json; t=json.load(open('$OUT/t.json')); print(t.get('knn', t.get('phases', {}).get('knn')))")"
        done
    done
done
