"""nembed.metrics against direct numpy computations."""
import numpy as np
import pytest

from nembed import metrics


def test_kl_divergence_matches_numpy(small_embedding):
    P = small_embedding.affinities.P
    Y = np.asarray(small_embedding)
    for dof in (1.0, 0.6):
        d2 = ((Y[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
        W = (1 + d2 / dof) ** (-dof)
        np.fill_diagonal(W, 0)
        Q = W / W.sum()
        Pd = P.toarray()
        mask = Pd > 0
        expected = (Pd[mask] * np.log(Pd[mask] / Q[mask])).sum()
        np.testing.assert_allclose(metrics.kl_divergence(P, Y, dof=dof), expected, rtol=1e-9)
    # the KL the optimizer reports: exact with exact repulsion, within 2 % with Barnes-Hut (theta = 0.5)
    exact = small_embedding.optimize(0, negative_gradient_method="exact")
    np.testing.assert_allclose(exact.kl_divergence, metrics.kl_divergence(P, Y), rtol=1e-9)
    np.testing.assert_allclose(small_embedding.kl_divergence, metrics.kl_divergence(P, Y), rtol=2e-2)


def test_trustworthiness_matches_sklearn(split):
    manifold = pytest.importorskip("sklearn.manifold", reason="scikit-learn is not installed")
    x = split[0][:300]
    Y = x[:, :2].astype(np.float64) + 0.01 * np.random.default_rng(0).normal(size=(300, 2))
    np.testing.assert_allclose(metrics.trustworthiness(x, Y, k=10),
                               manifold.trustworthiness(x.astype(np.float64), Y, n_neighbors=10), atol=1e-9)


def test_knn_accuracy_and_recall(split):
    x, y = split[0][:300], split[2][:300]
    assert metrics.knn_recall(x, x.astype(np.float64), k=10) == pytest.approx(1.0)
    perfect = np.eye(10)[y] * 100.0
    assert metrics.knn_accuracy(perfect, y, k=5) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        metrics.knn_accuracy(perfect, y[:10])


def test_reference_scores_match_numpy(split):
    # Held-out rows against a reference map, by the definition: exact neighbours (ties to the smaller index), the
    # vote's tie to the label met first.
    x, y = split[0], split[2]
    xr, lr, xh, lh = x[:400], y[:400], x[400:460], y[400:460]
    rng = np.random.default_rng(1)
    Yr = xr[:, :2].astype(np.float64) + 0.5 * rng.normal(size=(400, 2))
    Yh = xh[:, :2].astype(np.float64) + 0.5 * rng.normal(size=(60, 2))
    k = 7
    def nearest(R, Q):
        d = ((Q[:, None, :].astype(np.float64) - R[None, :, :].astype(np.float64)) ** 2).sum(-1)
        return np.argsort(d, axis=1, kind="stable")[:, :k]
    a, b = nearest(xr, xh), nearest(Yr, Yh)
    recall = np.mean([len(set(p) & set(q)) for p, q in zip(a, b)]) / k
    right = 0
    for i in range(len(xh)):
        lab = [lr[j] for j in b[i]]
        vote = max(lab, key=lambda v: (lab.count(v), -lab.index(v)))
        right += vote == lh[i]
    s = metrics.reference_scores(xr, Yr, xh, Yh, k=k, labels_ref=lr, labels=lh, n_jobs=2)
    assert s["knn_recall"] == pytest.approx(recall, abs=1e-12)
    assert s["knn_accuracy"] == pytest.approx(right / len(xh), abs=1e-12)
    assert "knn_accuracy" not in metrics.reference_scores(xr, Yr, xh, Yh, k=k)
    with pytest.raises(ValueError):
        metrics.reference_scores(xr, Yr, xh, Yh, k=k, labels_ref=lr)
