#!/usr/bin/env bash
# Issue #16: TorchDR's neighbour-embedding family, TorchDR 0.5 (CPU torch, 2 threads) against nembed on Fashion-MNIST
# PCA-50, every method at its defaults (random_state / --seed 42). Methods that TorchDR computes densely (O(N^2)
# memory: SNE, TSNE, TSNEkhorn, COSNE) run on the first N_SMALL points, the sparse ones (InfoTSNE, LargeVis, UMAP,
# PACMAP) on all 70 000. Wall time: median of REPEATS runs (nembed: the whole process; TorchDR: fit_transform, not
# counting Python's start and `import torch`). Quality of every embedding by `nembed evaluate -k 10` (kNN recall@10
# on 10 000 query points, 10-NN accuracy), printed as a Markdown table (also written to $OUT/table.md).
# A method whose TorchDR column says "a,b" (the dense ones: about an hour per TorchDR run at 10 000 points) gets
# TorchDR's time by extrapolation from max_iter = a and b (run_torchdr.py's EXTRAP), and its quality columns from
# full default runs of both tools on the first N_QUAL points instead.
# Usage: bench/bench_torchdr.sh [REPEATS]   (build/nembed built; TorchDR in /work/main/.venv-bench or PY=...)
# Env: NEMBED (./build/nembed), PY (TorchDR's python), OUT (out/bench_torchdr), THREADS (2), X / L (data, labels),
#      N_SMALL (10000), PEERS (1 = also run TorchDR), BACKEND (TorchDR backend of the sparse methods: none | keops |
#      default; see bench/peers/run_torchdr.py), ONLY ("umap tsne": a subset of the methods),
#      N_LIMIT (smoke runs: cap every N), MAX_ITER (smoke runs: TorchDR's max_iter; 0 = its default),
#      METHODS (replaces the table below, same format), TORCHDR_REPEATS (REPEATS: TorchDR's runs per method),
#      N_QUAL (2000: the quality runs of the extrapolated methods; 0 = none, quality columns from nembed's timed
#      runs only).
set -uo pipefail
cd "$(dirname "$0")/.."

