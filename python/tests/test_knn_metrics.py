"""nembed's kNN metrics against scipy.spatial.distance, sparse == dense, callable == named, HNSW recall, errors."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.spatial.distance import cdist

from nembed import _core
from nembed import nearest_neighbors as nn

BOOLEAN = ["jaccard", "dice", "rogerstanimoto", "russellrao", "sokalmichener", "sokalsneath", "yule", "hamming"]


def _data(metric, n=40, d=6, seed=0, offset=0.0, scale=1.0):
    rs = np.random.RandomState(seed)
    X = rs.normal(size=(n, d))
    X[rs.uniform(size=X.shape) < 0.3] = 0.0
    if metric in BOOLEAN or metric == "kulsinski":
        X = (X > 0).astype(np.float64)
    if metric == "hellinger":
        X = np.abs(X)
    if metric == "haversine":
        X = rs.uniform(-1.2, 1.2, size=(n, 2))
    return (X * scale + offset).astype(np.float32).astype(np.float64)


SCIPY_METRICS = ["euclidean", "sqeuclidean", "cityblock", "chebyshev", "canberra", "braycurtis", "cosine",
                 "correlation", "hamming", "jaccard", "dice", "rogerstanimoto", "russellrao", "sokalmichener",
                 "yule"]


@pytest.mark.parametrize("metric", SCIPY_METRICS)
@pytest.mark.parametrize("offset,scale", [(0.0, 1.0), (1e4, 1.0), (0.0, 1e-20), (0.0, 1e20)])
def test_metric_matches_scipy(metric, offset, scale):
    if metric in BOOLEAN and (offset != 0.0 or scale != 1.0):
        pytest.skip("boolean data")
    X = _data(metric, offset=offset, scale=scale)
    D = _core.metric_distances(X.astype(np.float32), X.astype(np.float32), metric)
    # scipy 1.17 dropped sokalmichener, whose boolean definition equals rogerstanimoto's
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = cdist(X, X, "rogerstanimoto" if metric == "sokalmichener" else metric)
    ok = np.isfinite(ref)
    if metric == "russellrao":
        # umap-learn's convention (docs/dropin.md): 0 for rows with the same non-zeros, where scipy gives
        # (n - n_tt) / n
        same = np.array([[np.array_equal(a != 0, b != 0) for b in X] for a in X])
        assert same.any() and np.all(D[same] == 0.0)
        ok &= ~same
    np.testing.assert_allclose(D[ok], ref[ok], rtol=1e-9, atol=1e-12 * max(1.0, np.abs(ref[ok]).max()))


@pytest.mark.parametrize("metric,params", [("minkowski", {"p": 3}), ("minkowski", {"p": 0.5}),
                                           ("seuclidean", {"V": np.arange(1.0, 7.0)}),
                                           ("mahalanobis", None), ("wminkowski", {"p": 2, "w": np.arange(1.0, 7.0)})])
def test_parametrised_metrics_match_scipy(metric, params):
    X = _data(metric, n=60)
    D = _core.metric_distances(X.astype(np.float32), X.astype(np.float32), metric,
                               nn._metric_params(params))
    if metric == "wminkowski":
        ref = cdist(X, X, "minkowski", p=params["p"], w=params["w"])
    elif metric == "mahalanobis":
        ref = cdist(X, X, "mahalanobis", VI=np.linalg.inv(np.cov(X.T)))
    else:
        ref = cdist(X, X, metric, **params)
    np.testing.assert_allclose(D, ref, rtol=1e-7, atol=1e-10)


def test_umap_learn_conventions_on_zero_rows():
    umap_distances = pytest.importorskip("umap.distances")
    for metric in ["cosine", "correlation", "hellinger", "jaccard", "dice", "kulsinski", "russellrao",
                   "sokalsneath", "yule", "braycurtis", "rogerstanimoto", "sokalmichener", "canberra"]:
        X = _data(metric, n=20)
        X[[2, 5, 11]] = 0.0
        D = _core.metric_distances(X.astype(np.float32), X.astype(np.float32), metric)
        f = umap_distances.named_distances[metric]
        ref = np.array([[f(a, b) for b in X] for a in X])
        np.testing.assert_allclose(D, ref, rtol=1e-9, atol=1e-12, err_msg=metric)


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "manhattan", "correlation", "jaccard", "hellinger"])
def test_sparse_equals_dense(metric):
    X = _data(metric, n=120, d=10, seed=3)
    X[[4, 50]] = 0.0
    k = 8
    for method in ("exact", "hnsw"):
        dense = nn.KNNIndex(X, k, metric)
        dense.method = method
        i1, d1 = dense.build()
        for fmt in (sp.csr_matrix, sp.csc_matrix, sp.coo_matrix):
            sparse = nn.KNNIndex(fmt(X), k, metric)
            sparse.method = method
            i2, d2 = sparse.build()
            if method == "exact" and metric != "correlation":
                np.testing.assert_array_equal(i1, i2)
            np.testing.assert_allclose(d1, d2, rtol=1e-6, atol=1e-7)
        Q = _data(metric, n=15, d=10, seed=9)
        qi1, qd1 = dense.query(sp.csr_matrix(Q), 5)
        qi2, qd2 = sparse.query(Q, 5)
        np.testing.assert_allclose(qd1, qd2, rtol=1e-6, atol=1e-7)


def test_exact_matches_brute_force_for_every_metric():
    for metric in ["sqeuclidean", "manhattan", "chebyshev", "canberra", "braycurtis", "correlation", "jaccard",
                   "dice", "yule", "hamming"]:
        X = _data(metric, n=80, d=7, seed=5)
        idx, dst = nn.Exact(X, 6, metric).build()
        with np.errstate(all="ignore"):
            D = _core.metric_distances(X.astype(np.float32), X.astype(np.float32), metric)
        np.fill_diagonal(D, np.inf)
        order = np.lexsort((np.broadcast_to(np.arange(80), D.shape), D), axis=1)[:, :6]
        np.testing.assert_array_equal(idx, order, err_msg=metric)
        np.testing.assert_allclose(dst, np.take_along_axis(D, order, 1), rtol=1e-6, err_msg=metric)


@pytest.mark.parametrize("metric", ["manhattan", "chebyshev", "canberra", "correlation", "jaccard"])
def test_hnsw_recall(metric):
    X = _data(metric, n=1200, d=12 if metric != "jaccard" else 30, seed=7)
    k = 10
    _, de = nn.Exact(X, k, metric).build()
    _, da = nn.HNSW(X, k, metric, random_state=0).build()
    recall = np.mean(da <= de[:, -1:] + 1e-7)
    assert recall >= 0.95, recall


def test_callable_metric_equals_named():
    X = _data("manhattan", n=60, seed=2)
    Q = _data("manhattan", n=10, seed=4)
    named = nn.Exact(X, 5, "manhattan")
    i1, d1 = named.build()
    call = nn.Exact(X, 5, lambda a, b: np.abs(a - b).sum())
    i2, d2 = call.build()
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(d1, d2, rtol=1e-6)
    np.testing.assert_array_equal(named.query(Q, 4)[0], call.query(Q, 4)[0])


def test_metric_params_and_errors():
    X = _data("minkowski", n=50)
    i1, d1 = nn.Exact(X, 5, "minkowski", metric_params={"p": 3}).build()
    ref = cdist(X, X, "minkowski", p=3)
    np.fill_diagonal(ref, np.inf)
    np.testing.assert_allclose(d1, np.sort(ref, axis=1)[:, :5], rtol=1e-6)
    with pytest.raises(ValueError, match="does not support the `manhatan` metric"):
        nn.Exact(X, 5, "manhatan")
    with pytest.raises(ValueError, match="'p' is not a parameter of the cosine metric"):
        nn.Exact(X, 5, "cosine", metric_params={"p": 3}).build()
    with pytest.raises(ValueError, match="w must have one weight per dimension"):
        nn.Exact(X, 5, "wminkowski", metric_params={"w": [1, 2]}).build()
    with pytest.raises(ValueError, match="unknown parameter 'q'"):
        nn.Exact(X, 5, "minkowski", metric_params={"q": 1}).build()
    with pytest.raises(ValueError, match="haversine"):
        nn.Exact(X, 5, "haversine").build()
    with pytest.raises(ValueError, match="non-negative"):
        nn.Exact(X - 10, 5, "hellinger").build()
    with pytest.raises(ValueError, match="Unrecognized nearest neighbor algorithm"):
        nn.get_knn_index(X, "kdtree", 5, "euclidean")


def test_get_knn_index_names():
    X = _data("euclidean", n=30)
    # openTSNE's names run what openTSNE runs: "exact" scikit-learn, "approx" annoy (dense data, annoy's metrics)
    assert type(nn.get_knn_index(X, "exact", 5, "euclidean")) is nn.Sklearn
    assert type(nn.get_knn_index(X, "balltree", 5, "euclidean")) is nn.BallTree
    assert type(nn.get_knn_index(X, "hnsw", 5, "euclidean")) is nn.HNSW
    assert type(nn.get_knn_index(X, "sklearn", 5, "euclidean")) is nn.Sklearn
    # "auto": as "exact" below 1000 points (openTSNE's rule: scikit-learn on dense data), nembed's own from there on
    assert type(nn.get_knn_index(X, "auto", 5, "euclidean")) is nn.Sklearn
    assert type(nn.get_knn_index(sp.csr_matrix(X), "auto", 5, "euclidean")) is nn.Exact
    assert type(nn.get_knn_index(X, "auto", 5, "correlation")) is nn.Exact
    assert type(nn.get_knn_index(_data("euclidean", n=1000), "auto", 5, "euclidean")) is nn.KNNIndex
    assert type(nn.get_knn_index(X, "exact", 5, "correlation")) is nn.Exact  # a metric scikit-learn's list lacks
    # approx with a metric annoy lacks, or on sparse data: nembed's HNSW (any metric, sparse too)
    assert type(nn.get_knn_index(X, "approx", 5, "minkowski")) is nn.HNSW
    assert type(nn.get_knn_index(sp.csr_matrix(X), "approx", 5, "euclidean")) is nn.HNSW
    if nn._installed("annoy"):
        assert type(nn.get_knn_index(X, "annoy", 5, "euclidean")) is nn.Annoy
        assert type(nn.get_knn_index(X, "approx", 5, "cosine")) is nn.Annoy
    else:
        with pytest.warns(UserWarning, match="annoy package is not installed"):
            assert type(nn.get_knn_index(X, "annoy", 5, "euclidean")) is nn.HNSW
        assert type(nn.get_knn_index(X, "approx", 5, "cosine")) is nn.HNSW


def test_exact_name_gives_the_exact_neighbours():
    # "exact" (scikit-learn) and nembed's exact search agree on the neighbours; distances to float32 precision
    X = _data("euclidean", n=120)
    i1, d1 = nn.get_knn_index(X, "exact", 7, "manhattan").build()
    i2, d2 = nn.Exact(X, 7, "manhattan").build()
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(d1, d2, rtol=1e-6)


def test_package_indices_name_the_missing_package(monkeypatch):
    X = _data("euclidean", n=30)
    for cls, name in ((nn.Sklearn, "scikit-learn"), (nn.Annoy, "annoy"), (nn.NNDescent, "pynndescent")):
        monkeypatch.setattr(cls, "_package", "nembed_no_such_package")
        with pytest.raises(ImportError, match=name):
            cls(X, 5)
    # an unbuilt index refuses queries; its `index` is None (openTSNE)
    monkeypatch.undo()
    index = nn.Sklearn(X, 5)
    assert index.index is None
    with pytest.raises(RuntimeError, match="built before"):
        index.query(X, 3)

def test_knn_kwargs_reach_the_package_index():
    # openTSNE's plumbing: knn_kwargs go to scikit-learn's NearestNeighbors ("exact") and annoy's build ("approx")
    from unittest.mock import patch

    import sklearn.neighbors

    from nembed import TSNE
    X = _data("euclidean", n=60)
    params = dict(algorithm="kd_tree", leaf_size=10)
    with patch("sklearn.neighbors.NearestNeighbors", wraps=sklearn.neighbors.NearestNeighbors) as mock:
        TSNE(neighbors="exact", knn_kwargs=params, early_exaggeration_iter=5, n_iter=5, random_state=1).fit(X)
    assert mock.call_count == 1 and all(mock.call_args.kwargs[k] == v for k, v in params.items())
    with pytest.raises(ValueError, match="unknown argument 'leaf_size'"):
        nn.HNSW(X, 5, knn_kwargs={"leaf_size": 3}).build()  # nembed's own indices name what they take
    if nn._installed("annoy"):
        with patch("nembed.dependencies.annoy.AnnoyIndex", autospec=True) as annoy:
            with pytest.raises(ValueError, match="not enough values to unpack"):
                nn.get_knn_index(X, "approx", 5, "euclidean", random_state=3, knn_kwargs={"n_trees": 7}).build()
        assert annoy.return_value.build.call_args.kwargs["n_trees"] == 7


def test_optimize_passes_n_jobs_as_given():
    # as openTSNE: only counts below 1 are resolved before gradient_descent (which resolves the rest itself)
    from unittest.mock import MagicMock, patch

    from nembed import TSNE
    from nembed.tsne import gradient_descent
    emb = TSNE(early_exaggeration_iter=0, n_iter=0, random_state=1).fit(_data("euclidean", n=60))
    with patch.object(gradient_descent, "__call__", return_value=(0.0, MagicMock())) as call:
        emb.optimize(n_iter=1, n_jobs=64)
        assert call.call_args.kwargs["n_jobs"] == 64
        emb.optimize(n_iter=1, n_jobs=-1)
        assert 1 <= call.call_args.kwargs["n_jobs"] <= 64


def test_hnsw_knn_kwargs_reach_the_index():
    # hnswlib's names (M, ef_construction, ef) reach nembed's HNSW (hnswlib's C++ compiled into nembed): a starved
    # graph loses recall against the exact neighbours, the default keeps it; bad values name the parameter
    rs = np.random.RandomState(0)
    X = rs.normal(size=(1500, 20)).astype(np.float32)
    exact, _ = nn.Exact(X, 10).build()

    def recall(kw):
        idx, _ = nn.HNSW(X, 10, knn_kwargs=kw, random_state=1).build()
        return np.mean([len(set(a) & set(b)) / 10 for a, b in zip(idx, exact)])

    assert recall(None) >= 0.99
    assert recall({"M": 2, "ef_construction": 4, "ef": 10}) < 0.5
    with pytest.raises(ValueError, match=r"hnsw_m \(M\) must be >= 2"):
        nn.HNSW(X, 10, knn_kwargs={"M": 0}).build()
