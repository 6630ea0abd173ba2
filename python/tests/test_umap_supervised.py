"""nembed.UMAP as umap-learn's estimator: supervised graphs, composition, precomputed input, unique, the sklearn
contract. Graph numbers are checked against umap-learn recomputed in the test on the same kNN (skipped without
umap-learn); the rest against exact forms."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import nembed
from nembed.umap import UMAP


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    centers = rng.normal(size=(3, 8)) * 6
    labels = np.repeat(np.arange(3), 40)
    X = (centers[labels] + rng.normal(size=(120, 8))).astype(np.float32)
    return X, labels


def exact_knn(X, k):
    """umap-learn's kNN layout: the point itself first, then its k - 1 nearest (float64 distances)."""
    D = np.sqrt(((X[:, None, :].astype(np.float64) - X[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(D, -1)
    idx = np.argsort(D, axis=1, kind="stable")[:, :k]
    np.fill_diagonal(D, 0)
    return idx, np.take_along_axis(D, idx, axis=1), D


def umap_learn_graph(X, idx, dst, k):
    uu = pytest.importorskip("umap.umap_")
    return uu.fuzzy_simplicial_set(X, k, None, "euclidean", knn_indices=idx, knn_dists=dst.astype(np.float32))[0]


def assert_graphs_close(G, H, tol):
    G, H = sp.csr_matrix(G), sp.csr_matrix(H)
    assert G.shape == H.shape
    assert abs(G - H).max() < tol


def test_supervised_graph_equals_umap_learn(data):
    X, labels = data
    uu = pytest.importorskip("umap.umap_")
    k = 10
    idx, dst, _ = exact_knn(X, k)
    y = labels.copy()
    y[::9] = -1
    for weight in (0.5, 0.8, 1.0):
        m = UMAP(n_neighbors=k, precomputed_knn=(idx, dst), target_weight=weight, n_epochs=0, random_state=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.fit(X, y)
        far = 2.5 / (1 - weight) if weight < 1 else 1e12
        want = uu.discrete_metric_simplicial_set_intersection(umap_learn_graph(X, idx, dst, k), y, far_dist=far)
        assert_graphs_close(m.graph_, want, 1e-6)  # umap-learn's memberships are float32
    # a continuous target: the target's own fuzzy set, general intersection
    t = np.sin(np.arange(120)) + np.arange(120) / 120
    m = UMAP(n_neighbors=k, precomputed_knn=(idx, dst), target_metric="l1", target_n_neighbors=8, n_epochs=0,
             random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.fit(X, t)
    tg = uu.fuzzy_simplicial_set(np.abs(t[:, None] - t[None, :]), 8, None, "precomputed", {}, None, None, False,
                                 1.0, 1.0, False)[0]
    want = uu.reset_local_connectivity(uu.general_simplicial_set_intersection(umap_learn_graph(X, idx, dst, k), tg,
                                                                              0.5))
    assert_graphs_close(m.graph_, want, 1e-5)


def test_supervised_separates_labels_and_is_thread_independent(data):
    X, labels = data
    rng = np.random.default_rng(0)
    Xn = rng.normal(size=X.shape).astype(np.float32)  # no structure: only the labels can separate the classes
    E1 = UMAP(n_neighbors=10, random_state=5, n_jobs=1, n_epochs=200).fit_transform(Xn, labels)
    E2 = UMAP(n_neighbors=10, random_state=5, n_jobs=2, n_epochs=200).fit_transform(Xn, labels)
    np.testing.assert_array_equal(E1, E2)
    from sklearn.neighbors import KNeighborsClassifier
    acc = KNeighborsClassifier(5).fit(E1, labels).score(E1, labels)
    assert acc > 0.95
    E0 = UMAP(n_neighbors=10, random_state=5, n_epochs=200).fit_transform(Xn)
    assert KNeighborsClassifier(5).fit(E0, labels).score(E0, labels) < 0.8


def test_discrete_target_metrics(data):
    _, labels = data
    X = np.random.default_rng(1).normal(size=(120, 8)).astype(np.float32)  # kNN edges cross the labels
    for metric, y in (("ordinal", labels), ("count", labels ** 2 + 2 * labels),
                      ("string", np.array(["this", "that", "other"])[labels])):
        m = UMAP(n_neighbors=10, target_metric=metric, target_weight=0.8, n_epochs=50, random_state=0).fit(X, y)
        G = m.graph_.tocoo()
        same = y[G.row] == y[G.col]
        assert (~same).sum() > 50
        # edges across targets are scaled down by exp(-scale * d): their mean weight is far below the others'
        assert G.data[~same].mean() < 0.2 * G.data[same].mean()
    with pytest.raises(NotImplementedError, match="hierarchical"):
        UMAP(n_neighbors=10, target_metric="hierarchical_categorical", n_epochs=0).fit(X, labels)


def test_composition_graphs_equal_umap_learn(data):
    X, _ = data
    uu = pytest.importorskip("umap.umap_")
    m1 = UMAP(n_neighbors=8, n_epochs=30, random_state=1).fit(X[:, :4])
    m2 = UMAP(n_neighbors=12, n_epochs=30, random_state=1).fit(X[:, 4:])
    A, B = m1.graph_, m2.graph_
    assert_graphs_close((m1 + m2).graph_, uu.reset_local_connectivity(uu.general_simplicial_set_union(A, B), True),
                        1e-9)
    assert_graphs_close((m1 * m2).graph_,
                        uu.reset_local_connectivity(uu.general_simplicial_set_intersection(A, B, 0.5), True), 1e-9)
    assert_graphs_close((m1 - m2).graph_, uu.reset_local_connectivity(
        uu.general_simplicial_set_intersection(A, B, weight=0.5, right_complement=True), False), 1e-12)
    assert (m1 + m2).embedding_.shape == (120, 2)
    with pytest.raises(ValueError, match="equivalent samples"):
        _ = m1 + UMAP(n_neighbors=8, n_epochs=10).fit(X[:50])
    with pytest.raises(ValueError, match="fitted"):
        _ = m1 * UMAP()


def test_precomputed_dense_and_sparse_match_the_data_graph(data):
    X, _ = data
    _, _, D = exact_knn(X, 10)
    ref = UMAP(n_neighbors=10, n_epochs=0, random_state=0).fit(X).graph_
    with pytest.warns(UserWarning, match="precomputed metric"):
        dense = UMAP(n_neighbors=10, metric="precomputed", n_epochs=0, random_state=0).fit(D).graph_
    with pytest.warns(UserWarning, match="precomputed metric"):
        sparse = UMAP(n_neighbors=10, metric="precomputed", n_epochs=0, random_state=0).fit(sp.csr_matrix(D)).graph_
    assert_graphs_close(dense, ref, 1e-5)   # float32 vs float64 distances
    assert_graphs_close(sparse, ref, 1e-5)
    with pytest.raises(ValueError, match="symmetrical"):
        UMAP(metric="precomputed").fit(sp.csr_matrix(np.triu(D)))
    with pytest.raises(ValueError, match="unique"):
        UMAP(metric="precomputed", unique=True).fit(D)


def test_unique_scatters_duplicates(data):
    X, _ = data
    Xr = np.vstack([X, X[:10]])
    m = UMAP(n_neighbors=10, unique=True, n_epochs=50, random_state=0).fit(Xr)
    np.testing.assert_array_equal(m.embedding_[:10], m.embedding_[120:])
    assert m.graph_.shape == (120, 120)


def test_disconnection_distance_isolates_points(data):
    X, _ = data
    _, _, D = exact_knn(X, 10)
    D2 = np.pad(D, ((0, 1), (0, 1)), constant_values=1e3)
    D2[-1, -1] = 0
    with pytest.warns(UserWarning, match="A few of your vertices"):
        m = UMAP(n_neighbors=10, metric="precomputed", disconnection_distance=100.0, n_epochs=30,
                 random_state=0).fit(D2)
    assert m.graph_[120].nnz == 0 and m.graph_[:, 120].nnz == 0
    assert np.isnan(m.embedding_[120]).all() and np.isfinite(m.embedding_[:120]).all()


def test_transform_mode_graph_and_transform(data):
    X, _ = data
    m = UMAP(n_neighbors=10, transform_mode="graph", random_state=0)
    G = m.fit_transform(X)
    assert sp.issparse(G) and G.shape == (120, 120) and not hasattr(m, "embedding_")
    T = m.transform(X[:5] + 0.01)
    assert sp.issparse(T) and T.shape == (5, 120)
    u = UMAP(n_neighbors=10, n_epochs=50, random_state=0).fit(X)
    np.testing.assert_array_equal(u.transform(X), u.embedding_)  # the training data itself
    Y = u.transform(X[:5] + 0.01)
    assert Y.shape == (5, 2) and np.isfinite(Y).all()
    np.testing.assert_array_equal(u.transform(np.array(X[:5] + 0.01)), Y)


def test_sklearn_contract(data):
    sklearn = pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    X, labels = data
    u = UMAP(n_neighbors=7, min_dist=0.2, target_weight=0.3)
    p = u.get_params()
    assert p["n_neighbors"] == 7 and p["target_weight"] == 0.3 and p["target_metric"] == "categorical"
    c = clone(u)
    assert c.get_params() == p and c is not u
    u.set_params(n_neighbors=9)
    assert u.n_neighbors == 9
    with pytest.raises(ValueError):
        u.set_params(not_a_parameter=1)
    pipe = Pipeline([("scale", StandardScaler()), ("umap", UMAP(n_neighbors=10, n_epochs=20, random_state=0))])
    assert pipe.fit_transform(X).shape == (120, 2)
    pipe.set_params(umap__n_components=3)
    assert pipe.fit_transform(X).shape == (120, 3)
    np.testing.assert_array_equal(pipe[-1].get_feature_names_out(), ["umap0", "umap1", "umap2"])


@pytest.mark.parametrize("kwargs, exc", [
    (dict(set_op_mix_ratio=1.5), ValueError), (dict(min_dist=2.0), ValueError), (dict(n_components=1.5), ValueError),
    (dict(n_neighbors=1), ValueError), (dict(metric=45), ValueError), (dict(init="foobar"), ValueError),
    (dict(init=42), ValueError), (dict(target_n_neighbors=1), ValueError), (dict(output_metric="foobar"), ValueError),
    (dict(output_metric="precomputed"), ValueError), (dict(output_metric="hamming"), ValueError),
    (dict(n_jobs=0), ValueError), (dict(n_jobs=-2), ValueError), (dict(target_weight=1.5), ValueError),
    (dict(transform_mode="x"), ValueError), (dict(output_metric="seuclidean"), NotImplementedError),
    (dict(densmap=True, output_metric="manhattan"), ValueError), (dict(init="tswspectral"), NotImplementedError)])
def test_validation(data, kwargs, exc):
    X, _ = data
    with pytest.raises(exc):
        UMAP(**kwargs).fit(X)


def test_targets_must_match_and_nonfinite_data(data):
    X, labels = data
    with pytest.raises(ValueError, match="Length of x"):
        UMAP().fit(X, labels[:-1])
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        UMAP().fit(Xn)


def test_precomputed_knn_without_index(data):
    X, _ = data
    idx, dst, _ = exact_knn(X, 10)
    with pytest.warns(UserWarning, match="transforming new data"):
        m = UMAP(n_neighbors=10, precomputed_knn=(idx, dst), n_epochs=20, random_state=0).fit(X)
    with pytest.raises(NotImplementedError, match="search index"):
        m.transform(X[:3] + 1)
    ref = UMAP(n_neighbors=10, n_epochs=0, random_state=0).fit(X)
    assert_graphs_close(m.graph_, ref.graph_, 1e-5)
