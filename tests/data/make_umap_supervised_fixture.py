"""Regenerates tests/data/umap_supervised_600.npz (committed; re-run only to change it), a reference for nembed's
operations on fuzzy simplicial sets (supervised UMAP, model composition), computed by umap-learn 0.5.12 itself.

Run:  python3 tests/data/make_umap_supervised_fixture.py   (needs umap-learn==0.5.12)

Inputs: the symmetric fuzzy sets graph_a and graph_b of tests/data/umap_fuzzy_600.npz (umap-learn's, 600 points);
labels = the first 600 Fashion-MNIST labels with every 7th set to -1 (unlabelled); y = a continuous target with
distinct values (so its kNN has no ties), y_i = sin(i) + i / 600.

Arrays written (each CSR as <name>_indptr int64, <name>_indices int32, <name>_data float64, sorted, no zeros):
  labels (int64, 600), y (float64, 600)
  cat_w05, cat_w08: discrete_metric_simplicial_set_intersection(graph_a, labels, far_dist = 2.5 / (1 - w))
  target: the target's directed fuzzy set (fuzzy_simplicial_set of |y_i - y_j|, n_neighbors 10, no set operations)
  sup_w05, sup_w03: reset_local_connectivity(general_simplicial_set_intersection(graph_a, target, w))
  mul: reset_local_connectivity(general_simplicial_set_intersection(graph_a, graph_b, 0.5), True)  (model1 * model2)
  add: reset_local_connectivity(general_simplicial_set_union(graph_a, graph_b), True)                (model1 + model2)
  sub: reset_local_connectivity(general_simplicial_set_intersection(graph_a, graph_b, 0.5, right_complement=True))
"""
from pathlib import Path

import numpy as np
import scipy.sparse
import umap
import umap.umap_ as uu

HERE = Path(__file__).parent
f = np.load(HERE / "umap_fuzzy_600.npz")
n = 600


def graph(s):
    return scipy.sparse.csr_matrix((f[f"graph_{s}_data"], f[f"graph_{s}_indices"], f[f"graph_{s}_indptr"]),
                                   shape=(n, n))


A, B = graph("a"), graph("b")
labels = np.load(HERE / "fmnist_4000_labels.npy")[:n].astype(np.int64)
labels[::7] = -1
y = np.sin(np.arange(n)) + np.arange(n) / n
out = {"labels": labels, "y": y, "umap_version": np.array(umap.__version__)}


def put(name, g):
    g = scipy.sparse.csr_matrix(g).astype(np.float64)
    g.sum_duplicates()
    g.eliminate_zeros()
    g.sort_indices()
    out[f"{name}_indptr"] = g.indptr.astype(np.int64)
    out[f"{name}_indices"] = g.indices.astype(np.int32)
    out[f"{name}_data"] = g.data
    print(f"{name}: nnz {g.nnz}")


for w, name in ((0.5, "cat_w05"), (0.8, "cat_w08")):
    put(name, uu.discrete_metric_simplicial_set_intersection(A.copy(), labels, far_dist=2.5 * (1.0 / (1.0 - w))))
ydmat = np.abs(y[:, None] - y[None, :])
target = uu.fuzzy_simplicial_set(ydmat, 10, None, "precomputed", {}, None, None, False, 1.0, 1.0, False)[0]
put("target", target)
for w, name in ((0.5, "sup_w05"), (0.3, "sup_w03")):
    put(name, uu.reset_local_connectivity(uu.general_simplicial_set_intersection(A, target, w)))
put("mul", uu.reset_local_connectivity(uu.general_simplicial_set_intersection(A, B, 0.5), True))
put("add", uu.reset_local_connectivity(uu.general_simplicial_set_union(A, B), True))
put("sub", uu.reset_local_connectivity(uu.general_simplicial_set_intersection(A, B, weight=0.5,
                                                                               right_complement=True), False))
path = HERE / "umap_supervised_600.npz"
np.savez_compressed(path, **out)
print(f"wrote {path} ({path.stat().st_size} bytes), umap-learn {umap.__version__}")
