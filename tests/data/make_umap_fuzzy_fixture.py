"""Regenerates tests/data/umap_fuzzy_600.npz (committed; re-run only to change it), a reference for nembed's UMAP
fuzzy simplicial set and (a, b) curve fit, computed by umap-learn itself.

Run with the bench environment (bench/setup_bench_env.sh):  .venv-bench/bin/python tests/data/make_umap_fuzzy_fixture.py

Input: the first 600 rows of fmnist_4000_pca50.npy (float32, 600 x 50).
kNN: exact Euclidean, brute force in float64, k = 15 INCLUDING the point itself as column 0 (distance 0), sorted
ascending (ties broken by index), distances cast to float32 - the layout umap-learn's nearest_neighbors returns.

Arrays written:
  knn_indices (int32, 600 x 15), knn_dists (float32, 600 x 15)
  for s in {a, b}:
    graph_{s}_indptr (int64), graph_{s}_indices (int32), graph_{s}_data (float64): CSR of the symmetrised fuzzy
      simplicial set (sorted indices, explicit zeros removed)
    sigmas_{s}, rhos_{s} (float64, 600)
    local_connectivity_{s}, set_op_mix_ratio_{s} (0-d float64)
  setting a: local_connectivity 1.0, set_op_mix_ratio 1.0; setting b: local_connectivity 1.5, set_op_mix_ratio 0.7
  ab_min_dist_0.1 = find_ab_params(spread 1.0, min_dist 0.1), ab_s1_md05 = (1.0, 0.5), ab_s2_md025 = (2.0, 0.25),
    each float64 [a, b]
  umap_version (0-d unicode string)
Note: umap-learn computes sigmas, rhos and memberships in float32; they are stored widened to float64.
"""
from pathlib import Path

import numpy as np
import scipy.sparse
import umap
import umap.umap_ as uu

HERE = Path(__file__).parent
N = 600
K = 15

X = np.load(HERE / "fmnist_4000_pca50.npy")[:N]
assert X.shape == (N, 50) and X.dtype == np.float32

# Exact kNN in float64 (squared distances via differences, not the expanded form, to avoid cancellation).
X64 = X.astype(np.float64)
d2 = ((X64[:, None, :] - X64[None, :, :]) ** 2).sum(axis=2)
np.fill_diagonal(d2, -1.0)  # forces the point itself into column 0 even if a duplicate point exists
order = np.argsort(d2, axis=1, kind="stable")  # stable: ties broken by index
knn_indices = order[:, :K].astype(np.int32)
np.fill_diagonal(d2, 0.0)
knn_d2 = np.take_along_axis(d2, order[:, :K], axis=1)
knn_dists = np.sqrt(knn_d2).astype(np.float32)
assert (knn_indices[:, 0] == np.arange(N)).all() and (knn_dists[:, 0] == 0).all()
assert (np.diff(knn_dists.astype(np.float64), axis=1) >= 0).all()
# Report near-ties at the k boundary (would make the kNN set ambiguous for an independent implementation).
kth_next = np.sqrt(np.take_along_axis(d2, order[:, K:K + 1], axis=1))[:, 0]
gap = kth_next - np.sqrt(knn_d2[:, -1])
print(f"min gap between 15th and 16th neighbour distance: {gap.min():.3e}")
print(f"zero-distance non-self neighbours: {(knn_dists[:, 1:] == 0).sum()}")

out = {"knn_indices": knn_indices, "knn_dists": knn_dists, "umap_version": np.array(umap.__version__)}

settings = {"a": (1.0, 1.0), "b": (1.5, 0.7)}
for s, (lc, mix) in settings.items():
    res = uu.fuzzy_simplicial_set(X, n_neighbors=K, random_state=None, metric="euclidean",
                                  knn_indices=knn_indices, knn_dists=knn_dists, local_connectivity=lc,
                                  set_op_mix_ratio=mix, return_dists=False)
    graph, sigmas, rhos = res[0], res[1], res[2]
    g = scipy.sparse.csr_matrix(graph).astype(np.float64)
    g.sum_duplicates()
    g.eliminate_zeros()
    g.sort_indices()
    out[f"graph_{s}_indptr"] = g.indptr.astype(np.int64)
    out[f"graph_{s}_indices"] = g.indices.astype(np.int32)
    out[f"graph_{s}_data"] = g.data.astype(np.float64)
    out[f"sigmas_{s}"] = np.asarray(sigmas, dtype=np.float64)
    out[f"rhos_{s}"] = np.asarray(rhos, dtype=np.float64)
    out[f"local_connectivity_{s}"] = np.array(lc, dtype=np.float64)
    out[f"set_op_mix_ratio_{s}"] = np.array(mix, dtype=np.float64)
    print(f"setting {s}: lc={lc} mix={mix} nnz={g.nnz} graph dtype from umap={graph.dtype} "
          f"sigma dtype={np.asarray(sigmas).dtype} max|G-G^T|={abs(g - g.T).max():.3e}")

for name, (spread, min_dist) in {"ab_min_dist_0.1": (1.0, 0.1), "ab_s1_md05": (1.0, 0.5),
                                 "ab_s2_md025": (2.0, 0.25)}.items():
    a, b = uu.find_ab_params(spread, min_dist)
    out[name] = np.array([a, b], dtype=np.float64)
    print(f"{name}: a={a!r} b={b!r}")

path = HERE / "umap_fuzzy_600.npz"
np.savez_compressed(path, **out)
print(f"wrote {path} ({path.stat().st_size} bytes), umap-learn {umap.__version__}")
