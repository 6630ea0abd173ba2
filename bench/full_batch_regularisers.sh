#!/bin/bash
# #17, the held-out bound under two measures (bench/RESULTS.md, h32): the full-batch preset with input noise
# (--full-batch-input-noise; the weight EMA measured then was dropped) against t-SNE's transform, on Fashion-MNIST
# PCA-50: training rows 0-4 999 (or 0-9 999), held out rows 20 000-24 999 scored as five disjoint blocks of 1 000,
# (a) among themselves (p29/p31's measure) and (b) against the training map (nembed evaluate --reference).
# h33 ran the transform-consistency penalty through it (ARGS --full-batch-consistency W ...; D=/tmp/h33).
# usage: NB=build/nembed D=/tmp/h32 bash bench/full_batch_regularisers.sh prepare
#        ... fit TAG TRAIN ARGS...    (TRAIN = X5000 | X10000; ARGS for nembed parametric tsne; TAG ref* = nembed tsne;
#                                      TAG uref* = nembed umap ARGS, TAG u* = nembed parametric umap ARGS)
#        ... score TAG TRAIN           (writes score_TAG.json, prints the means)
#        ... table REFTAG TAG...       (paired per-block gaps to REFTAG: mean ± SE over the five blocks)
# Every fit at nice -n 10, 2 threads; CPU s = user + sys of the fit (/usr/bin/time).
set -e
NB=$(realpath ${NB:-build/nembed}); D=${D:-/tmp/h32}; mkdir -p $D; cd $D
case $1 in
prepare) python3 -c "
import numpy as np
X=np.load('/work/main/out/fmnist_pca50.npy'); L=np.load('/work/main/out/fmnist_labels.npy')
for n in (5000, 10000): np.save('X%d.npy'%n, X[:n]); np.save('L%d.npy'%n, L[:n])
np.save('Xh.npy', X[20000:25000]); np.save('Lh.npy', L[20000:25000])
for b in range(5): np.save('Lh%d.npy'%b, L[20000+1000*b:21000+1000*b]); np.save('Xh%d.npy'%b, X[20000+1000*b:21000+1000*b])
" ;;
fit) TAG=$2 TR=$3; shift 3; rm -rf m_$TAG
  if [[ $TAG == uref* ]]; then cmd=(umap "$@"); elif [[ $TAG == u* ]]; then cmd=(parametric umap "$@"); elif [[ $TAG == ref* ]]; then cmd=(tsne); else cmd=(parametric tsne "$@"); fi
  { /usr/bin/time -f "%U %S" nice -n 10 $NB "${cmd[@]}" $TR.npy -o out_$TAG.npy -j 2 -q --save-model m_$TAG ; } 2> t_$TAG.txt
  tail -1 t_$TAG.txt | awk '{printf "%.1f\n", $1+$2}' > cpu_$TAG
  $NB transform -m m_$TAG Xh.npy -o te_$TAG.npy -j 2 -q
  echo "$TAG $TR $(cat cpu_$TAG) $*" >> runs.log ;;
score) TAG=$2 TR=$3; python3 - "$NB" "$TAG" "$TR" <<'PY'
import json, subprocess, sys
import numpy as np
NB, tag, tr = sys.argv[1:4]
def ev(X, Y, L, *extra):
    subprocess.run([NB, 'evaluate', X, '--embedding', Y, '--labels', L, '-k', '10', '--perplexity', '0', '-j', '2',
                    '-q', '-o', f'ev_{tag}.json', *extra], check=True)
    return json.load(open(f'ev_{tag}.json'))
d = ev(f'{tr}.npy', f'out_{tag}.npy', f'L{tr[1:]}.npy')
res = {'train': (d['knn_recall'], d['knn_accuracy']), 'blocks': []}
te = np.load(f'te_{tag}.npy')
for b in range(5):
    np.save(f'Y_{tag}_{b}.npy', te[1000*b:1000*(b+1)])
    d = ev(f'Xh{b}.npy', f'Y_{tag}_{b}.npy', f'Lh{b}.npy', '--reference', f'{tr}.npy',
           '--reference-embedding', f'out_{tag}.npy', '--reference-labels', f'L{tr[1:]}.npy')
    res['blocks'].append((d['knn_recall'], d['knn_accuracy'], d['reference_knn_recall'], d['reference_knn_accuracy']))
json.dump(res, open(f'score_{tag}.json', 'w'))
B = np.array(res['blocks'])
print(tag, 'train %.4f/%.4f' % tuple(res['train']), 'among %.4f/%.4f' % tuple(B[:, :2].mean(0)),
      'against the training map %.4f/%.4f' % tuple(B[:, 2:].mean(0)))
PY
  ;;
table) shift; python3 - "$@" <<'PY'
import json, sys
import numpy as np
ref = json.load(open(f'score_{sys.argv[1]}.json')); R = np.array(ref['blocks'])
f = lambda a, b: '%.4f / %.4f' % (a, b)
for tag in sys.argv[2:]:
    s = json.load(open(f'score_{tag}.json')); B = np.array(s['blocks']); g = B - R
    m, se = g.mean(0), g.std(0, ddof=1) / np.sqrt(len(g))
    tr = s['train']
    print(f"| {tag} | {open('cpu_' + tag).read().strip()} | {f(*tr)} | {tr[0]-ref['train'][0]:+.3f} / {tr[1]-ref['train'][1]:+.3f} "
          f"| {f(*B[:, :2].mean(0))} | {m[0]:+.3f}±{se[0]:.3f} / {m[1]:+.3f}±{se[1]:.3f} "
          f"| {f(*B[:, 2:].mean(0))} | {m[2]:+.3f}±{se[2]:.3f} / {m[3]:+.3f}±{se[3]:.3f} |")
PY
  ;;
esac
