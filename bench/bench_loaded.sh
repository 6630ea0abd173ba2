#!/usr/bin/env bash
# nembed on a loaded machine (issue: threads spinning at barriers while their partners are descheduled).
# One busy process per core runs beside each nembed command; -j 1 and -j N are timed in turns, REPEATS times, and
# the medians printed. Usage: bash bench/bench_loaded.sh [NEMBED_BINARY ...]   (default build/nembed)
# Env: REPEATS (3), OUT (out/bench_loaded), JS (the -j values, "1 2 1000"). Inputs: the first 3 000 / 300 rows of tests/data/fmnist_4000_pca50.npy.
set -euo pipefail
cd "$(dirname "$0")/.."
BINS=("$@"); [ ${#BINS[@]} -eq 0 ] && BINS=(build/nembed)
REPEATS=${REPEATS:-3}; OUT=${OUT:-out/bench_loaded}; mkdir -p "$OUT"
python3 - "$OUT" <<'PY'
import sys, numpy as np
X = np.load("tests/data/fmnist_4000_pca50.npy")
np.save(sys.argv[1] + "/x3000.npy", X[:3000]); np.save(sys.argv[1] + "/x300.npy", np.ascontiguousarray(X[:300, :10]))
PY
busy=()
for _ in $(seq "$(nproc)"); do (while :; do :; done) & busy+=($!); done
trap 'kill "${busy[@]}" 2>/dev/null' EXIT
cases=("tsne x3000 fft|tsne $OUT/x3000.npy" "tsne x3000 bh|tsne $OUT/x3000.npy --method bh"
       "umap x300|umap $OUT/x300.npy" "cne x300|cne $OUT/x300.npy")
printf '%-16s %-28s %5s %10s   %s\n' case binary j median_s runs
for c in "${cases[@]}"; do
  name=${c%%|*}; args=${c#*|}
  for bin in "${BINS[@]}"; do
    for j in ${JS:-1 2 1000}; do
      ts=()
      for _ in $(seq "$REPEATS"); do
        s=$(date +%s.%N)
        timeout 300 "$bin" $args -o "$OUT/y.npy" -j "$j" -q 2>/dev/null || true
        ts+=("$(echo "$(date +%s.%N) - $s" | bc)")
      done
      med=$(printf '%s\n' "${ts[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
      printf '%-16s %-28s %5s %10.2f   %s\n' "$name" "$bin" "$j" "$med" "${ts[*]}"
    done
  done
done
