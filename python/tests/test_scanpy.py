"""nembed.scanpy: scanpy's tl.tsne / tl.umap conventions on AnnData objects (anndata needed; scanpy optional).

The representation rules are scanpy's _choose_representation; umap embeds the connectivities laid out as
sc.pp.neighbors lays them out (built here by hand from an exact kNN and UMAP's fuzzy set, and, when scanpy is
installed, by sc.pp.neighbors itself)."""
import sys
import warnings

import numpy as np
import pytest

ad = pytest.importorskip("anndata")
import scipy.sparse as sp  # noqa: E402

import nembed  # noqa: E402
from nembed import _core  # noqa: E402
import nembed.scanpy as nsc  # noqa: E402


def blobs(n_per=60, d=20, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=8.0, size=(k, d))
    X = np.concatenate([rng.normal(size=(n_per, d)) + c for c in centers]).astype(np.float32)
    y = np.repeat(np.arange(k), n_per)
    return X, y


def knn_accuracy(Y, y, k=5):
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(k).fit(Y, y).score(Y, y)


def with_neighbors(adata, X, n_neighbors=15):
    """obsp and uns as sc.pp.neighbors writes them (method umap): exact kNN, UMAP's fuzzy simplicial set."""
    D = ((X[:, None, :].astype(np.float64) - X[None, :, :]) ** 2).sum(-1)
    order = np.argsort(D, axis=1, kind="stable")[:, 1:n_neighbors]
    dist = np.sqrt(np.take_along_axis(D, order, axis=1)).astype(np.float32)
    (indptr, indices, data), _, _ = _core.fuzzy_simplicial_set(order.astype(np.int32), dist)
    n = X.shape[0]
    adata.obsp["connectivities"] = sp.csr_matrix((data, indices, indptr), shape=(n, n))
    rows = np.repeat(np.arange(n), n_neighbors - 1)
    adata.obsp["distances"] = sp.csr_matrix((dist.ravel(), (rows, order.ravel())), shape=(n, n))
    adata.uns["neighbors"] = {"connectivities_key": "connectivities", "distances_key": "distances",
                              "params": {"n_neighbors": n_neighbors, "method": "umap", "metric": "euclidean"}}
    return adata


def test_tsne_uses_x_up_to_50_variables_with_scanpys_params():
    X, y = blobs()
    a = ad.AnnData(X=X)
    assert nsc.tsne(a, random_state=1) is None
    expect = nembed.TSNE(perplexity=30, early_exaggeration=12, learning_rate=1000, random_state=1).fit(X)
    np.testing.assert_array_equal(a.obsm["X_tsne"], np.asarray(expect))  # same parameters, same bits
    assert a.uns["tsne"]["params"] == {"perplexity": 30, "early_exaggeration": 12, "learning_rate": 1000,
                                       "metric": "euclidean"}
    assert knn_accuracy(a.obsm["X_tsne"], y) > 0.95


def test_representation_rules_as_scanpy():
    X, _ = blobs(d=60)
    pcs = X[:, :10] * 2
    a = ad.AnnData(X=X)
    a.obsm["X_pca"] = pcs
    a.obsm["X_custom"] = X[:, :7]
    assert nsc._choose_representation(a) is a.obsm["X_pca"] or np.array_equal(nsc._choose_representation(a), pcs)
    np.testing.assert_array_equal(nsc._choose_representation(a, n_pcs=4), pcs[:, :4])
    np.testing.assert_array_equal(nsc._choose_representation(a, use_rep="X_custom", n_pcs=3), X[:, :3])
    np.testing.assert_array_equal(nsc._choose_representation(a, n_pcs=0), X)  # n_pcs=0 means X
    with pytest.raises(ValueError, match="does not have enough PCs"):
        nsc._choose_representation(a, n_pcs=11)
    with pytest.raises(ValueError, match="does not have enough Dimensions"):
        nsc._choose_representation(a, use_rep="X_custom", n_pcs=8)
    with pytest.raises(ValueError, match="Did not find X_nope"):
        nsc.tsne(a, use_rep="X_nope")
    # tsne on X_pca with n_pcs: the same embedding as on the truncated array.
    nsc.tsne(a, n_pcs=4, key_added="t4")
    np.testing.assert_array_equal(a.obsm["t4"], np.asarray(nembed.TSNE(early_exaggeration=12, learning_rate=1000,
                                                                       random_state=0).fit(pcs[:, :4])))
    assert a.uns["t4"]["params"]["perplexity"] == 30


def test_pca_fallback_warns_and_spans_the_top_components():
    X, _ = blobs(d=60)
    a = ad.AnnData(X=X)
    with pytest.warns(UserWarning, match="Falling back to preprocessing with `sc.pp.pca`"):
        R = np.asarray(nsc._choose_representation(a, n_pcs=5), dtype=np.float64)
    assert R.shape == (X.shape[0], 5) and "X_pca" in a.obsm
    # Against numpy's SVD: the same principal subspace (each column matches up to sign).
    Xc = X.astype(np.float64) - X.mean(0)
    U, S, _ = np.linalg.svd(Xc, full_matrices=False)
    ref = U[:, :5] * S[:5]
    for j in range(5):
        c = abs(np.corrcoef(R[:, j], ref[:, j])[0, 1])
        assert c > 0.999, (j, c)


