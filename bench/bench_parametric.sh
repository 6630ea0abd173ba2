#!/usr/bin/env bash
# Issue #17: cne's parametric mode, NEG loss, at cne's defaults (FCNetwork 50 -> 100 -> 100 -> 100 -> 2, ReLU, batch
# 2^15, 5 negatives, SGD lr 0.001 annealed, 200 epochs) on Fashion-MNIST PCA-50 (70 000 points): nembed
# (`nembed cne --parametric --loss neg`) against cne on CPU PyTorch, both with THREADS threads. A full 200-epoch run
# takes long on CPU for both tools, so each tool runs E1 and E2 epochs (annealing over its own epochs: the
# per-epoch cost does not depend on the rate) and the 200-epoch time is extrapolated linearly:
# t(200) = t(E1) + (200 − E1)·(t(E2) − t(E1))/(E2 − E1) (the intercept holds the kNN graph and set-up).
# Then the applying of the trained network to all 70 000 points: nembed's `nembed transform -m MODEL` (the time it
# prints, loading excluded) and cne's transform. Quality (`nembed evaluate -k 10`) of the E2-epoch runs.
# Medians of REPEATS runs, the tools interleaved in each repeat; a Markdown table on stdout and in $OUT/table.md.
# Times: wall (nembed: the whole command; cne: its fit, torch's import excluded) and CPU (user + sys of the whole
# process, all threads; cne's includes Python's and torch's start, the same for E1 and E2). The marginal epoch,
# (t(E2) − t(E1))/(E2 − E1), separates the per-epoch cost from the set-up (kNN graph, imports).
# Usage: bench/bench_parametric.sh [REPEATS]   Env: NEMBED (./build/nembed), PY (/work/main/.venv-bench/bin/python),
#        OUT (out/bench_parametric), THREADS (2), X / L (out/fmnist_pca50.npy, out/fmnist_labels.npy), E1 (2), E2 (6),
#        PEERS (1: also run cne), BASE (optional: a second nembed binary, e.g. a build before a change, run
#        interleaved as the tool "base").
set -uo pipefail
cd "$(dirname "$0")/.."
REPEATS=${1:-3}
NEMBED=${NEMBED:-./build/nembed}
PY=${PY:-/work/main/.venv-bench/bin/python}
OUT=${OUT:-out/bench_parametric}
THREADS=${THREADS:-2}
X=${X:-out/fmnist_pca50.npy}; L=${L:-out/fmnist_labels.npy}
E1=${E1:-2}; E2=${E2:-6}
PEERS=${PEERS:-1}
mkdir -p "$OUT"
[ -f "$X" ] || { echo "missing $X (bench/peers/prepare_fmnist.py out)"; exit 1; }

median() { sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
quality() {  # quality EMB: "recall acc"
  $NEMBED evaluate "$X" --embedding "$1" --labels "$L" -k 10 -j "$THREADS" 2>&1 |
    awk '/knn_recall@10/ {r=$2} /knn_accuracy@10/ {a=$2} END {print r, a}'
}

declare -A T
cpu() { awk '{printf "%.2f", $2 + $3}'; }  # "wall user sys" -> user + sys
for e in $E1 $E2; do
  for ((r = 1; r <= REPEATS; r++)); do
    for tool in nembed ${BASE:+base}; do
      bin=$NEMBED; [ "$tool" = base ] && bin=$BASE
      s=$( { /usr/bin/time -f "%e %U %S" $bin cne "$X" -o "$OUT/${tool}_$e.npy" --parametric --loss neg --n-epochs "$e" \
             -j "$THREADS" --save-model "$OUT/${tool}_model_$e" -q; } 2>&1 | tail -1)
      T[${tool}_$e]+="${s%% *} "
      T[${tool}_cpu_$e]+="$(echo "$s" | cpu) "
      a=$($bin transform -m "$OUT/${tool}_model_$e" "$X" -o "$OUT/${tool}_apply_$e.npy" -j "$THREADS" 2>&1 |
          sed -n 's/.*transform of [0-9]* points in \([0-9.]*\) *s.*/\1/p')
      T[${tool}_apply]+="$a "
    done
    if [ "$PEERS" = 1 ]; then
      out=$( { /usr/bin/time -f "%e %U %S" $PY bench/peers/run_cne_parametric.py "$X" "$OUT/cne_$e.npy" "$THREADS" neg \
               "$e"; } 2>&1)
      j=$(echo "$out" | grep '^{' | tail -1)
      T[cne_$e]+="$($PY -c "import json,sys; print(json.loads(sys.argv[1])['fit_seconds'])" "$j") "
      T[cne_cpu_$e]+="$(echo "$out" | tail -1 | cpu) "
      T[cne_apply]+="$($PY -c "import json,sys; print(json.loads(sys.argv[1])['transform_seconds'])" "$j") "
    fi
  done
done

med() { echo ${T[$1]:-} | tr ' ' '\n' | grep -v '^$' | median; }
extrap() { awk -v a="$1" -v b="$2" -v e1="$E1" -v e2="$E2" 'BEGIN {printf "%.1f", a + (200 - e1) * (b - a) / (e2 - e1)}'; }
marg() { awk -v a="$1" -v b="$2" -v e1="$E1" -v e2="$E2" 'BEGIN {printf "%.2f", (b - a) / (e2 - e1)}'; }
{
  echo "| tool | ${E1} ep. wall / CPU (s) | ${E2} ep. wall / CPU (s) | marginal epoch, CPU (s) | 200 epochs, extrapolated wall / CPU (s) | apply to all points (s) | recall@10 (${E2} ep.) | 10-NN acc. (${E2} ep.) |"
  echo "|---|---|---|---|---|---|---|---|"
  for tool in nembed ${BASE:+base} cne; do
    [ "$tool" = cne ] && [ "$PEERS" != 1 ] && continue
    a=$(med ${tool}_$E1); b=$(med ${tool}_$E2); ca=$(med ${tool}_cpu_$E1); cb=$(med ${tool}_cpu_$E2)
    echo "| $tool | $a / $ca | $b / $cb | $(marg "$ca" "$cb") | $(extrap "$a" "$b") / $(extrap "$ca" "$cb") | $(med ${tool}_apply) | $(quality "$OUT/${tool}_$E2.npy" | tr ' ' '|' | sed 's/|/ | /') |"
  done
} | tee "$OUT/table.md"
