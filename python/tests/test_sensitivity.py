"""nembed.sensitivity: seed-named functions, layouts, factor order, invariants, plots."""
import numpy as np
import pytest

from nembed import sensitivity as ns


def blobs(n=30, d=4, seed=4, sep=5.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[np.arange(n), np.arange(n) % 3] += sep
    return X


@pytest.fixture(scope="module")
def refined():
    X = blobs()
    Y0 = np.c_[X[:, 0] - X[:, 2], X[:, 1] - X[:, 2]]
    s = ns.Sensitivity(X, Y0, perplexity=8.0, refine=True)
    assert s.diagnostics["gradient_max"] < 1e-9
    return X, s


def test_sensitivity_layout_and_invariants(refined):
    X, s = refined
    n, d = X.shape
    S = ns.compute_sensitivities(X, s.embedding, perplexity=8.0)
    assert S.shape == (2 * n, n * d)
    scale = np.linalg.norm(S)
    # columns j*D + f: for each feature the columns sum to zero over points
    assert np.linalg.norm(S.reshape(2 * n, n, d).sum(axis=1)) < 1e-8 * scale
    # translations (and the rotation) of the output are in the left null space
    assert np.linalg.norm(S[0::2].sum(0)) < 1e-8 * scale and np.linalg.norm(S[1::2].sum(0)) < 1e-8 * scale
    # layout: S[2i+k, j*D+f] = dy_ik/dx_jf, checked against S @ e
    u = np.zeros(n * d)
    u[3 * d + 1] = 1.0
    np.testing.assert_allclose(s.apply(u), S[:, 3 * d + 1], rtol=1e-8, atol=1e-12 * scale)


def test_kronecker_order_dense_and_monte_carlo(refined):
    X, s = refined
    n, d = X.shape
    rng = np.random.default_rng(1)
    A = rng.normal(size=(n, n)); U = A @ A.T / n + 0.2 * np.eye(n)
    B = rng.normal(size=(d, d)); V = B @ B.T / d + 0.2 * np.eye(d)
    Ck = ns.compute_cov(X, s.embedding, U, V, perplexity=8.0)
    Cd = ns.compute_cov_without_kronecker(X, s.embedding, np.kron(U, V), perplexity=8.0)
    np.testing.assert_allclose(Ck, Cd, rtol=1e-8, atol=1e-10 * np.abs(Cd).max())
    S = s.jacobian()
    LU, LV = np.linalg.cholesky(U), np.linalg.cholesky(V)
    E = LU @ rng.normal(size=(20000, n, d)) @ LV.T  # matrix-normal samples, rows = points
    dY = E.reshape(20000, -1) @ S.T
    mc = dY.T @ dY / 20000
    assert np.linalg.norm(mc - Ck) / np.linalg.norm(Ck) < 0.05
    with pytest.raises(ValueError, match="swapped"):
        ns.compute_cov(X, s.embedding, V, U, perplexity=8.0)


def test_per_entry_variances_and_point_blocks(refined):
    X, s = refined
    n, d = X.shape
    var = np.random.default_rng(2).uniform(0.1, 1.0, size=(n, d))
    C = s.covariance(var)
    np.testing.assert_allclose(C, s.covariance(var.ravel()))
    blocks = s.point_covariances(var)
    assert blocks.shape == (n, 2, 2)
    for i in range(n):
        np.testing.assert_allclose(blocks[i], C[2 * i:2 * i + 2, 2 * i:2 * i + 2], rtol=1e-8,
                                   atol=1e-10 * np.abs(C).max())


def test_seed_three_point_pattern():
    X = np.zeros((3, 5)); X[0, 4], X[2, 4] = -1.0, 1.0
    Y = np.array([[-1.0, 0.3], [0.1, -0.2], [1.2, 0.4]])
    with pytest.warns(UserWarning):
        S = ns.compute_sensitivities(X, Y, perplexity=0.67, seed_compatible=True)
    assert S.shape == (6, 15)
    others = [c for c in range(15) if c % 5 != 4]
    assert np.all(S[:, others] == 0)
    np.testing.assert_allclose(S[:, 9], -2 * S[:, 4], rtol=1e-6)
    np.testing.assert_allclose(S[:, 14], S[:, 4], rtol=1e-6)


def test_hops_importance_and_plots(refined, tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    X, s = refined
    frames = s.hypothetical_outcomes(0.01, n_frames=6, seed=3)
    assert frames.shape == (6, X.shape[0], 2)
    per_point, per_feature, summed = s.importance()
    assert per_point.shape == (X.shape[0],) and per_feature.shape == (X.shape[1],) and summed.shape == X.shape
    ax = ns.plot_ellipses(s.embedding, s.point_covariances(1.0), labels=np.arange(X.shape[0]) % 3)
    ax.figure.savefig(tmp_path / "e.png")
    ns.plot_arrows(s.embedding, s.self_sensitivity_axes(), double_headed=True).figure.savefig(tmp_path / "a.png")
    ns.plot_heatmap(s.jacobian()).figure.savefig(tmp_path / "h.png")
    ns.animate_hypothetical_outcomes(frames, str(tmp_path / "hop.gif"))
    assert (tmp_path / "hop.gif").stat().st_size > 0
    spec = s.variance_spectrum(1.0, 3, [0.0, 1e-3])
    assert 0 < spec["soft_share"] <= 1 and spec["trace_cov"][1] < spec["trace_cov"][0]


def test_bad_input():
    X = blobs(12, 3)
    Y = np.random.default_rng(0).normal(size=(12, 2))
    with pytest.raises(ValueError):
        ns.compute_sensitivities(X, Y[:10], perplexity=3.0)
    with pytest.raises(ValueError):
        ns.compute_sensitivities(X, np.c_[Y, Y], perplexity=3.0)
    with pytest.raises(ValueError):
        ns.compute_sensitivities(X, Y, perplexity=50.0)
    with pytest.raises(ValueError):
        ns.compute_sensitivities(X, Y, perplexity=3.0, affinity="nope")
    with pytest.raises(TypeError):
        ns.compute_sensitivities(np.array([["a"] * 3] * 12), Y)
    with pytest.raises(ValueError):
        ns.compute_cov_without_kronecker(X, Y, np.ones(7), perplexity=3.0)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Y is not a stationary point: the analysis warns
def test_bad_settings_are_refused_not_ignored_or_truncated():
    """Settings another one would silently ignore, truncated integers, complex data, NaN vectors, overflow."""
    X = blobs(12, 3)
    Y = np.random.default_rng(0).normal(size=(12, 2))
    with pytest.raises(ValueError, match="drop damping"):
        ns.Sensitivity(X, Y, 3.0, seed_compatible=True, damping=0.5)
    with pytest.raises(ValueError, match="drop solver"):
        ns.Sensitivity(X, Y, 3.0, seed_compatible=True, solver="minres")
    with pytest.raises(ValueError, match="dof applies to the student-t kernel only"):
        ns.Sensitivity(X, Y, 3.0, kernel="gaussian", dof=3.0)
    with pytest.raises(ValueError, match="n_neighbors = 5 applies to the kNN affinity only"):
        ns.Sensitivity(X, Y, 3.0, n_neighbors=5)
    with pytest.raises(TypeError, match="n_neighbors must be an integer"):
        ns.Sensitivity(X, Y, 3.0, affinity="knn", n_neighbors=9.7)
    with pytest.raises(ValueError, match="covariance_samples must be >= 0, got -1"):
        ns.Sensitivity(X, Y, 3.0, covariance_samples=-1)
    with pytest.raises(ValueError, match="covariance_samples"):  # checked whichever solver runs
        ns.Sensitivity(X, Y, 3.0, covariance_samples=1)
    with pytest.raises(ValueError, match="grid width"):
        ns.Sensitivity(X, Y, 3.0, grid_width=0.0)
    with pytest.raises(ValueError, match="max_output_gib"):
        ns.Sensitivity(X, Y, 3.0, max_output_gib=float("inf"))
    with pytest.raises(TypeError, match="perplexity must be a real number"):
        ns.Sensitivity(X, Y, True)
    with pytest.raises(TypeError, match="complex"):
        ns.Sensitivity(X + 1j, Y, 3.0)
    with pytest.raises(ValueError, match="overflow"):
        ns.Sensitivity(X * 1e300, Y, 3.0)
    s = ns.Sensitivity(X, Y, 3.0)
    with pytest.raises(ValueError, match="NaN"):
        s.apply(np.full(36, np.nan))
    with pytest.raises(ValueError, match="2-D"):
        s.apply(np.ones((36, 2, 2)))
    with pytest.raises(TypeError, match="complex"):
        s.point_covariances(np.ones((12, 3)) * (1 + 1j))
    with pytest.raises(TypeError, match="n_frames must be an integer"):
        s.hypothetical_outcomes(1.0, 2.5)
    with pytest.raises(ValueError, match="n_frames must be >= 0, got -1"):
        s.hypothetical_outcomes(1.0, -1)


def test_knn_differentiated_minres_matches_dense(refined):
    X, s = refined
    opts = dict(perplexity=8.0, affinity="knn", bandwidth="differentiated", damping=1e-3)
    a = ns.Sensitivity(X, s.embedding, solver="minres", tolerance=1e-12, lanczos_eigenvalues=3, **opts)
    b = ns.Sensitivity(X, s.embedding, solver="dense", **opts)
    np.testing.assert_allclose(a.diagnostics["smallest_eigenvalues"], b.diagnostics["smallest_eigenvalues"][:3],
                               rtol=1e-5)
    U = np.random.default_rng(5).normal(size=(X.size, 3))
    np.testing.assert_allclose(a.apply(U), b.apply(U), rtol=1e-6, atol=1e-8 * np.abs(b.apply(U)).max())


def test_inverse_solver_matches_dense_point_blocks(refined):
    X, s = refined
    opts = dict(perplexity=8.0, affinity="knn", damping=1e-6)
    a = ns.Sensitivity(X, s.embedding, solver="inverse", **opts)
    b = ns.Sensitivity(X, s.embedding, solver="dense", **opts)
    var = np.random.default_rng(6).uniform(0.5, 1.5, size=X.shape)
    pa, pb = a.point_covariances(var), b.point_covariances(var)
    np.testing.assert_allclose(pa, pb, rtol=1e-6, atol=1e-9 * np.abs(pb).max())
    with pytest.raises(ValueError, match="solver"):
        ns.Sensitivity(X, s.embedding, solver="cholesky", **opts)


def test_reused_affinities_give_the_recomputed_s():
    # The P (nembed's perplexity affinities over the exact kNN graph) and the neighbour sets that produced Y give the
    # S of recomputing them from X, up to the float32 distances nembed's affinities are built from (1e-4).
    from nembed.affinity import PerplexityBasedNN
    X = blobs(30, 4, seed=21)
    Y = np.random.default_rng(22).normal(size=(30, 2)) * 2.0
    aff = PerplexityBasedNN(X, perplexity=5, method="exact")
    d2 = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    idx = np.argsort(d2, axis=1)[:, :15]
    with pytest.warns(Warning):
        ref = ns.Sensitivity(X, Y, 5, affinity="knn", damping=1e-2)
        given = ns.Sensitivity(X, Y, 5, affinities=aff, neighbors=idx, damping=1e-2)
    S0, S1 = ref.jacobian(), given.jacobian()
    diff = np.abs(S1 - S0).max() / np.abs(S0).max()
    assert 0 < diff < 1e-4
    with pytest.warns(Warning):
        same_beta = ns.Sensitivity(X, Y, 5, affinities=aff, neighbors=idx, beta=given.beta, damping=1e-2)
    np.testing.assert_array_equal(same_beta.jacobian(), S1)
    with pytest.raises(ValueError, match="seed_compatible"):
        ns.Sensitivity(X, Y, 5, seed_compatible=True, affinities=aff)
    with pytest.raises(ValueError, match="neighbors"):
        ns.Sensitivity(X, Y, 5, neighbors=idx[:, :3].astype(float))


def test_other_output_kernels():
    # Heavy-tailed t-SNE (dof 0.5) and SNE's Gaussian kernel: the gradient the analysis differentiates is the
    # gradient of a different objective, and S changes with it.
    X = blobs(24, 3, seed=5)
    Y = np.random.default_rng(6).normal(size=(24, 2))
    with pytest.warns(Warning):
        t = ns.Sensitivity(X, Y, 5, damping=1e-2)
        h = ns.Sensitivity(X, Y, 5, damping=1e-2, dof=0.5)
        g = ns.Sensitivity(X, Y, 5, damping=1e-2, kernel="gaussian")
    assert np.abs(t.gradient() - h.gradient()).max() > 1e-3 * np.abs(t.gradient()).max()
    assert np.abs(t.gradient() - g.gradient()).max() > 1e-3 * np.abs(t.gradient()).max()
    assert np.isfinite(h.jacobian()).all() and np.isfinite(g.jacobian()).all()
    with pytest.raises(ValueError, match="kernel"):
        ns.Sensitivity(X, Y, 5, kernel="cosine")


def test_matrix_free_solver_options(refined):
    # The matrix-free path's accuracy is tested in C++ (tests/sensitivity/test_sensitivity_matrix_free.cpp, with
    # damping: at lambda = 0 the refined three-blob map's near-null cluster modes are not resolved by the grid).
    X, s = refined
    mf = ns.Sensitivity(X, s.embedding, perplexity=8.0, solver="matrix-free", covariance_samples=20,
                        covariance_seed=3, damping=1e-3)
    assert mf.diagnostics["solver"] == "matrix-free"
    est = mf.point_covariances(0.5)
    assert est.shape == (X.shape[0], 2, 2) and np.all(np.isfinite(est))
    with pytest.raises(ValueError, match="matrix-free"):
        ns.Sensitivity(X, s.embedding, perplexity=8.0, solver="matrixfree")
    with pytest.raises(ValueError, match="covariance_samples"):
        ns.Sensitivity(X, s.embedding, perplexity=8.0, solver="matrix-free", covariance_samples=1).point_covariances()
