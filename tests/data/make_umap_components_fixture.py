"""Regenerates tests/data/umap_components.npz (committed; re-run only to change it), a reference for nembed's layout
of a disconnected UMAP graph, computed by umap-learn's own spectral_layout (multi_component_layout).

Run with the bench environment (bench/setup_bench_env.sh):  .venv-bench/bin/python tests/data/make_umap_components_fixture.py

Input: six Gaussian blobs in 10 dimensions (sizes 60, 45, 80, 50, 35, 40; seed 7; centres 2.5 apart on average so
that the centroid affinities exp(-d^2) do not underflow), their fuzzy simplicial set with n_neighbors 6 (exact kNN
inside umap-learn for n < 4096), which falls apart into the six blobs.

Arrays written:
  X (float32, 310 x 10), labels (int64, the blob of each point, equal to scipy's component labels)
  graph_indptr (int64), graph_indices (int32), graph_data (float64): CSR of the symmetric fuzzy graph
  layout_2 (float64, 310 x 2): umap.spectral.spectral_layout(X, graph, 2) - 6 > 2*2 components, so the meta
    layout is the spectral embedding of the centroids
  layout_3 (float64, 310 x 3): the same with dim 3 (6 <= 2*3: the meta layout is +-e1, +-e2, +-e3)
  umap_version (0-d unicode string)
Per-component eigenvectors carry an arbitrary sign (ARPACK), the centroid layout a deterministic one (scikit-learn's
sign flip). Components too small for an eigenmap are placed at random by umap-learn and are not in the fixture (a
blob of < 2*dim points would not stay apart in a 6-NN graph).
"""
from pathlib import Path

import numpy as np
import scipy.sparse
import scipy.sparse.csgraph
import umap
import umap.umap_ as uu
from umap.spectral import spectral_layout

HERE = Path(__file__).parent
rng = np.random.default_rng(7)
sizes = [60, 45, 80, 50, 35, 40]
centres = rng.normal(scale=1.6, size=(len(sizes), 10))
X = np.vstack([c + 0.08 * rng.normal(size=(s, 10)) for c, s in zip(centres, sizes)]).astype(np.float32)
labels = np.repeat(np.arange(len(sizes)), sizes)

graph, _, _ = uu.fuzzy_simplicial_set(X, 6, np.random.RandomState(0), "euclidean")
graph = scipy.sparse.csr_matrix(graph)
graph.eliminate_zeros()
graph.sort_indices()
n_comp, comp = scipy.sparse.csgraph.connected_components(graph)
assert n_comp == len(sizes) and (comp == labels).all(), (n_comp, comp)

out = dict(X=X, labels=labels.astype(np.int64), graph_indptr=graph.indptr.astype(np.int64),
           graph_indices=graph.indices.astype(np.int32), graph_data=graph.data.astype(np.float64),
           umap_version=np.array(umap.__version__))
for dim in (2, 3):
    out[f"layout_{dim}"] = np.asarray(spectral_layout(X, graph, dim, np.random.RandomState(0)), dtype=np.float64)
np.savez_compressed(HERE / "umap_components.npz", **out)
print("wrote", HERE / "umap_components.npz", {k: v.shape for k, v in out.items()})
