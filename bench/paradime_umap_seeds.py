"""ParametricUMAP at test_parametric_umap_close_to_umap's settings over seeds: training and held-out kNN recall@10 and
10-NN accuracy, and their gaps to nembed UMAP (n_neighbors 15, seed 0), on tests/data's 3 000 + 1 000 Fashion-MNIST
PCA-50 points (docs/parametric.md, "Collapse").

    python bench/paradime_umap_seeds.py {tutorial,default,tsne} SEED...

"tutorial": the seed tutorial's spectral phase (10 epochs, batches of 500, rate 0.01); "default": the routine's
(5 epochs, batches of 100, rate 0.05). "tsne": test_parametric_tsne_close_to_tsne's ParametricTSNE (60 epochs, batches
of 1 000) against nembed's TSNE (seed 0) instead.
"""
import os
import sys

import numpy as np

import nembed
from nembed import metrics
from nembed.paradime import routines

data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data")
X = np.load(os.path.join(data, "fmnist_4000_pca50.npy"))
y = np.load(os.path.join(data, "fmnist_4000_labels.npy"))
X, y, T, yt = X[:3000], y[:3000], X[3000:4000], y[3000:4000]


def sc(Xr, E, lab):
    return metrics.knn_recall(Xr, E, k=10, n_jobs=2), metrics.knn_accuracy(E, lab, k=10, n_jobs=2)


if sys.argv[1] == "tsne":
    emb = nembed.TSNE(random_state=0, n_jobs=2).fit(X)
    ref, ref_t = sc(X, np.asarray(emb), y), sc(T, np.asarray(emb.transform(T)), yt)
else:
    um = nembed.UMAP(n_neighbors=15, random_state=0, n_jobs=2)
    E = um.fit_transform(X)
    ref, ref_t = sc(X, E, y), sc(T, um.transform(T), yt)
print("ref", ref, ref_t, flush=True)
init = dict(init_epochs=10, init_batch_size=500, init_learning_rate=0.01) if sys.argv[1] == "tutorial" else {}
for s in map(int, sys.argv[2:]):
    if sys.argv[1] == "tsne":
        r = routines.ParametricTSNE(epochs=60, batch_size=1000, n_jobs=2, seed=s)
    else:
        r = routines.ParametricUMAP(n_neighbors=15, min_dist=0.1, hidden_dims=[100, 100, 100], epochs=60,
                                    batches_per_epoch=10, batch_size=500, learning_rate=0.01, n_jobs=2, seed=s, **init)
    r.train(X)
    got, got_t = sc(X, r.apply(X), y), sc(T, r.apply(T), yt)
    print(f"seed {s} train {got[0]:.4f} {got[1]:.4f} held {got_t[0]:.4f} {got_t[1]:.4f} "
          f"gaps train {ref[0] - got[0]:.4f} {ref[1] - got[1]:.4f} held {ref_t[0] - got_t[0]:.4f} {ref_t[1] - got_t[1]:.4f}",
          flush=True)
