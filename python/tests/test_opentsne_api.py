"""openTSNE's public API pieces that nembed's own tests check against exact forms (the peer suite runs in
test_peer_opentsne.py)."""
import numpy as np
import pytest
import scipy.sparse as sp

import nembed
from nembed import affinity, initialization
from nembed.tsne import kl_divergence_bh, kl_divergence_fft, TSNEEmbedding
from nembed.utils import clip_point_to_disc


def _exact_kl_and_gradient(P, Y):
    """KL(P || Q) and openTSNE's gradient (a quarter of dKL/dY) with the Cauchy kernel, densely."""
    P = P.toarray()
    D = ((Y[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
    W = 1.0 / (1.0 + D)
    np.fill_diagonal(W, 0.0)
    Q = W / W.sum()
    mask = P > 0
    kl = float((P[mask] * np.log(P[mask] / Q[mask])).sum())
    grad = (((P - Q) * W)[:, :, None] * (Y[:, None, :] - Y[None, :, :])).sum(1)
    return kl, grad


@pytest.fixture(scope="module")
def small():
    rng = np.random.RandomState(0)
    x = rng.normal(size=(120, 6))
    P = affinity.PerplexityBasedNN(x, perplexity=10, method="exact").P
    Y = rng.normal(size=(120, 2))
    return x, P, Y


def test_kl_divergence_functions_against_dense_formula(small):
    _, P, Y = small
    kl, grad = _exact_kl_and_gradient(P, Y)
    kl_exact, g_exact = nembed.tsne.kl_divergence_exact(Y, P, dof=1)
    assert kl_exact == pytest.approx(kl, rel=1e-10)
    np.testing.assert_allclose(g_exact, grad, rtol=1e-8, atol=1e-12)
    # Barnes-Hut with theta = 0 is exact; the approximations stay within 1 % of the KL at their defaults
    kl_bh0, g_bh0 = kl_divergence_bh(Y, P, 1, {"theta": 0.0})
    assert kl_bh0 == pytest.approx(kl, rel=1e-9)
    np.testing.assert_allclose(g_bh0, grad, rtol=1e-7, atol=1e-10)
    assert kl_divergence_bh(Y, P, 1, {"theta": 0.5})[0] == pytest.approx(kl, rel=1e-2)
    kl_fft, g_fft = kl_divergence_fft(Y, P, 1, {"n_interpolation_points": 3, "min_num_intervals": 50,
                                                "ints_in_interval": 1})
    assert kl_fft == pytest.approx(kl, rel=1e-2)
    assert np.abs(g_fft - grad).max() < 0.05 * np.abs(grad).max()
    with pytest.raises(RuntimeError, match="fft supports 1 or 2 components"):
        kl_divergence_fft(np.zeros((120, 3)), P, 1, {})


def test_clip_point_to_disc():
    x = np.array([[0.0, 3.0], [0.3, 0.4], [-6.0, 8.0]])
    clipped, mask = clip_point_to_disc(x, 2.0)
    np.testing.assert_array_equal(mask, [True, False, True])
    np.testing.assert_allclose(clipped, [[0, 2], [0.3, 0.4], [-1.2, 1.6]], atol=1e-15)
    np.testing.assert_array_equal(x[0], [0.0, 3.0])  # a copy unless inplace


def test_set_perplexity_equals_a_fresh_object_on_the_same_neighbours(small):
    x, _, _ = small
    aff = affinity.PerplexityBasedNN(x, perplexity=20, method="exact")
    aff.set_perplexity(8)
    fresh = affinity.PerplexityBasedNN(x, perplexity=8, method="exact")
    assert aff.effective_perplexity_ == 8
    np.testing.assert_allclose(aff.P.toarray(), fresh.P.toarray(), rtol=1e-12, atol=1e-15)
    with pytest.raises(RuntimeError, match="larger than the kNN graph allows"):
        aff.set_perplexity(100)
    ms = affinity.Multiscale(x, perplexities=[10, 20], method="exact")
    ms.set_perplexities([4, 8])
    np.testing.assert_allclose(ms.P.toarray(), affinity.Multiscale(x, perplexities=[4, 8], method="exact")
                               .P.toarray(), rtol=1e-12, atol=1e-15)


def test_perplexity_annealing_keeps_the_optimizer_state(small):
    x, _, _ = small
    aff = affinity.PerplexityBasedNN(x, perplexity=20, method="exact")
    emb = TSNEEmbedding(initialization.pca(x, random_state=1), aff, negative_gradient_method="exact")
    emb.optimize(20, exaggeration=12, inplace=True)
    gains = emb.optimizer.gains.copy()
    aff.set_perplexity(5)
    emb.optimize(10, inplace=True)  # continues the same optimizer (gains carried over) on the new P
    assert emb.optimizer.gains.shape == gains.shape and not np.array_equal(emb.optimizer.gains, gains)
    kl, _ = nembed.tsne.kl_divergence_exact(emb, aff.P, dof=1)
    assert emb.kl_divergence == pytest.approx(kl, rel=1e-10)  # the KL reported is that of the new P


def test_sparse_pca_matches_dense_pca_up_to_sign():
    rng = np.random.RandomState(0)
    X = sp.random(300, 40, density=0.2, random_state=rng, format="csr")
    X.data *= 5
    Ys = initialization.pca(X, 2, add_jitter=False)
    from sklearn.decomposition import PCA
    Yd = PCA(2, svd_solver="full").fit_transform(X.toarray())
    for j in range(2):
        assert abs(np.corrcoef(Ys[:, j], Yd[:, j])[0, 1]) > 1 - 1e-10
    assert np.std(Ys[:, 0]) == pytest.approx(1e-4, rel=1e-12)
