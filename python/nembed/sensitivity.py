"""Sensitivity and uncertainty of t-SNE embeddings by the implicit function theorem.

For an embedding ``Y`` (N x 2) of data ``X`` (N x D) that is a stationary point of the t-SNE objective,

    S = dY/dX = -(H + lambda I)^+ J          shape (2N, N*D)
    Cov(Y) ~= S Cov(X) S^T                   shape (2N, 2N)

with H the Hessian of KL(P(X) || Q(Y)) in Y and J the derivative of its gradient in X. Layouts are the seed's
(the JAX ``tsne_jax`` functions of Zabel, Hennig & Nieselt): everything is flattened point-major,
``S[2*i + k, j*D + f] = d y[i, k] / d x[j, f]``.

Two settings:

* ``seed_compatible=True`` reproduces the seed's choices (its 1000-step beta search with the 1e-8 floor, beta held
  fixed, dense P over all points, lambda = 1e-3, no gauge projection, pseudo-inverse cutoff 10*2N*eps_float32), in
  float64.
* the default is the exact analysis: float64, the two translations and the rotation projected out exactly,
  ``damping`` (lambda) 0, dense P with exactly calibrated bandwidths. ``affinity="knn"`` differentiates nembed's
  kNN P instead, ``bandwidth="differentiated"`` also differentiates the bandwidths through the perplexity.

Kronecker factor order (unambiguous by name): ``compute_cov(X, Y, sample_cov, feature_cov)`` uses
``Cov(X_flat) = kron(sample_cov, feature_cov)`` with ``sample_cov`` N x N (between points) and ``feature_cov``
D x D (between features), the covariance of a matrix-normal X: ``Cov(x[i, f], x[j, g]) = sample_cov[i, j] *
feature_cov[f, g]``. (The seed's ``compute_cov(..., D, N)`` applies kron(D, N), so its first factor must be the
N x N one, opposite to its parameter names.)
"""
from __future__ import annotations

import numbers
from typing import Any, Optional, Sequence

import numpy as np

from . import _core
from ._utils import as_csr

__all__ = ["Sensitivity", "compute_sensitivities", "compute_cov", "compute_cov_without_kronecker",
           "point_covariances", "hypothetical_outcomes", "input_covariance", "plot_ellipses", "plot_arrows",
           "plot_heatmap", "animate_hypothetical_outcomes"]