# One line per method: name | points (small = N_SMALL, full = all) | TorchDR's timing (full = a default run; "a,b" =
# extrapolated from max_iter a and b) | nembed arguments before the input ("-" = none yet). A method whose command is
# missing or fails is skipped, not fatal. TSNEkhorn's default run stops at its first gradient check (TorchDR's and
# ours alike: min_grad_norm 1e-4 against the tiny gradient of an init_scaling 1e-4 start), so it runs in full.
METHODS=${METHODS:-"
sne|small|5,15|ne --method sne
tsne|small|5,15|ne --method tsne
infotsne|full|full|ne --method infotsne
largevis|full|full|ne --method largevis
umap|full|full|ne --method umap
pacmap|full|full|pacmap
tsnekhorn|small|full|ne --method tsnekhorn
cosne|small|3,6|ne --method cosne
"}

REPEATS=${1:-3}
THREADS=${THREADS:-2}
NEMBED=${NEMBED:-./build/nembed}
PY=${PY:-/work/main/.venv-bench/bin/python}
OUT=${OUT:-out/bench_torchdr}
X=${X:-out/fmnist_pca50.npy}; L=${L:-out/fmnist_labels.npy}
N_SMALL=${N_SMALL:-10000}
PEERS=${PEERS:-1}
BACKEND=${BACKEND:-default}
N_QUAL=${N_QUAL:-2000}
ONLY=${ONLY:-}
N_LIMIT=${N_LIMIT:-0}
MAX_ITER=${MAX_ITER:-0}
TORCHDR_REPEATS=${TORCHDR_REPEATS:-$REPEATS}
mkdir -p "$OUT"
[ -f "$X" ] || { echo "missing $X (bench/peers/prepare_fmnist.py out)"; exit 1; }
N_FULL=$($PY -c "import numpy as np; print(np.load('$X', mmap_mode='r').shape[0])")

subset() {  # subset N: the first N points and labels, cached in $OUT
  local n=$1
  if [ ! -f "$OUT/x_$n.npy" ]; then
    $PY -c "import numpy as np; np.save('$OUT/x_$n.npy', np.load('$X')[:$n]); np.save('$OUT/l_$n.npy', np.load('$L')[:$n])"
  fi
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "-"; else if (NR % 2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
has_command() {  # the nembed subcommand exists (the method itself is checked by running it)
  [ "$1" != "-" ] && "$NEMBED" "${1%% *}" --help > /dev/null 2>&1
}
score() {  # score XFILE LFILE EMBEDDING -> "recall accuracy"
  local e
  e=$("$NEMBED" evaluate "$1" --embedding "$3" --labels "$2" -k 10 -j "$THREADS" 2>&1)
  echo "$(grep -o 'knn_recall@10: [0-9.]*' <<< "$e" | cut -d' ' -f2) $(grep -o 'knn_accuracy@10: [0-9.]*' <<< "$e" | cut -d' ' -f2)"
}

table="| method | N | nembed command | nembed s (runs) | TorchDR s (runs) | TorchDR / nembed (medians) | recall@10 nembed / TorchDR | 10-NN acc. nembed / TorchDR |
|---|---|---|---|---|---|---|---|"
while IFS='|' read -r name size tmode cmd; do
  [ -n "$name" ] || continue
  if [ -n "$ONLY" ] && [[ " $ONLY " != *" $name "* ]]; then continue; fi
  n=$N_FULL; [ "$size" = small ] && n=$N_SMALL
  [ "$N_LIMIT" -gt 0 ] && [ "$n" -gt "$N_LIMIT" ] && n=$N_LIMIT
  [ "$n" -gt "$N_FULL" ] && n=$N_FULL
  subset "$n"
  xs="$OUT/x_$n.npy"; ls_="$OUT/l_$n.npy"
  ours="" ; theirs=""; q_ours="- -"; q_theirs="- -"
  if has_command "$cmd"; then
    for r in $(seq 1 "$REPEATS"); do
      t0=$(date +%s.%N)
      # shellcheck disable=SC2086  # the command is a word list by design
      if "$NEMBED" $cmd "$xs" -o "$OUT/${name}_nembed_$r.npy" -j "$THREADS" --seed 42 --quiet > "$OUT/${name}_nembed_$r.log" 2>&1; then
        ours="$ours $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')"
      else
        echo "$name: nembed $cmd failed (skipped): $(tail -1 "$OUT/${name}_nembed_$r.log")"; ours=""; break
      fi
    done
    [ -n "$ours" ] && q_ours=$(score "$xs" "$ls_" "$OUT/${name}_nembed_1.npy")
  else
    echo "$name: no nembed command '$cmd' (skipped)"
  fi
  if [ "$PEERS" = 1 ]; then
    for r in $(seq 1 "$TORCHDR_REPEATS"); do
      extrap=""; [ "$tmode" != full ] && extrap=$tmode
      if line=$($PY bench/peers/run_torchdr.py "$name" "$xs" "$OUT/${name}_torchdr_$r.npy" "$THREADS" "$BACKEND" "$MAX_ITER" "$extrap" 2> "$OUT/${name}_torchdr_$r.log" | tail -1) && [ -n "$line" ]; then
        theirs="$theirs $(grep -o '"seconds": [0-9.]*' <<< "$line" | awk '{printf "%.2f", $2}')"
      else
        echo "$name: TorchDR failed (skipped): $(tail -1 "$OUT/${name}_torchdr_$r.log")"; theirs=""; break
      fi
    done
    [ -n "$theirs" ] && [ "$tmode" = full ] && q_theirs=$(score "$xs" "$ls_" "$OUT/${name}_torchdr_1.npy")
  fi
  qnote=""
  if [ "$tmode" != full ] && [ "$N_QUAL" -gt 0 ]; then  # quality from full default runs of both on N_QUAL points
    qn=$N_QUAL; [ "$qn" -gt "$n" ] && qn=$n
    subset "$qn"; qx="$OUT/x_$qn.npy"; ql="$OUT/l_$qn.npy"; qnote=" (at $qn)"; q_ours="- -"; q_theirs="- -"
    # shellcheck disable=SC2086
    "$NEMBED" $cmd "$qx" -o "$OUT/${name}_nembed_q$qn.npy" -j "$THREADS" --seed 42 --quiet > /dev/null 2>&1 &&
      q_ours=$(score "$qx" "$ql" "$OUT/${name}_nembed_q$qn.npy")
    if [ "$PEERS" = 1 ] && $PY bench/peers/run_torchdr.py "$name" "$qx" "$OUT/${name}_torchdr_q$qn.npy" "$THREADS" "$BACKEND" "$MAX_ITER" > /dev/null 2>&1; then
      q_theirs=$(score "$qx" "$ql" "$OUT/${name}_torchdr_q$qn.npy")
    fi
  fi
  mo=$(echo "$ours" | median); mt=$(echo "$theirs" | median)
  ratio=-; [ "$mo" != - ] && [ "$mt" != - ] && ratio=$(awk -v a="$mt" -v b="$mo" 'BEGIN {printf "**%.1f×**", a / b}')
  read -r ro ao <<< "$q_ours"; read -r rt at <<< "$q_theirs"
  ours=${ours# }; theirs=${theirs# }
  tnote=""; [ "$tmode" != full ] && tnote=" (extrapolated from max_iter $tmode)"
  row="| $name | $n | \`${cmd}\` | ${ours:--} | ${theirs:--}$tnote | $ratio | ${ro:--} / ${rt:--}$qnote | ${ao:--} / ${at:--}$qnote |"
  echo "$row"
  table="$table
$row"
done <<< "$METHODS"
echo
echo "$table" | tee "$OUT/table.md"
