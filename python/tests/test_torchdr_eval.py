"""nembed.torchdr.eval: TorchDR's evaluation functions, checked against scikit-learn and direct formulas."""
import random

import numpy as np
import pytest

from nembed import metrics
from nembed.torchdr import (kmeans_ari, knn_label_accuracy, neighborhood_preservation, silhouette_samples,
                            silhouette_score)

sk_metrics = pytest.importorskip("sklearn.metrics")


def formula_data(n=40, d=3):
    X = np.array([[np.sin(1.3 * i + 0.7 * j) + (i % 3) * 0.8 for j in range(d)] for i in range(n)])
    return X, np.arange(n) % 3


def test_silhouette_matches_scikit_learn():
    X, y = formula_data()
    assert silhouette_score(X, y) == pytest.approx(sk_metrics.silhouette_score(X, y), abs=1e-14)
    assert silhouette_score(X, y, metric="manhattan") == pytest.approx(
        sk_metrics.silhouette_score(X, y, metric="manhattan"), abs=1e-14)
    np.testing.assert_allclose(silhouette_samples(X, y), sk_metrics.silhouette_samples(X, y), atol=1e-14)
    D = sk_metrics.pairwise_distances(X)
    assert silhouette_score(D, y, metric="precomputed") == pytest.approx(silhouette_score(X, y), abs=1e-14)
    # Any comparable labels, threads give the same bits.
    names = np.array(["a", "b", "c"])[y]
    assert silhouette_score(X, names, n_jobs=2) == silhouette_score(X, y)


def test_silhouette_torchdr_rules_and_subsample():
    X, y = formula_data()
    y = y.copy()
    y[0] = 7  # a singleton: TorchDR's coefficient 1 (scikit-learn's 0)
    with pytest.warns(UserWarning, match="one sample"):
        s = silhouette_samples(X, y)
    assert s[0] == 1.0
    # TorchDR's subset: Python's random.sample seeded with random_state.
    idx = random.Random(3).sample(range(40), 25)
    X2, y2 = formula_data()
    assert silhouette_score(X2, y2, sample_size=25, random_state=3) == pytest.approx(
        sk_metrics.silhouette_score(X2[idx], y2[idx]), abs=1e-14)


def test_silhouette_bad_input():
    X, y = formula_data()
    with pytest.raises(ValueError, match="metric"):
        silhouette_score(X, y, metric="cosine")
    with pytest.raises(ValueError, match="same number of samples"):
        silhouette_score(X, y[:-1])
    with pytest.raises(ValueError, match="two clusters"):
        silhouette_score(X, np.zeros(40))
    with pytest.raises(ValueError, match="square"):
        silhouette_score(X, y, metric="precomputed")


def test_knn_label_accuracy_definition():
    X, y = formula_data()
    # TorchDR 0.5 (backend=None): 0.485 and 0.595 (exclude_self=False).
    assert knn_label_accuracy(X, y, k=5) == pytest.approx(0.485, abs=1e-15)
    assert knn_label_accuracy(X, y, k=5, exclude_self=False) == pytest.approx(0.595, abs=1e-15)
    D = sk_metrics.pairwise_distances(X)
    np.fill_diagonal(D, np.inf)
    nn = np.argsort(D, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(knn_label_accuracy(X, y, k=5, return_per_sample=True),
                                  (y[nn] == y[:, None]).mean(axis=1))
    with pytest.raises(ValueError, match="less than"):
        knn_label_accuracy(X, y, k=40)
    with pytest.raises(ValueError, match="metric"):
        knn_label_accuracy(X, y, metric="manhattan")


def test_neighborhood_preservation():
    X, _ = formula_data()
    Xf = X.astype(np.float32)
    assert neighborhood_preservation(Xf, Xf.astype(np.float64), K=5) == 1.0
    Z = X[:, :2]
    # TorchDR 0.5: 0.7249999642372131 (float32 mean of the same overlaps).
    assert neighborhood_preservation(Xf, Z, K=5) == pytest.approx(0.725, abs=1e-15)
    assert neighborhood_preservation(Xf, Z, K=5) == metrics.knn_recall(Xf, Z, k=5)
    per = neighborhood_preservation(np.array([[0.0], [1], [3], [7]]), np.array([[0.0], [1], [10], [3]]), K=1,
                                    return_per_sample=True)
    np.testing.assert_array_equal(per, [1, 1, 0, 0])
    with pytest.raises(ValueError, match="same number of samples"):
        neighborhood_preservation(Xf, Z[:-1], K=5)
    with pytest.raises(ValueError, match="at least 1"):
        neighborhood_preservation(Xf, Z, K=0)


def test_kmeans_ari():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 100)
    X = rng.normal(size=(300, 2)) + 40.0 * y[:, None]
    ari, pred = kmeans_ari(X, y, random_state=0)
    assert ari == 1.0
    assert sk_metrics.adjusted_rand_score(y, pred) == 1.0
    Xo = rng.normal(size=(500, 3)) + 1.5 * (np.arange(500) % 4)[:, None]
    yo = np.arange(500) % 4
    a1, p1 = kmeans_ari(Xo, yo, random_state=5, nredo=2, n_jobs=1)
    a2, p2 = kmeans_ari(Xo, yo, random_state=5, nredo=2, n_jobs=2)
    assert a1 == a2 and np.array_equal(p1, p2)
    assert a1 == pytest.approx(sk_metrics.adjusted_rand_score(yo, p1), abs=1e-12)
    with pytest.raises(ValueError, match="n_clusters"):
        kmeans_ari(X, y, n_clusters=301)
    with pytest.raises(ValueError, match="same number of samples"):
        kmeans_ari(X, y[:-1])