@pytest.mark.filterwarnings("ignore::UserWarning")  # the fallback's scanpy warning
def test_pca_fallback_and_settings_refuse_bad_input_clearly():
    """Without scanpy the PCA fallback ran ARPACK on bad X (ArpackError, LAPACK noise); n_pcs was sliced or
    truncated; key_added='' gave a KeyError about 'X_tsne'."""
    X, _ = blobs(d=60)
    if "scanpy" not in sys.modules:
        try:
            import scanpy  # noqa: F401
        except ImportError:
            with pytest.raises(ValueError, match="zero variance"):
                nsc.tsne(ad.AnnData(X=np.ones((40, 60), np.float32)))
            bad = X.copy()
            bad[3, 3] = np.nan
            with pytest.raises(ValueError, match="NaN"):
                nsc.tsne(ad.AnnData(X=bad))
            with pytest.raises(ValueError, match="at least 2 observations"):
                nsc.tsne(ad.AnnData(X=X[:1]))
    a = ad.AnnData(X=X)
    a.obsm["X_pca"] = X[:, :10].copy()
    for n_pcs in (-1, 2.5, True):
        with pytest.raises(ValueError, match="n_pcs must be None or an integer >= 0"):
            nsc.tsne(a, n_pcs=n_pcs, perplexity=10)
    with pytest.raises(ValueError, match="key_added"):
        nsc.tsne(a, key_added="", perplexity=10)


def test_tsne_copy_and_key_added_and_type_errors():
    X, _ = blobs(n_per=30)
    a = ad.AnnData(X=X)
    b = nsc.tsne(a, copy=True, key_added="X_mine", perplexity=10)
    assert "X_mine" in b.obsm and "X_mine" not in a.obsm and b.uns["X_mine"]["params"]["perplexity"] == 10
    with pytest.raises(TypeError, match="AnnData"):
        nsc.tsne(X)
    with pytest.warns(FutureWarning, match="use_fast_tsne"):
        nsc.tsne(a, use_fast_tsne=True, perplexity=10)


def test_umap_embeds_the_neighbors_graph():
    X, y = blobs()
    a = with_neighbors(ad.AnnData(X=X), X)
    assert nsc.umap(a) is None
    Y = a.obsm["X_umap"]
    assert Y.shape == (X.shape[0], 2) and np.isfinite(Y).all()
    assert knn_accuracy(Y, y) > 0.95
    # scanpy's uns: (a, b) of min_dist 0.5, spread 1 (umap-learn's find_ab_params: 0.583, 1.334).
    pa, pb = a.uns["umap"]["params"]["a"], a.uns["umap"]["params"]["b"]
    assert abs(pa - 0.5830) < 2e-3 and abs(pb - 1.3341) < 2e-3
    assert "random_state" not in a.uns["umap"]["params"]
    # Deterministic, independent of the thread count; random_state recorded when not 0.
    b = nsc.umap(a, copy=True, n_jobs=2)
    np.testing.assert_array_equal(b.obsm["X_umap"], Y)
    c = nsc.umap(a, copy=True, random_state=3, key_added="u3", maxiter=50)
    assert c.uns["u3"]["params"]["random_state"] == 3 and c.obsm["u3"].shape == Y.shape
    # A start from obsm is used (rescaled to [0, 10]) and changes the result.
    a.obsm["start"] = np.asarray(X[:, :2], dtype=np.float32)
    d = nsc.umap(a, copy=True, init_pos="start", maxiter=0)
    s = a.obsm["start"].astype(np.float64)
    np.testing.assert_allclose(d.obsm["X_umap"], 10 * (s - s.min(0)) / (s.max(0) - s.min(0)), atol=1e-5)


def test_umap_matches_nembeds_umap_quality():
    X, y = blobs(n_per=80)
    a = with_neighbors(ad.AnnData(X=X), X)
    nsc.umap(a, min_dist=0.1)
    ref = nembed.UMAP(n_neighbors=15, min_dist=0.1, random_state=0).fit_transform(X)
    from sklearn.manifold import trustworthiness

    t_graph, t_ref = trustworthiness(X, a.obsm["X_umap"], n_neighbors=10), trustworthiness(X, ref, n_neighbors=10)
    assert abs(t_graph - t_ref) < 0.02, (t_graph, t_ref)


def test_umap_errors():
    X, _ = blobs(n_per=20)
    a = ad.AnnData(X=X)
    with pytest.raises(ValueError, match=r"Did not find .uns\['neighbors'\]. Run `sc.pp.neighbors` first."):
        nsc.umap(a)
    with_neighbors(a, X)
    with pytest.raises(NotImplementedError, match="rapids"):
        nsc.umap(a, method="rapids")
    with pytest.raises(NotImplementedError, match="paga"):
        nsc.umap(a, init_pos="paga")
    with pytest.raises(ValueError, match="init_pos has shape"):
        nsc.umap(a, init_pos=np.zeros((3, 2)))
    a.uns["other"] = {"connectivities_key": "missing", "distances_key": "distances", "params": {"method": "umap"}}
    with pytest.raises(KeyError, match="missing"):
        nsc.umap(a, neighbors_key="other")


def test_anndata_missing_is_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "anndata", None)
    with pytest.raises(ImportError, match="pip install anndata"):
        nsc.tsne(object())


def test_against_scanpys_neighbors_and_umap():
    sc = pytest.importorskip("scanpy")
    X, y = blobs(n_per=80)
    a = ad.AnnData(X=X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc.pp.neighbors(a, n_neighbors=15, use_rep="X", random_state=0)
        sc.tl.umap(a, random_state=0)
    theirs = a.obsm["X_umap"].copy()
    nsc.umap(a)
    ours = a.obsm["X_umap"]
    from sklearn.manifold import trustworthiness

    t_ours, t_theirs = trustworthiness(X, ours, n_neighbors=10), trustworthiness(X, theirs, n_neighbors=10)
    assert abs(t_ours - t_theirs) < 0.02, (t_ours, t_theirs)
    assert knn_accuracy(ours, y) > 0.95
    assert a.uns["umap"]["params"]["a"] == pytest.approx(0.5830, abs=2e-3)
