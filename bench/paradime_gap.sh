#!/usr/bin/env bash
# The parametric routines' gap to t-SNE / UMAP as training grows and the network widens (issue #17 item 5;
# bench/RESULTS.md "#17 where the parametric gap comes from"; docs/parametric.md, "Where the gap comes from").
#
#   cmake -B build -DNEMBED_BUILD_BENCH=ON && ninja -C build nembed paradime_gap
#   OUT=/tmp/gap bash bench/paradime_gap.sh [build]        (~20 CPU min at nice -n 10, 2 threads)
#
# Data: the first 5 000 Fashion-MNIST training images (784 pixels / 255), held out: the next 1 000. ParametricTSNE
# at paraDime's defaults (30 epochs of KL on batches of 500, lr 0.01, hidden [100, 50] Softplus), ParametricUMAP at
# the seed tutorial's settings (n_neighbors 30, min_dist 0.1, spectral phase 10 x 500 at 0.01, 60 epochs x 10
# batches x 500 edges, 3 negatives, lr 0.01, hidden [100, 100, 100] Softplus). Epochs x1, x4, x16 of the main phase;
# widths up to 512; cne's 3 x 100 ReLU; a last full-batch phase; a decaying rate. Each line: training recall@10 /
# 10-NN accuracy, held-out recall / accuracy (the 1 000 held-out points among themselves), CPU s of the fit.
# ONLY=tsne|umap|diag|extra runs one block (diag and extra need the t-SNE / UMAP reference maps of the first lines).
set -euo pipefail
BUILD=${1:-build}
OUT=${OUT:-/tmp/paradime_gap}
ONLY=${ONLY:-all}
mkdir -p "$OUT"
G="nice -n 10 $BUILD/bench/paradime_gap"
N="nice -n 10 $BUILD/nembed"
[ -f "$OUT/Xtr.npy" ] || $G prep "$OUT"
run() {  # label, then paradime_gap's arguments (environment variables before the label are passed on)
    local label=$1
    shift
    printf '%-58s %s\n' "$label" "$($G "$@")"
}
cpu() { /usr/bin/time -f "%U %S" "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%.1f", $1 + $2}'; }

if [ "$ONLY" = all ] || [ "$ONLY" = tsne ] || [ "$ONLY" = diag ]; then
    [ -f "$OUT/tsne_te.npy" ] || {
        c=$(cpu $N tsne "$OUT/Xtr.npy" -o "$OUT/tsne_tr.npy" -j 2 --seed 0 -q --save-model "$OUT/tsne_model")
        $N transform -m "$OUT/tsne_model" "$OUT/Xte.npy" -o "$OUT/tsne_te.npy" -j 2 -q
        printf '%-58s %s cpu %s\n' "t-SNE (nembed tsne, openTSNE's defaults)" \
            "$($G score "$OUT" "$OUT/tsne_tr.npy" "$OUT/tsne_te.npy")" "$c"
    }
fi
if [ "$ONLY" = all ] || [ "$ONLY" = umap ] || [ "$ONLY" = diag ]; then
    [ -f "$OUT/umap_te.npy" ] || {
        c=$(cpu $N umap "$OUT/Xtr.npy" -o "$OUT/umap_tr.npy" -j 2 --seed 0 -q --n-neighbors 30 \
            --transform "$OUT/Xte.npy" --transform-output "$OUT/umap_te.npy")
        printf '%-58s %s cpu %s\n' "UMAP (nembed umap --n-neighbors 30)" \
            "$($G score "$OUT" "$OUT/umap_tr.npy" "$OUT/umap_te.npy")" "$c"
    }
fi

if [ "$ONLY" = all ] || [ "$ONLY" = tsne ]; then
    for f in 1 4 16; do run "ParametricTSNE x$f, [100,50] softplus" tsne "$OUT" $f 100,50 softplus; done
    for w in 256,256 512,512; do
        for f in 1 4; do run "ParametricTSNE x$f, [$w] softplus" tsne "$OUT" $f $w softplus; done
    done
    run "ParametricTSNE x16, [256,256] softplus" tsne "$OUT" 16 256,256 softplus
    for f in 1 4 16; do run "ParametricTSNE x$f, cne's [100,100,100] relu" tsne "$OUT" $f 100,100,100 relu; done
    LR_ANNEAL=linear run "ParametricTSNE x4, linear rate decay" tsne "$OUT" 4 100,50 softplus
    FINAL_EPOCHS=10 FINAL_BATCH=5000 FINAL_LR=0.001 \
        run "ParametricTSNE x4 + 10 full-batch epochs at 0.001" tsne "$OUT" 4 100,50 softplus
fi
if [ "$ONLY" = all ] || [ "$ONLY" = umap ]; then
    for f in 1 4 16; do run "ParametricUMAP x$f, [100,100,100] softplus" umap "$OUT" $f 100,100,100 softplus; done
    run "ParametricUMAP x1, cne's [100,100,100] relu" umap "$OUT" 1 100,100,100 relu
fi
if [ "$ONLY" = all ] || [ "$ONLY" = umap2 ]; then
    # (run after the diagnostics on the loaded machine; x4 of the wider networks did not fit the session)
    run "ParametricUMAP x1, [256,256,256] softplus" umap "$OUT" 1 256,256,256 softplus
    LR_ANNEAL=linear run "ParametricUMAP x4, linear rate decay" umap "$OUT" 4 100,100,100 softplus
fi
if [ "$ONLY" = all ] || [ "$ONLY" = diag ]; then
    # Is it the batch loss? Its value at t-SNE's / UMAP's own map (a table at rate ~0) against the network's.
    TABLE_INIT="$OUT/tsne_tr.npy" MAIN_LR=1e-9 run "batch KL of t-SNE's map (table, rate 0)" tsne "$OUT" 0.1 table x
    TABLE_INIT="$OUT/umap_tr.npy" MAIN_LR=1e-9 run "batch loss of UMAP's map (table, rate 0)" umap "$OUT" 0.05 table x
    # Can the network represent t-SNE's map? Regress it (the position phase with t-SNE's map as targets).
    for e in 40 160; do
        FIT_TARGET="$OUT/tsne_tr.npy" INIT_EPOCHS=$e run "regress t-SNE's map, $e epochs, [100,50]" tsne "$OUT" 1 100,50 softplus
    done
    FIT_TARGET="$OUT/tsne_tr.npy" INIT_EPOCHS=160 run "regress t-SNE's map, 160 epochs, [512,512]" tsne "$OUT" 1 512,512 softplus
fi
if [ "$ONLY" = all ] || [ "$ONLY" = extra ]; then
    # The main phase's rate, and the start's scale (the PCA targets x10: the map starts near t-SNE's radius).
    for lr in 0.003 0.03; do MAIN_LR=$lr run "ParametricTSNE x4, main rate $lr" tsne "$OUT" 4 100,50 softplus; done
    POS_SCALE=10 run "ParametricTSNE x4, PCA targets x10" tsne "$OUT" 4 100,50 softplus
    # Does the batch loss keep t-SNE's / UMAP's map? A table started there, trained by it.
    TABLE_INIT="$OUT/tsne_tr.npy" MAIN_LR=0.1 run "table from t-SNE's map, batch KL x4 at 0.1" tsne "$OUT" 4 table x
    TABLE_INIT="$OUT/umap_tr.npy" MAIN_LR=0.01 run "table from UMAP's map, batch loss x1 at 0.01" umap "$OUT" 1 table x
fi
