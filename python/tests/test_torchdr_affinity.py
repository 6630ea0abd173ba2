"""nembed.torchdr's affinities against TorchDR's formulas written densely in numpy (and against TorchDR itself when
it is importable; it is not a dependency)."""
import numpy as np
import pytest
import scipy.sparse as sp

from nembed.torchdr import (EntropicAffinity, MAGICAffinity, NormalizedGaussianAffinity, NormalizedStudentAffinity,
                            SelfTuningAffinity, SinkhornAffinity, SymmetricEntropicAffinity, UMAPAffinity)


@pytest.fixture
def X():
    rng = np.random.default_rng(0)
    return (np.round(rng.normal(size=(40, 3)) * 64) / 64).astype(np.float32)


def sqdist(X):
    X = X.astype(np.float64)
    return ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)


def test_entropic_rows_have_the_target_entropy(X):
    P = EntropicAffinity(perplexity=5)(X)
    assert sp.isspmatrix_csr(P) and P.shape == (40, 40)
    assert np.all(np.diff(P.indptr) == 15)  # 3 x perplexity
    rows = P.toarray() * 40
    np.testing.assert_allclose(rows.sum(1), 1.0, atol=1e-12)
    H = -np.sum(np.where(rows > 0, rows * np.log(np.where(rows > 0, rows, 1)), 0), axis=1)
    np.testing.assert_allclose(H, np.log(5), atol=1e-6)


def test_symmetric_entropic_formula(X):
    aff = SymmetricEntropicAffinity(perplexity=5)
    P = aff(X)
    C = sqdist(X)
    e2 = aff.eps_ ** 2
    logP = (aff.mu_[:, None] + aff.mu_[None, :] - 2 * C) / (e2[:, None] + e2[None, :]) - np.log(40)
    np.fill_diagonal(logP, -np.inf)
    # The affinity's per-pair logits are float32 (as TorchDR's on float32 data): each of mu_i, mu_j, 2C carries a
    # relative float rounding, so log P may differ by ~6e-8 x their magnitudes / (eps_i^2 + eps_j^2); 5e-7 bounds it.
    # Below float's smallest normal number (log -87.3) the float exp flushes to 0.
    off = ~np.eye(len(X), dtype=bool)
    big = off & (logP > -87.0)
    tol = 5e-7 * (np.abs(aff.mu_)[:, None] + np.abs(aff.mu_)[None, :] + 2 * C) / (e2[:, None] + e2[None, :]) + 5e-7
    assert big.sum() > 0.9 * off.sum()
    assert np.all(np.abs(np.log(P[big]) - logP[big]) <= tol[big])
    assert np.all(P[off & ~big] <= 1.2e-38)
    assert np.all(np.diag(P) == 0)
    np.testing.assert_allclose(P, P.T)


def test_sinkhorn_doubly_stochastic_and_warm_start(X):
    aff = SinkhornAffinity(eps=1.0)
    P = aff(X)
    np.testing.assert_allclose(P.sum(1) * 40, 1.0, atol=1e-4)
    logP = aff(X, log=True, init_dual=aff.dual_)
    assert aff.n_iter_ == 0
    np.testing.assert_allclose(np.exp(logP), P, atol=1e-6)


@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1)])
def test_normalized_gaussian_and_student(X, dim):
    C = sqdist(X)
    K = np.exp(-C / 2.0)
    np.fill_diagonal(K, 0)
    S = (1 + C / 3.0) ** (-2.0)
    np.fill_diagonal(S, 0)

    def norm(A):
        if dim is None:
            return A
        if dim == (0, 1):
            return A / A.sum()
        return A / A.sum(axis=dim, keepdims=True) / 40

    np.testing.assert_allclose(NormalizedGaussianAffinity(sigma=2.0, normalization_dim=dim)(X), norm(K), rtol=1e-12)
    np.testing.assert_allclose(NormalizedStudentAffinity(degrees_of_freedom=3.0, normalization_dim=dim)(X), norm(S),
                               rtol=1e-12)


def test_self_tuning_and_magic(X):
    C = sqdist(X)
    Cd = C + np.diag(np.full(40, np.inf))
    sigma = np.sort(Cd, axis=1)[:, 6]
    A = np.exp(-Cd / (sigma[:, None] * sigma[None, :]))
    np.testing.assert_allclose(SelfTuningAffinity()(X), A / A.sum(), rtol=1e-12)
    M = np.exp(-Cd / sigma[:, None])
    M = (M + M.T) / 2
    np.testing.assert_allclose(MAGICAffinity()(X), M / M.sum(1, keepdims=True), rtol=1e-12)


def test_umap_marginals(X):
    aff = UMAPAffinity(n_neighbors=10, symmetrize=False)
    P = aff(X)
    np.testing.assert_allclose(np.asarray(P.sum(1)).ravel(), np.log2(10), atol=1e-6)
    Ps = UMAPAffinity(n_neighbors=10)(X).toarray()
    D = P.toarray()
    np.testing.assert_allclose(Ps, D + D.T - D * D.T, atol=1e-15)


def test_bad_parameters(X):
    with pytest.raises(ValueError):
        EntropicAffinity(perplexity=-1)
    with pytest.raises(ValueError):
        EntropicAffinity(metric="cosine")
    with pytest.raises(ValueError):
        SinkhornAffinity(eps=0)
    with pytest.raises(ValueError):
        NormalizedGaussianAffinity(sigma=-1)
    with pytest.raises(ValueError):
        NormalizedStudentAffinity(degrees_of_freedom=0)
    with pytest.raises(ValueError):
        NormalizedGaussianAffinity(normalization_dim=2)
    with pytest.raises(ValueError):
        SymmetricEntropicAffinity(perplexity=39)(X)  # >= N - 1
    with pytest.raises(ValueError):
        UMAPAffinity(n_neighbors=39)(X)
    with pytest.raises(ValueError):
        SelfTuningAffinity(K=40)(X)
    with pytest.raises(TypeError):
        MAGICAffinity(K=2.5)
    with pytest.raises(TypeError):
        EntropicAffinity()(np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(ValueError):
        EntropicAffinity()(np.full((10, 2), np.nan))


def test_matches_torchdr_when_available(X):
    torch = pytest.importorskip("torch")
    torchdr = pytest.importorskip("torchdr")
    Xt = torch.tensor(X.astype(np.float64))
    # 200 steps: this data does not converge within 500, and past ~300 unconverged Adam steps TorchDR itself moves
    # by 1e-3 when the data move by 1e-15 (chaotic); before that the trajectories agree to 1e-16.
    ref = torchdr.SymmetricEntropicAffinity(perplexity=5, max_iter=200)(Xt).numpy()
    np.testing.assert_allclose(SymmetricEntropicAffinity(perplexity=5, max_iter=200)(X), ref, rtol=1e-9, atol=1e-15)
    ref = torchdr.SinkhornAffinity(eps=1.0)(Xt).numpy()
    np.testing.assert_allclose(SinkhornAffinity(eps=1.0)(X), ref, rtol=1e-8, atol=1e-14)
    vals, idx = torchdr.EntropicAffinity(perplexity=5)(Xt)
    dense = np.zeros((40, 40))
    np.put_along_axis(dense, idx.numpy(), vals.numpy(), axis=1)
    np.testing.assert_allclose(EntropicAffinity(perplexity=5)(X).toarray(), dense, rtol=1e-4, atol=1e-12)