def _matrix(a: Any, name: str, cols: Optional[int] = None) -> np.ndarray:
    import scipy.sparse as sp
    if sp.issparse(a):
        raise TypeError(f"{name}: sparse input is not supported; pass a dense array")
    arr = np.asarray(a)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    if np.iscomplexobj(arr):  # casting would drop the imaginary part with only a numpy warning
        raise TypeError(f"{name}: complex values are not supported, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array, got shape {arr.shape}")
    if cols is not None and arr.shape[1] != cols:
        raise ValueError(f"{name}: expected {cols} columns, got shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.float64)


def _int(value: Any, name: str, minimum: int = 0) -> int:
    """An integer setting: int(2.7) would silently become 2 and a negative one a long binding error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _real(value: Any, name: str) -> float:
    """A real setting (range checks are the core's); a bool or a string is refused, not converted."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    return float(value)


def _finite(a: np.ndarray, name: str) -> np.ndarray:
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: contains NaN or infinity")
    return a


def input_covariance(cov: Any, n: int, d: int) -> "_core.InputCovariance":
    """Cov(X) from a Python value (for X of shape (n, d), flattened point-major):

    * a number ``s``: ``s * I``;
    * a vector of length ``n*d`` or an (n, d) array: per-entry variances (diagonal Cov(X));
    * an (n*d, n*d) array: the dense covariance;
    * a tuple ``(sample_cov, feature_cov)``: kron(sample_cov (n x n), feature_cov (d x d));
    * a tuple ``("lowrank", L, diag)``: L L^T + diag(diag), L of shape (n*d, r);
    * an existing ``_core.InputCovariance``.
    """
    if isinstance(cov, _core.InputCovariance):
        return cov
    if isinstance(cov, numbers.Real) and not isinstance(cov, bool):
        return _core.InputCovariance.scalar(float(cov))
    if isinstance(cov, tuple):
        if len(cov) == 3 and isinstance(cov[0], str) and cov[0] == "lowrank":
            L = _matrix(cov[1], "low-rank factor")
            dg = np.ascontiguousarray(np.asarray(cov[2], dtype=np.float64).ravel())
            return _core.InputCovariance.low_rank_plus_diagonal(L, dg)
        if len(cov) == 2:
            U, V = _matrix(cov[0], "sample_cov"), _matrix(cov[1], "feature_cov")
            if U.shape != (n, n) or V.shape != (d, d):
                raise ValueError(
                    f"Kronecker covariance: expected sample_cov {n} x {n} (between points) and feature_cov "
                    f"{d} x {d} (between features), got {U.shape} and {V.shape}"
                    + (" (swapped? the order is kron(sample_cov, feature_cov))" if U.shape == (d, d) and
                       V.shape == (n, n) else ""))
            return _core.InputCovariance.kronecker(U, V)
        raise ValueError("input covariance tuple must be (sample_cov, feature_cov) or ('lowrank', L, diag)")
    if np.iscomplexobj(np.asarray(cov)):
        raise TypeError("input covariance: complex values are not supported")
    arr = np.asarray(cov, dtype=np.float64)
    if arr.shape == (n * d, n * d):
        return _core.InputCovariance.dense(np.ascontiguousarray(arr))
    if (arr.ndim == 1 and arr.size == n * d) or arr.shape == (n, d):
        return _core.InputCovariance.diagonal(np.ascontiguousarray(arr.ravel()))
    raise ValueError(f"input covariance: expected a scalar, {n * d} per-entry variances, an ({n}, {d}) array of "
                     f"variances, an ({n * d}, {n * d}) matrix or (sample_cov, feature_cov); got shape {arr.shape}")


class Sensitivity:
    """S = dY/dX of a t-SNE embedding and the uncertainty products, sharing one Hessian factorisation.

    Parameters
    ----------
    X : array_like (N, D)
        The data the embedding was made from.
    Y : array_like (N, 2)
        The embedding (ideally a stationary point of the differentiated objective; see ``refine``).
    perplexity : float
        Perplexity of the differentiated P (use the one that made Y).
    seed_compatible : bool
        The seed's settings (see the module docstring); ``affinity``, ``n_neighbors``, ``bandwidth``, ``damping``,
        ``project_gauge``, ``solver``, ``rcond`` and ``damp_to_definite`` must then keep their defaults
        (ValueError otherwise: they would be ignored).
    affinity : {"dense", "knn"}
        P over all points (the seed's) or over the min(N-1, 3*perplexity) nearest neighbours.
    n_neighbors : int
        kNN P: neighbours per point (0 = min(N-1, 3*perplexity)).
    bandwidth : {"fixed", "differentiated"}
        Hold the Gaussian bandwidths fixed (the seed's) or differentiate them through the perplexity constraint.
    damping : float
        Tikhonov shift lambda added to H (the seed's: 1e-3). Default 0.
    project_gauge : bool
        Project the two translations and the rotation out exactly (default True).
    solver : {"auto", "dense", "inverse", "minres", "matrix-free"}
        Dense eigendecomposition (2N <= 6000 with "auto"), dense inverse by Cholesky (2N <= 32768 with "auto";
        8*(2N)^2 bytes; what makes per-point ellipses at N = 10 000 fast), block MINRES with exact O(N^2)
        Hessian products, or "matrix-free" (the "auto" choice above 2N = 32768): Hessian products with the
        repulsion interpolated on an FFT grid, block-Jacobi preconditioned MINRES, and per-point covariances
        estimated from ``covariance_samples`` samples (relative error about 1/sqrt(samples) per ellipse area).
    covariance_samples, covariance_seed : int
        Matrix-free solver: samples of the per-point covariances and their seed (same seed, same bits).
    grid_width, grid_points : float, int
        Matrix-free solver: box width and nodes per box of the repulsion grid (smaller width: more accurate).
    solver_tolerance : float
        Matrix-free solver: relative (preconditioned) MINRES residual to stop at.
    damp_to_definite : bool
        Inverse solver: when H + damping*I is not positive definite (Y is not a local minimum), raise the damping
        tenfold until it is (fast Cholesky; a warning gives the value used) instead of the exact but slower
        indefinite inverse.
    refine : bool
        First refine Y to a stationary point (saddle-free Newton; dense solver); ``embedding`` returns it.
    n_jobs : int
        Threads (-1 = all cores).
    lanczos_eigenvalues : int
        MINRES solver: estimate this many smallest Hessian eigenvalues by Lanczos (diagnostics and the
        indefiniteness warning); the dense solver always reports its spectrum.
    kernel : {"student-t", "gaussian"}
        Output kernel of the differentiated KL(P || w/Z): t-SNE's Student-t (``dof``) or SNE's Gaussian exp(-d^2).
    dof : float
        Student-t degrees of freedom (1 = t-SNE; below 1 heavier tails, as ``TSNE(dof=...)``).
    affinities : sparse matrix or object with ``.P``, optional
        The joint P that produced Y (e.g. ``embedding.affinities`` of a ``TSNEEmbedding``, a
        ``PerplexityBasedNN``, or an N x N scipy matrix, symmetric, summing to 1): the objective uses it as given
        instead of recomputing it from X.
    neighbors : array_like (N, k) of int, optional
        The neighbour sets that produced P (self excluded); implies ``affinity="knn"``. The derivative in X is
        taken over these sets (default: the exact nearest neighbours of X in float64).
    beta : array_like (N,), optional
        The bandwidths beta_i of exp(-beta_i d^2) (openTSNE's precision tau_i = 2 beta_i); default: calibrated to
        ``perplexity`` on the neighbour sets.
    """

    def __init__(self, X: Any, Y: Any, perplexity: float = 30.0, *, seed_compatible: bool = False,
                 affinity: str = "dense", n_neighbors: int = 0, bandwidth: str = "fixed", damping: float = 0.0,
                 project_gauge: bool = True, solver: str = "auto", rcond: float = 0.0, tolerance: float = 1e-10,
                 max_iter: int = 0, refine: bool = False, refine_max_iter: int = 200,
                 refine_tolerance: float = 1e-10, stationarity_tolerance: float = 1e-6, n_jobs: int = 1,
                 max_output_gib: float = 4.0, lanczos_eigenvalues: int = 0, damp_to_definite: bool = False,
                 kernel: str = "student-t", dof: float = 1.0, affinities: Any = None, neighbors: Any = None,
                 beta: Any = None, covariance_samples: int = 256, covariance_seed: int = 0,
                 grid_width: float = 0.5, grid_points: int = 3, solver_tolerance: float = 1e-6):
        self.X = _matrix(X, "X")
        Yarr = _matrix(Y, "Y")
        if seed_compatible and (affinities is not None or neighbors is not None or beta is not None
                                or kernel != "student-t" or dof != 1.0):
            raise ValueError("seed_compatible recomputes the seed's dense P with t-SNE's kernel; it does not take "
                             "affinities, neighbors, beta, kernel or dof")
        if seed_compatible:
            # The seed's settings fix these: a non-default value would be silently ignored.
            changed = [k for k, v, default in (("affinity", affinity, "dense"), ("n_neighbors", n_neighbors, 0),
                                               ("bandwidth", bandwidth, "fixed"), ("damping", damping, 0.0),
                                               ("project_gauge", project_gauge, True), ("solver", solver, "auto"),
                                               ("rcond", rcond, 0.0), ("damp_to_definite", damp_to_definite, False))
                       if v != default]
            if changed:
                raise ValueError("seed_compatible fixes the seed's affinity, bandwidth, damping, gauge and solver; "
                                 "drop " + ", ".join(changed))
        if kernel == "gaussian" and dof != 1.0:
            raise ValueError(f"dof applies to the student-t kernel only; kernel='gaussian' has none, got dof={dof!r}")
        if Yarr.shape[1] != 2:
            raise ValueError(f"Y: expected an (N, 2) embedding, got shape {Yarr.shape}")
        if Yarr.shape[0] != self.X.shape[0]:
            raise ValueError(f"X has {self.X.shape[0]} rows but Y has {Yarr.shape[0]}")
        max_output_gib = _real(max_output_gib, "max_output_gib")
        if not (0.0 < max_output_gib < 2.0 ** 33):  # in bytes it must fit a size_t (inf would be undefined)
            raise ValueError(f"max_output_gib must be in (0, 2**33), got {max_output_gib!r}")
        self._s = _core.TsneSensitivity(
            self.X, Yarr, seed_compatible=seed_compatible, perplexity=_real(perplexity, "perplexity"),
            affinity=affinity, n_neighbors=_int(n_neighbors, "n_neighbors"), bandwidth=bandwidth,
            damping=_real(damping, "damping"), project_gauge=project_gauge, solver=solver, rcond=_real(rcond, "rcond"),
            tolerance=_real(tolerance, "tolerance"), max_iter=_int(max_iter, "max_iter"), refine=refine,
            refine_max_iter=_int(refine_max_iter, "refine_max_iter"),
            refine_tolerance=_real(refine_tolerance, "refine_tolerance"),
            stationarity_tolerance=_real(stationarity_tolerance, "stationarity_tolerance"),
            n_threads=_core.resolve_threads(_int(n_jobs, "n_jobs", minimum=-(2 ** 31))),
            max_output_gib=max_output_gib, lanczos_eigenvalues=_int(lanczos_eigenvalues, "lanczos_eigenvalues"),
            damp_to_definite=bool(damp_to_definite), kernel=kernel, dof=_real(dof, "dof"),
            covariance_samples=_int(covariance_samples, "covariance_samples"),
            covariance_seed=_int(covariance_seed, "covariance_seed"), grid_width=_real(grid_width, "grid_width"),
            grid_points=_int(grid_points, "grid_points"), solver_tolerance=_real(solver_tolerance, "solver_tolerance"),
            **_given_affinities(affinities, neighbors, beta, self.X.shape[0]))

    @property
    def beta(self) -> np.ndarray:
        """The bandwidths beta_i of exp(-beta_i d^2) that were differentiated (given or calibrated)."""
        return np.asarray(self._s.beta)

    def gradient(self) -> np.ndarray:
        """The gradient g of KL(P || w/Z) at Y, length 2N (point-major; with its factor 4)."""
        return np.asarray(self._s.gradient())

    @property
    def n_points(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def embedding(self) -> np.ndarray:
        """The analysed embedding (refined when ``refine=True``)."""
        return self._s.embedding()

    @property
    def diagnostics(self) -> dict:
        """max/2-norm of the gradient, KL, refinement iterations, smallest Hessian eigenvalues, number of negative
        ones and the rotation residual ||H r|| / ||H|| (dense solver)."""
        return self._s.diagnostics

    def _cov(self, cov: Any):
        return input_covariance(cov, self.n_points, self.n_features)

    def jacobian(self) -> np.ndarray:
        """The full S, shape (2N, N*D)."""
        return self._s.jacobian()

    def apply(self, U: Any) -> np.ndarray:
        """S @ U for U of shape (N*D,) or (N*D, m)."""
        U = _finite(_vectors(U, "U"), "U")
        out = self._s.apply(np.asfortranarray(U.reshape(U.shape[0], -1)))
        return out.ravel() if U.ndim == 1 else out

    def apply_transpose(self, V: Any) -> np.ndarray:
        """S.T @ V for V of shape (2N,) or (2N, m)."""
        V = _finite(_vectors(V, "V"), "V")
        out = self._s.apply_transpose(np.asfortranarray(V.reshape(V.shape[0], -1)))
        return out.ravel() if V.ndim == 1 else out

    def covariance(self, cov: Any = 1.0) -> np.ndarray:
        """Cov(Y) = S Cov(X) S^T, shape (2N, 2N); ``cov`` as in :func:`input_covariance`."""
        return self._s.covariance(self._cov(cov))

    def point_covariances(self, cov: Any = 1.0) -> np.ndarray:
        """Per-point 2 x 2 blocks of Cov(Y), shape (N, 2, 2), without forming S or Cov(Y)."""
        return self._s.point_covariances(self._cov(cov)).reshape(-1, 2, 2)

    def hypothetical_outcomes(self, cov: Any = 1.0, n_frames: int = 20, seed: int = 0) -> np.ndarray:
        """Frames (n_frames, N, 2) on a great circle in input-noise space: Y + r (a cos s + b sin s), two solves."""
        frames, _, _ = self._s.hypothetical_outcomes(self._cov(cov), _int(n_frames, "n_frames"), _int(seed, "seed"))
        return frames

    def importance(self):
        """(per_point (N,), per_feature (D,), summed_abs (N, D)): squared column norms of S grouped by input point
        and by feature, and the seed's "summarised sensitivities" sum_rows |S| reshaped to (N, D)."""
        return self._s.importance()

    def variance_spectrum(self, cov: Any = 1.0, n_soft: int = 3, lambdas: Sequence[float] = (0.0, 1e-6, 1e-4, 1e-3, 1e-2)):
        """Share of trace Cov(Y) in the ``n_soft`` softest Hessian modes and trace Cov(Y) at each lambda."""
        return self._s.variance_spectrum(self._cov(cov), _int(n_soft, "n_soft"), [_real(x, "lambdas") for x in lambdas])

    def self_sensitivity_axes(self) -> np.ndarray:
        """(N, 2): per point, the largest singular value times left singular vector of dy_i/dx_i (2 x D)."""
        n, d = self.n_points, self.n_features
        out = np.zeros((n, 2))
        block = 64
        for r0 in range(0, 2 * n, block):
            m = min(block, 2 * n - r0)
            E = np.zeros((2 * n, m))
            E[np.arange(r0, r0 + m), np.arange(m)] = 1.0
            R = self.apply_transpose(E).T  # rows r0..r0+m of S
            for c in range(0, m, 2):
                i = (r0 + c) // 2
                u, s, _ = np.linalg.svd(R[c:c + 2, i * d:(i + 1) * d])
                out[i] = s[0] * u[:, 0]
        return out


def _vectors(a: Any, name: str) -> np.ndarray:
    """A vector or a matrix of column vectors (a 3-D array would come back in a different shape)."""
    arr = np.asarray(a)
    if arr.dtype == object or np.iscomplexobj(arr) or not (np.issubdtype(arr.dtype, np.number)
                                                          or arr.dtype == np.bool_):
        raise TypeError(f"{name}: expected a real numeric array, got dtype {arr.dtype}")
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name}: expected a vector or a 2-D array of column vectors, got shape {arr.shape}")
    return arr.astype(np.float64)


def _given_affinities(affinities: Any, neighbors: Any, beta: Any, n: int) -> dict:
    """The P, neighbour sets and bandwidths that produced Y as the core's arrays (empty: recompute from X)."""
    import scipy.sparse as sp
    out = {"P_indptr": np.zeros(0, np.int64), "P_indices": np.zeros(0, np.int64), "P_data": np.zeros(0),
           "neighbors": np.zeros((0, 0), np.int64), "beta": np.zeros(0)}
    if affinities is not None:
        P = getattr(affinities, "P", affinities)
        if not sp.issparse(P):
            raise TypeError("affinities: expected a scipy sparse matrix or an object with a sparse .P")
        P = as_csr(P, n, n, "affinities")
        P.eliminate_zeros()
        out.update(P_indptr=np.ascontiguousarray(P.indptr, np.int64),
                   P_indices=np.ascontiguousarray(P.indices, np.int64), P_data=np.ascontiguousarray(P.data))
    if neighbors is not None:
        idx = np.asarray(neighbors)
        if idx.ndim != 2 or idx.shape[0] != n or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"neighbors: expected an ({n}, k) integer array, got {idx.dtype} {idx.shape}")
        out["neighbors"] = np.ascontiguousarray(idx, np.int64)
    if beta is not None:
        b = np.ascontiguousarray(np.asarray(beta, dtype=np.float64).ravel())
        if b.shape != (n,):
            raise ValueError(f"beta: expected {n} values, got {b.size}")
        out["beta"] = b
    return out


def _flat_inputs(X: Any, Y: Any):
    """Accepts (N, D) and (N, 2) arrays (and, for the seed's habits, flat vectors with an explicit reshape)."""
    return _matrix(X, "X"), _matrix(Y, "Y", 2)


def compute_sensitivities(X: Any, Y: Any, perplexity: float = 30.0, **options: Any) -> np.ndarray:
    """S = dY/dX, shape (2N, N*D), ``S[2*i + k, j*D + f] = d y[i, k] / d x[j, f]`` (the seed's layout).

    ``X``: (N, D), ``Y``: (N, 2). Options as :class:`Sensitivity` (``seed_compatible=True`` for the seed's settings).
    """
    X, Y = _flat_inputs(X, Y)
    return Sensitivity(X, Y, perplexity, **options).jacobian()


def compute_cov(X: Any, Y: Any, sample_cov: Any, feature_cov: Any, perplexity: float = 30.0,
                **options: Any) -> np.ndarray:
    """Cov(Y) = S kron(sample_cov, feature_cov) S^T, shape (2N, 2N).

    ``sample_cov`` is N x N (between points), ``feature_cov`` D x D (between features): X is matrix-normal with
    Cov(x[i, f], x[j, g]) = sample_cov[i, j] * feature_cov[f, g]. Shapes are checked by name (a swapped pair is
    reported as such); the seed's function applied the factors in the opposite order to its names.
    """
    X, Y = _flat_inputs(X, Y)
    s = Sensitivity(X, Y, perplexity, **options)
    return s.covariance((sample_cov, feature_cov))


def compute_cov_without_kronecker(X: Any, Y: Any, input_cov: Any, perplexity: float = 30.0,
                                  **options: Any) -> np.ndarray:
    """Cov(Y) = S input_cov S^T, shape (2N, 2N). ``input_cov``: a dense (N*D, N*D) matrix, a vector of N*D
    per-entry variances (the seed's pre-July-2025 convention) or an (N, D) array of them, or a scalar."""
    X, Y = _flat_inputs(X, Y)
    return Sensitivity(X, Y, perplexity, **options).covariance(input_cov)


def point_covariances(X: Any, Y: Any, input_cov: Any = 1.0, perplexity: float = 30.0, **options: Any) -> np.ndarray:
    """Per-point 2 x 2 covariances of the embedding, shape (N, 2, 2) (for uncertainty ellipses)."""
    X, Y = _flat_inputs(X, Y)
    return Sensitivity(X, Y, perplexity, **options).point_covariances(input_cov)


def hypothetical_outcomes(X: Any, Y: Any, input_cov: Any = 1.0, n_frames: int = 20, seed: int = 0,
                          perplexity: float = 30.0, **options: Any) -> np.ndarray:
    """Hypothetical-outcome frames, shape (n_frames, N, 2): one orbit of equally likely input perturbations."""
    X, Y = _flat_inputs(X, Y)
    return Sensitivity(X, Y, perplexity, **options).hypothetical_outcomes(input_cov, n_frames, seed)


# ----------------------------------------------------------------------------------------------------- plots
def _ax(ax):
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots(figsize=(7, 7))
    return ax


def plot_ellipses(Y: Any, covariances: Any, labels: Optional[Sequence] = None, ax: Any = None,
                  confidence: float = 0.95, scale: float = 1.0, **kwargs: Any):
    """Uncertainty ellipses {d : d^T C^-1 d <= q} (q the chi^2_2 quantile of ``confidence``) around each point.

    ``covariances``: (N, 2, 2) or (N, 4). ``scale`` magnifies the ellipses (say so in captions).
    """
    from matplotlib.collections import EllipseCollection
    Y = _matrix(Y, "Y", 2)
    C = _finite(np.asarray(covariances, dtype=np.float64), "covariances").reshape(-1, 2, 2)
    if C.shape[0] != Y.shape[0]:
        raise ValueError(f"covariances: expected {Y.shape[0]} blocks, got {C.shape[0]}")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    q = -2.0 * np.log(1.0 - confidence)  # chi^2 quantile with 2 degrees of freedom
    w, v = np.linalg.eigh(0.5 * (C + C.transpose(0, 2, 1)))
    w = np.clip(w, 0, None)
    widths = 2 * scale * np.sqrt(q * w[:, 1])
    heights = 2 * scale * np.sqrt(q * w[:, 0])
    angles = np.degrees(np.arctan2(v[:, 1, 1], v[:, 0, 1]))
    ax = _ax(ax)
    colors = None
    if labels is not None:
        import matplotlib.pyplot as plt
        _, codes = np.unique(np.asarray(labels), return_inverse=True)
        colors = plt.get_cmap("tab10")(codes % 10)
    ec = EllipseCollection(widths, heights, angles, units="xy", offsets=Y, offset_transform=ax.transData,
                           facecolors="none", edgecolors=colors if colors is not None else "C0",
                           linewidths=0.8, alpha=0.7, **kwargs)
    ax.add_collection(ec)
    ax.scatter(Y[:, 0], Y[:, 1], s=6, c=colors if colors is not None else "k")
    ax.set_aspect("equal")
    ax.autoscale_view()
    return ax


def plot_arrows(Y: Any, arrows: Any, labels: Optional[Sequence] = None, ax: Any = None, scale: Optional[float] = None,
                double_headed: bool = False, **kwargs: Any):
    """Arrows (N, 2) drawn from each point, e.g. ``S @ u`` reshaped (N, 2) or ``self_sensitivity_axes()``.
    ``scale`` multiplies the arrows (None: the 95th-percentile arrow is 6 % of the map)."""
    Y = _matrix(Y, "Y", 2)
    A = _finite(_matrix(arrows, "arrows", 2), "arrows")
    if A.shape[0] != Y.shape[0]:
        raise ValueError(f"arrows: expected {Y.shape[0]} rows, got {A.shape[0]}")
    if scale is None:
        span = max(np.ptp(Y[:, 0]), np.ptp(Y[:, 1]), 1e-12)
        p95 = np.percentile(np.hypot(A[:, 0], A[:, 1]), 95)
        scale = 0.06 * span / p95 if p95 > 0 else 1.0
    ax = _ax(ax)
    ax.scatter(Y[:, 0], Y[:, 1], s=6, c=labels if labels is not None else "k", cmap="tab10")
    ax.quiver(Y[:, 0], Y[:, 1], scale * A[:, 0], scale * A[:, 1], angles="xy", scale_units="xy", scale=1, **kwargs)
    if double_headed:
        ax.quiver(Y[:, 0], Y[:, 1], -scale * A[:, 0], -scale * A[:, 1], angles="xy", scale_units="xy", scale=1,
                  **kwargs)
    ax.set_aspect("equal")
    ax.set_title(f"arrows x {scale:.3g}")
    return ax


def plot_heatmap(S: Any, ax: Any = None, **kwargs: Any):
    """Heatmap of a matrix (e.g. S, 2N x N*D) with a diverging colour map centred at zero."""
    M = _matrix(S, "S")
    ax = _ax(ax)
    vmax = float(np.max(np.abs(M))) or 1.0
    im = ax.imshow(M, cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto", interpolation="nearest", **kwargs)
    ax.figure.colorbar(im, ax=ax)
    return ax


def animate_hypothetical_outcomes(frames: Any, path: Optional[str] = None, labels: Optional[Sequence] = None,
                                  fps: float = 5.0):
    """Animates frames (n_frames, N, 2) with matplotlib; writes a GIF (Pillow) when ``path`` ends in .gif, PNG
    frames ``path % k`` when it contains a format field (e.g. "hop_%03d.png"); returns the FuncAnimation."""
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation, PillowWriter
    F = np.asarray(frames, dtype=np.float64)
    if F.ndim != 3 or F.shape[2] != 2 or F.shape[0] == 0 or F.shape[1] == 0:
        raise ValueError(f"frames: expected shape (n_frames, N, 2) with n_frames, N >= 1, got {F.shape}")
    _finite(F, "frames")
    fig, ax = plt.subplots(figsize=(6, 6))
    lo, hi = F.reshape(-1, 2).min(0), F.reshape(-1, 2).max(0)
    pad = 0.05 * (hi - lo).max()
    ax.set_xlim(lo[0] - pad, hi[0] + pad)
    ax.set_ylim(lo[1] - pad, hi[1] + pad)
    ax.set_aspect("equal")
    sc = ax.scatter(F[0, :, 0], F[0, :, 1], s=8, c=labels if labels is not None else "k", cmap="tab10")

    def update(k):
        sc.set_offsets(F[k])
        return (sc,)

    anim = FuncAnimation(fig, update, frames=F.shape[0], interval=1000.0 / fps, blit=True)
    if path is not None:
        if path.lower().endswith(".gif"):
            anim.save(path, writer=PillowWriter(fps=fps))
        elif "%" in path:
            for k in range(F.shape[0]):
                update(k)
                fig.savefig(path % k)
        else:
            raise ValueError("path must end in .gif or contain a frame-number field such as '%03d'")
    return anim
