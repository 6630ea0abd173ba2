"""nembed.UMAP's output metrics (umap-learn's output_metric), inverse_transform in other input metrics and with a
callable metric returning (distance, gradient), a NaN-tolerant callable metric through fit / transform / update, and
transform after update (the union's kNN index)."""
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.manifold import trustworthiness

import nembed


@pytest.fixture(scope="module")
def iris():
    return load_iris().data.astype(np.float32)


def _sphere(e, r=3.0):
    return np.vstack([r * np.sin(e[:, 0]) * np.cos(e[:, 1]), r * np.sin(e[:, 0]) * np.sin(e[:, 1]),
                      r * np.cos(e[:, 0])]).T


def test_haversine_layout_is_trustworthy_and_transforms(iris):
    # umap-learn's test_umap_trustworthiness_on_sphere_iris asks >= 0.65; nembed measured 0.89 at seed 42
    m = nembed.UMAP(n_neighbors=10, min_dist=0.01, n_epochs=200, random_state=42, output_metric="haversine")
    e = m.fit_transform(iris)
    assert trustworthiness(iris, _sphere(e), n_neighbors=10, metric="cosine") >= 0.8
    e1 = nembed.UMAP(n_neighbors=10, min_dist=0.01, n_epochs=200, random_state=42, output_metric="haversine",
                     n_jobs=1).fit_transform(iris)
    np.testing.assert_array_equal(e, e1)  # same bits for any n_jobs
    rows = np.arange(0, 150, 5)
    new = m.transform(iris[rows] + 0.01)
    assert new.shape == (30, 2) and np.all(np.isfinite(new))
    # a transformed point's nearest embedded point on the sphere is of its source's class (30 of 30 measured)
    target = load_iris().target
    ang = np.arccos(np.clip(_sphere(new, 1.0) @ _sphere(e, 1.0).T, -1, 1))
    assert np.mean(target[np.argmin(ang, axis=1)] == target[rows]) >= 0.9


def test_output_metrics_and_their_parameters(iris):
    for om, kw in [("manhattan", None), ("minkowski", {"p": 3}), ("hyperboloid", None), ("chebyshev", None)]:
        e = nembed.UMAP(n_epochs=50, random_state=0, output_metric=om, output_metric_kwds=kw).fit_transform(iris)
        assert e.shape == (150, 2) and np.all(np.isfinite(e)), om
    with pytest.raises(ValueError, match="haversine"):
        nembed.UMAP(n_components=3, output_metric="haversine").fit(iris)
    with pytest.raises(ValueError, match="output_metric_kwds"):
        nembed.UMAP(output_metric="haversine", output_metric_kwds={"p": 2}).fit(iris)
    with pytest.raises(ValueError, match="p must be"):
        nembed.UMAP(output_metric="minkowski", output_metric_kwds={"p": -1}).fit(iris)
    with pytest.raises(NotImplementedError, match="mahalanobis"):
        nembed.UMAP(output_metric="mahalanobis").fit(iris)
    with pytest.raises(ValueError, match="densMAP"):
        nembed.UMAP(output_metric="haversine", densmap=True).fit(iris)
    m = nembed.UMAP(n_epochs=30, random_state=0, output_metric="manhattan").fit(iris)
    with pytest.raises(NotImplementedError, match="output_metric"):
        m.inverse_transform(m.embedding_[:2])


def test_inverse_transform_in_other_metrics_and_with_a_callable(iris):
    from numba import njit

    @njit
    def l1_grad(x, y):
        d = 0.0
        g = np.zeros(x.shape[0])
        for i in range(x.shape[0]):
            d += abs(x[i] - y[i])
            g[i] = np.sign(x[i] - y[i])
        return d, g

    named = nembed.UMAP(n_neighbors=10, n_epochs=60, random_state=1, metric="manhattan").fit(iris)
    call = nembed.UMAP(n_neighbors=10, n_epochs=60, random_state=1, metric=l1_grad).fit(iris)
    # the callable is the manhattan metric: the same kNN graph, layout and inverse (the same moves)
    np.testing.assert_allclose(call.embedding_, named.embedding_, rtol=0, atol=1e-9)
    pts = named.embedding_[::15]
    a, b = named.inverse_transform(pts), call.inverse_transform(pts)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)
    # the inverse of an embedded point lies near its data row (iris: mean nearest-neighbour L1 distance ~0.3)
    assert np.mean(np.abs(a - iris[::15]).sum(axis=1)) < 1.0
    cos = nembed.UMAP(n_neighbors=10, n_epochs=60, random_state=1, metric="cosine").fit(iris)
    back = cos.inverse_transform(cos.embedding_[::15])
    cosd = 1 - np.sum(back * iris[::15], axis=1) / (np.linalg.norm(back, axis=1) * np.linalg.norm(iris[::15], axis=1))
    assert np.all(np.isfinite(back)) and np.median(cosd) < 0.01

    def no_grad(x, y):
        return float(np.abs(x - y).sum())

    with pytest.warns(UserWarning, match="gradient"):
        m = nembed.UMAP(n_neighbors=10, n_epochs=20, random_state=1, metric=no_grad).fit(iris)
    with pytest.raises(ValueError, match="not available"):
        m.inverse_transform(pts)


def test_nan_tolerant_callable_metric_through_every_method():
    from numba import njit

    @njit
    def nan_dist(a, b):  # umap-learn's test_check_input_data metric: writes into its argument, distance 0
        a[0] = np.nan
        a[1] = np.inf
        return 0, a

    data = np.arange(100.0).reshape(25, 4)
    data[0] = np.nan
    u = nembed.UMAP(metric=nan_dist, n_epochs=20)
    e = u.fit_transform(data, ensure_all_finite=False)
    assert e.shape == (25, 2)
    assert np.isnan(data[0]).all() and np.isfinite(data[1:]).all()  # the caller's data is not written into
    assert u.transform(data, ensure_all_finite=False).shape == (25, 2)
    u.update(data, ensure_all_finite=False)
    assert u.embedding_.shape == (50, 2)
    assert u.inverse_transform(np.arange(50).reshape(25, 2)).shape == (25, 4)
    with pytest.raises(ValueError):
        nembed.UMAP(metric=nan_dist).fit(data)  # ensure_all_finite=True refuses NaN first


def test_transform_after_update_uses_the_updated_data(iris):
    sel = np.random.default_rng(0).random(150) < 0.75
    old = nembed.UMAP(n_neighbors=10, random_state=42, neighbors="exact").fit(iris[sel])
    old.update(iris[~sel])
    # the new points are part of the model now: transform of their data returns places near their embedding
    # (umap-learn queries the updated index), and transform of the whole updated data returns embedding_
    t = old.transform(iris[~sel])
    near = np.linalg.norm(t - old.embedding_[sel.sum():], axis=1)
    assert np.median(near) < 0.5 * np.median(np.linalg.norm(old.embedding_ - old.embedding_.mean(0), axis=1))
    np.testing.assert_array_equal(old.transform(np.vstack([iris[sel], iris[~sel]])), old.embedding_)
    idx, _ = old._knn_search_index.query(iris[~sel][:5], 1)
    assert np.all(idx.ravel() >= sel.sum())  # the nearest indexed point of a new point is itself
