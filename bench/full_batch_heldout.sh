#!/bin/bash
# #17, the held-out bound with the full-batch route (bench/RESULTS.md, p31b): training-subset sizes, the mixed
# schedule (batch KL phases, then full batch) and a validation curve for early stopping, on Fashion-MNIST PCA-50.
# usage: NB=build/nembed D=/tmp/p31b bash bench/full_batch_heldout.sh [prepare|q1|q2|q3]
# Every fit at nice -n 10, 2 threads; CPU s = user + sys of the fit (/usr/bin/time); quality: recall@10 / 10-NN acc.
set -e
NB=$(realpath ${NB:-build/nembed}); D=${D:-/tmp/p31b}; mkdir -p $D; cd $D
ev() { $NB evaluate $1 --embedding $2 --labels $3 -k 10 --perplexity 0 -j 2 -q -o $D/ev_$$.json >/dev/null 2>&1
       python3 -c "import json;d=json.load(open('$D/ev_$$.json'));print('%.4f/%.4f'%(d['knn_recall'],d['knn_accuracy']))"; }
cpu() { awk '{printf "%.1f", $1+$2}'; }
# ref TAG TR TE: nembed tsne on TR.npy, its transform of TE.npy (labels L<suffix>.npy)
ref() { local TAG=$1 TR=$2 TE=$3
  c=$( { /usr/bin/time -f "%U %S" nice -n 10 $NB tsne $TR.npy -o out_$TAG.npy -j 2 -q --save-model m_$TAG ; } 2>&1 | tail -1 | cpu)
  $NB transform -m m_$TAG $TE.npy -o te_$TAG.npy -j 2 -q
  echo "$TAG $TR->$TE | cpu $c | train $(ev $TR.npy out_$TAG.npy L${TR#X}.npy) | held $(ev $TE.npy te_$TAG.npy L${TE#X}.npy) | tsne"; }
# par TAG TR TE ARGS...: nembed parametric tsne ARGS on TR.npy, the saved network applied to TE.npy
par() { local TAG=$1 TR=$2 TE=$3; shift 3; rm -rf m_$TAG
  c=$( { /usr/bin/time -f "%U %S" nice -n 10 $NB parametric tsne "$@" $TR.npy -o out_$TAG.npy -j 2 -q --save-model m_$TAG ; } 2>&1 | tail -1 | cpu)
  $NB transform -m m_$TAG $TE.npy -o te_$TAG.npy -j 2 -q
  echo "$TAG $TR->$TE | cpu $c | train $(ev $TR.npy out_$TAG.npy L${TR#X}.npy) | held $(ev $TE.npy te_$TAG.npy L${TE#X}.npy) | $*"; }
MIX="--full-batch --full-batch-after-kl --epochs 120 --lr-anneal linear --full-batch-exaggeration 1"
case ${1:-all} in
prepare|all) python3 -c "
import numpy as np
X=np.load('/work/main/out/fmnist_pca50.npy'); L=np.load('/work/main/out/fmnist_labels.npy')
for n in (4000,5000,10000,20000): np.save('X%d.npy'%n, X[:n]); np.save('L%d.npy'%n, L[:n])
np.save('Xh5.npy', X[5000:6000]); np.save('Lh5.npy', L[5000:6000])      # p31's held out for 5 000
np.save('Xte.npy', X[20000:21000]); np.save('Lte.npy', L[20000:21000])  # held out for 10 000 and 20 000
np.save('Xva.npy', X[4000:5000]); np.save('Lva.npy', L[4000:5000])      # validation split of the first 5 000
" ;;&
q1|all) for n in 10000 20000; do ref ref$n X$n Xte; par fb$n X$n Xte --full-batch
          par mixtanh$n X$n Xte $MIX --full-batch-iterations 300 --activation tanh; done
        for it in 300 1000; do par mix10000_$it X10000 Xte $MIX --full-batch-iterations $it; done
        par mixtanh10000_700 X10000 Xte $MIX --full-batch-iterations 700 --activation tanh
        for s in 0 1; do par mixtanh10000_1000_s$s X10000 Xte $MIX --full-batch-iterations 1000 --activation tanh --seed $s; done ;;&
q2|all) ref ref5 X5000 Xh5
        par mixsoft X5000 Xh5 --epochs 120 --lr-anneal linear --full-batch-iterations 300 --full-batch-after-kl --full-batch-exaggeration 1
        for it in 300 600; do par mix$it X5000 Xh5 $MIX --full-batch-iterations $it; done
        for s in 0 1; do par mixtanh_s$s X5000 Xh5 $MIX --full-batch-iterations 300 --activation tanh --seed $s; done ;;&
q3|all) ref ref4v X4000 Xva; ref ref4h X4000 Xh5
        for it in 250 300 400 500 750 1000; do par v$it X4000 Xva --full-batch --full-batch-iterations $it
          $NB transform -m m_v$it Xh5.npy -o h_v$it.npy -j 2 -q; echo "  v$it on Xh5: $(ev Xh5.npy h_v$it.npy Lh5.npy)"; done ;;
esac
