"""densMAP, inverse_transform and update on nembed.UMAP (umap-learn 0.5.12's semantics).

The radii are checked against umap-learn's formulas recomputed here; umap-learn's own tests for these features
(its test_densmap.py, the inverse_transform / update / densMAP-parameter tests) run in the one peer runner,
test_peer_umap.py.
"""
import numpy as np
import pytest
from sklearn.datasets import load_iris

import nembed


@pytest.fixture(scope="module")
def iris():
    return load_iris().data.astype(np.float32)


@pytest.fixture(scope="module")
def dens_model(iris):
    return nembed.UMAP(n_neighbors=10, min_dist=0.01, random_state=42, densmap=True, output_dens=True,
                       n_epochs=200).fit(iris)


def _log_radii(graph, values):
    """umap-learn's log(1e-8 + Σ μ v / Σ μ) per row of a symmetric graph (values: v per stored entry)."""
    g = graph.tocsr()
    num = np.add.reduceat(g.data * values, g.indptr[:-1]) if g.nnz else np.zeros(g.shape[0])
    den = np.asarray(g.sum(axis=1)).ravel()
    return np.log(1e-8 + num / den)


def test_output_dens_returns_umap_learns_radii(iris, dens_model):
    emb, r_orig, r_emb = nembed.UMAP(n_neighbors=10, min_dist=0.01, random_state=42, densmap=True, output_dens=True,
                                     n_epochs=200).fit_transform(iris)
    np.testing.assert_array_equal(emb, dens_model.embedding_)  # same seed, same bits
    assert r_orig.shape == r_emb.shape == (150,)
    # rad_orig: squared input distances over the pruned graph the layout used (graph_ is before pruning, as
    # umap-learn's; its simplicial_set_embedding drops weights below max / n_epochs)
    G = dens_model.graph_.tocsr().copy()
    G.data[G.data < G.data.max() / float(dens_model.n_epochs_)] = 0.0
    G.eliminate_zeros()
    G.sort_indices()
    g = G.tocoo()
    d2 = np.sum((iris[g.row].astype(np.float64) - iris[g.col]) ** 2, axis=1)
    np.testing.assert_allclose(r_orig, _log_radii(G, d2[np.lexsort((g.col, g.row))]),
                               rtol=0, atol=1e-5)
    # rad_emb: umap-learn's fuzzy set of the embedding, unsquared distances
    umap_ = pytest.importorskip("umap.umap_", reason="umap-learn is needed to recompute rad_emb with its own code")
    E = emb.astype(np.float32)
    knn_i, knn_d, _ = umap_.nearest_neighbors(E, 10, "euclidean", {}, False, np.random.RandomState(0))
    G, _, _, D = umap_.fuzzy_simplicial_set(E, 10, np.random.RandomState(0), "euclidean", {}, knn_i, knn_d,
                                            return_dists=True)
    G = G.tocoo()
    G.sum_duplicates()
    G.eliminate_zeros()
    mu_sum = np.zeros(150)
    re = np.zeros(150)
    for j, k, mu in zip(G.row, G.col, G.data):
        re[j] += mu * D[j, k]
        re[k] += mu * D[j, k]
        mu_sum[j] += mu
        mu_sum[k] += mu
    np.testing.assert_allclose(r_emb, np.log(1e-8 + re / mu_sum), rtol=0, atol=1e-4)
    # densMAP makes the embedding's radii follow the data's
    assert np.corrcoef(r_orig, r_emb)[0, 1] > 0.5


def test_densmap_is_reproducible_for_any_n_jobs(iris):
    a = nembed.UMAP(densmap=True, random_state=1, n_epochs=120, n_jobs=1).fit_transform(iris)
    b = nembed.UMAP(densmap=True, random_state=1, n_epochs=120, n_jobs=2).fit_transform(iris)
    np.testing.assert_array_equal(a, b)
    c = nembed.UMAP(densmap=False, random_state=1, n_epochs=120, n_jobs=1).fit_transform(iris)
    assert not np.array_equal(a, c)


def test_densmap_refusals(iris, dens_model):
    with pytest.raises(NotImplementedError):
        dens_model.transform(iris[:10] + 0.01)
    with pytest.raises(ValueError, match="densMAP"):
        dens_model.inverse_transform(dens_model.embedding_[:5])
    for kw in (dict(dens_lambda=-1.0), dict(dens_frac=1.5), dict(dens_frac=-0.1), dict(dens_var_shift=-1.0)):
        with pytest.raises(ValueError):
            nembed.UMAP(densmap=True, **kw).fit(iris)


def test_inverse_transform_lands_near_the_data(iris):
    model = nembed.UMAP(n_neighbors=10, min_dist=0.01, random_state=42).fit(iris)
    back = model.inverse_transform(model.embedding_)
    assert back.shape == iris.shape and np.all(np.isfinite(back))
    # each point's inverse is within 0.5 of its data row on average (iris: mean nearest-neighbour distance ~0.2,
    # mean pairwise distance ~3.3), and the data row is among its inverse's 10 nearest rows for >= 80 % of points
    err = np.linalg.norm(back - iris, axis=1)
    assert err.mean() < 0.5
    d = np.linalg.norm(back[:, None, :] - iris[None, :, :], axis=2)
    rank = (d < d[np.arange(150), np.arange(150)][:, None]).sum(axis=1)
    assert np.mean(rank < 10) >= 0.8
    np.testing.assert_array_equal(back, model.inverse_transform(model.embedding_))  # fixed transform_seed
    with pytest.raises(NotImplementedError, match="hellinger"):
        nembed.UMAP(metric="hellinger", n_epochs=20, random_state=0).fit(iris).inverse_transform(model.embedding_[:3])


def test_update_matches_a_fit_of_the_union(iris):
    sel = np.random.default_rng(0).random(150) < 0.75
    old = nembed.UMAP(n_neighbors=10, min_dist=0.01, random_state=42, neighbors="exact").fit(iris[sel])
    full = nembed.UMAP(n_neighbors=10, min_dist=0.01, random_state=42, neighbors="exact").fit(
        np.vstack([iris[sel], iris[~sel]]))
    emb_old = old.embedding_.copy()
    old.update(iris[~sel])
    assert old.embedding_.shape == (150, 2)
    # the same graph: the kNN graph and fuzzy set of the union, unpruned in graph_ (as a fit's), pruned in the layout
    n = full.graph_.shape[0]
    assert abs(old.graph_ - full.graph_).sum() < 1e-9
    pruned = nembed._utils.csr_from_parts(full._state.graph, (n, n))
    assert abs(nembed._utils.csr_from_parts(old._state.graph, (n, n)) - pruned).sum() < 1e-9
    # no epochs without n_epochs (umap-learn): the old points keep their layout up to the rescaling to [0, 10]
    lo, hi = emb_old.min(0), emb_old.max(0)
    e = old.embedding_[: sel.sum()]
    assert np.corrcoef(e[:, 0], emb_old[:, 0])[0, 1] > 0.999
    assert np.all(old.embedding_ >= -1e-9) and np.all(old.embedding_ <= 10 + 1e-9)
    assert np.all(np.isfinite(old.embedding_)) and np.all(hi > lo)
    with pytest.raises(ValueError):
        old.update(iris[:5, :3])
