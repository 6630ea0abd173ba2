"""Affinities, initialisations and kNN wrappers against direct numpy computations."""
import numpy as np
import pytest
import scipy.sparse as sp

from nembed import affinity, initialization
from nembed.nearest_neighbors import Exact, HNSW, PrecomputedDistanceMatrix


def test_perplexity_rows_reach_the_perplexity(split):
    # the conditional rows (before symmetrisation) of to_new have entropy log(perplexity)
    x = split[0][:400]
    aff = affinity.PerplexityBasedNN(x, perplexity=10, method="exact")
    P = aff.to_new(split[1][:50], perplexity=10)
    assert P.shape == (50, 400)
    for i in range(50):
        p = P.getrow(i).data
        np.testing.assert_allclose(p.sum(), 1.0, rtol=1e-12)
        H = -(p * np.log(p)).sum()
        np.testing.assert_allclose(np.exp(H), 10.0, rtol=1e-5)


def test_precomputed_affinities_normalise():
    A = sp.random(30, 30, density=0.3, random_state=0, format="csr")
    A = A + A.T
    aff = affinity.PrecomputedAffinities(A)
    np.testing.assert_allclose(aff.P.sum(), 1.0)
    B = A.toarray()
    np.fill_diagonal(B, 0)  # the diagonal is dropped
    np.testing.assert_allclose(aff.P.toarray(), B / B.sum())
    with pytest.raises(ValueError, match="square"):
        affinity.PrecomputedAffinities(np.ones((3, 4)))
    with pytest.raises(ValueError, match="non-negative"):
        affinity.PrecomputedAffinities(-np.ones((3, 3)))


def _knn(x, k):
    d = np.sqrt(((x[:, None, :].astype(np.float64) - x[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(d, idx, 1)


def test_uniform_affinities_against_numpy(split):
    x = split[0][:200]
    idx, _ = _knn(x, 10)
    A = np.zeros((200, 200))
    np.put_along_axis(A, idx, 1.0, 1)
    for sym, want in [(True, np.maximum(A, A.T)), ("mean", (A + A.T) / 2), ("none", A)]:
        P = affinity.Uniform(x, k_neighbors=10, method="exact", symmetrize=sym).P.toarray()
        np.testing.assert_allclose(P, want / want.sum(), atol=1e-15)
    aff = affinity.Uniform(x, k_neighbors=10, method="exact")
    Pn = aff.to_new(split[1][:7]).toarray()
    np.testing.assert_allclose(Pn.sum(1), 1.0)
    assert set(np.unique(Pn)) == {0.0, 0.1}
    with pytest.raises(ValueError, match="symmetrize"):
        affinity.Uniform(x, symmetrize="union")


def test_fixed_sigma_against_numpy(split):
    x = split[0][:200].astype(np.float64)
    idx, d = _knn(x, 20)
    sigma = float(np.median(d[:, 0]))
    W = np.exp(-d ** 2 / (2 * sigma ** 2))
    W /= W.sum(1, keepdims=True)
    C = np.zeros((200, 200))
    np.put_along_axis(C, idx, W, 1)
    P = affinity.FixedSigmaNN(x, sigma=sigma, k=20, method="exact").P.toarray()
    np.testing.assert_allclose(P, (C + C.T) / 400, rtol=1e-4, atol=1e-10)
    with pytest.raises(ValueError, match="sigma"):
        affinity.FixedSigmaNN(x, sigma=0.0)


def _calibrated_rows(d, perplexity):
    """Row-normalised exp(-d^2 tau / 2) with tau bisected (in log space) to entropy log(perplexity)."""
    d2 = d ** 2 - d[:, :1] ** 2
    lo, hi = np.full(len(d), -30.0), np.full(len(d), 30.0)
    for _ in range(200):
        mid = (lo + hi) / 2
        W = np.exp(-d2 * np.exp(mid)[:, None] / 2)
        W /= W.sum(1, keepdims=True)
        H = -(W * np.log(np.maximum(W, 1e-300))).sum(1)
        too_flat = H > np.log(perplexity)
        lo = np.where(too_flat, mid, lo)
        hi = np.where(too_flat, hi, mid)
    return W


def test_multiscale_average_and_mixture_against_numpy(split):
    x = split[0][:300].astype(np.float64)
    idx, d = _knn(x, 90)
    W5, W30 = _calibrated_rows(d, 5), _calibrated_rows(d, 30)
    C = np.zeros((300, 300))
    np.put_along_axis(C, idx, (W5 + W30) / 2, 1)
    aff = affinity.Multiscale(x, perplexities=[5, 30], method="exact", symmetrize=False)
    # openTSNE's pair-wise normalisation: the unsymmetrised conditional P is scaled to sum 1 (rows sum to 1/N)
    np.testing.assert_allclose(aff.P.toarray(), C / 300, atol=1e-6 / 300)
    mix = affinity.MultiscaleMixture(x, perplexities=[5, 30], method="exact")
    np.testing.assert_allclose(mix.P.sum(), 1.0)
    np.testing.assert_allclose(mix.P.toarray(), mix.P.toarray().T, atol=1e-15)
    assert mix.P.nnz >= 300 * 90


def test_knn_indices_against_brute_force(split):
    x = split[0][:300]
    d = np.sqrt(((x[:, None, :].astype(np.float64) - x[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    order = np.argsort(d, axis=1, kind="stable")[:, :15]
    idx, dst = Exact(x, 15).build()
    np.testing.assert_array_equal(idx, order)
    np.testing.assert_allclose(dst, np.take_along_axis(d, order, 1), rtol=1e-6)
    hidx, _ = HNSW(x, 15, random_state=0).build()
    recall = np.mean([len(set(a) & set(b)) / 15 for a, b in zip(hidx, idx)])
    assert recall > 0.95
    np.fill_diagonal(d, 0)
    pidx, _ = PrecomputedDistanceMatrix(d, 15).build()
    np.testing.assert_array_equal(pidx, order)


def test_initialisations(split):
    x = split[0][:500]
    Y = initialization.pca(x, random_state=0)
    assert Y.shape == (500, 2)
    np.testing.assert_allclose(Y[:, 0].std(), 1e-4, rtol=0.05)
    # PCA direction matches numpy's SVD up to sign
    xc = x.astype(np.float64) - x.mean(0)
    pc1 = xc @ np.linalg.svd(xc, full_matrices=False)[2][0]
    assert abs(np.corrcoef(pc1, Y[:, 0])[0, 1]) > 0.999
    R = initialization.random(x, n_components=3, random_state=1)
    assert R.shape == (500, 3) and abs(R.std() - 1e-4) < 2e-5
    S = initialization.rescale(np.arange(20.0).reshape(10, 2))
    np.testing.assert_allclose(S[:, 0].std(), 1e-4, rtol=1e-12)
    aff = affinity.PerplexityBasedNN(x, perplexity=30, method="exact")
    sp_init = initialization.spectral(aff.P, random_state=0)
    assert sp_init.shape == (500, 2) and np.all(np.isfinite(sp_init))
    M = initialization.median(np.arange(10.0).reshape(5, 2), np.array([[0, 1, 2], [2, 3, 4]]))
    np.testing.assert_allclose(M, [[2, 3], [6, 7]])
