#!/usr/bin/env bash
# Strong scaling (issue #21 item 5): every method at 1 and 2 threads (THREADS="1 2"), on Fashion-MNIST 70 000 x PCA-50.
# One run each, thread counts interleaved per method; wall and user+sys CPU from /usr/bin/time, t-SNE's phases from
# --timings. Prints one line per run, then checks that t-SNE's outputs are the same bits for every thread count.
#   X=out/fmnist_pca50.npy OUT=out/scaling NEMBED=./build/nembed THREADS="1 2" bash bench/bench_scaling.sh
set -euo pipefail
X=${X:-out/fmnist_pca50.npy}
OUT=${OUT:-out/scaling}
NEMBED=${NEMBED:-./build/nembed}
THREADS=${THREADS:-1 2}
METHODS=${METHODS:-knn tsne umap cne_neg}
mkdir -p "$OUT"
for m in $METHODS; do
  for t in $THREADS; do
    case $m in
      knn)     cmd=("$NEMBED" knn "$X" -k 90 --method exact -o "$OUT/knn_j$t" -j "$t" --quiet);;
      tsne)    cmd=("$NEMBED" tsne "$X" -o "$OUT/tsne_j$t.npy" -j "$t" --seed 42 --quiet --timings "$OUT/tsne_j$t.json");;
      umap)    cmd=("$NEMBED" umap "$X" -o "$OUT/umap_j$t.npy" -j "$t" --seed 42 --quiet);;
      cne_neg) cmd=("$NEMBED" cne "$X" --loss neg -o "$OUT/cne_j$t.npy" -j "$t" --seed 42 --quiet);;
    esac
    /usr/bin/time -f "%e %U %S %M" -o "$OUT/$m.j$t.time" "${cmd[@]}" > /dev/null
    read -r wall user sys rss < "$OUT/$m.j$t.time"
    extra=""
    [ "$m" = tsne ] && extra=" $(cat "$OUT/tsne_j$t.json" | cut -c1-200)"
    echo "$m -j $t: wall $wall s, CPU $(echo "$user + $sys" | bc) s, rss ${rss} kB$extra"
  done
done
set -- $THREADS
for f in tsne umap cne; do
  [ -f "$OUT/${f}_j$1.npy" ] && [ -f "$OUT/${f}_j$2.npy" ] && { cmp -s "$OUT/${f}_j$1.npy" "$OUT/${f}_j$2.npy" && echo "$f: -j $1 and -j $2 same bits" || echo "$f: -j $1 and -j $2 DIFFER"; }
done
