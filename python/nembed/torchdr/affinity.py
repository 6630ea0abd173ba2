"""TorchDR 0.5's affinities (``torchdr.affinity``) computed by nembed's C++ core.

Each class takes TorchDR's parameters under TorchDR's names and defaults and is called like TorchDR's:
``aff(X)`` returns the affinity matrix of the rows of ``X``. Differences, all in the output types:

- dense affinities (``SymmetricEntropicAffinity``, ``SinkhornAffinity``, ``NormalizedGaussianAffinity``,
  ``NormalizedStudentAffinity``, ``SelfTuningAffinity``, ``MAGICAffinity``) return an (N, N) float64 numpy array;
- sparse ones (``EntropicAffinity``, ``UMAPAffinity`` with ``sparsity=True``, the default) return an (N, N)
  ``scipy.sparse.csr_matrix`` where TorchDR returns ``(values, indices)`` of shape (N, k); ``return_indices`` is
  accepted and ignored (the CSR matrix holds the indices). With ``log=True`` the CSR values are log-affinities.

Everything runs on the CPU: ``device`` must be ``"auto"`` or ``"cpu"``; ``backend`` (None, "keops", "faiss") does
not change the result and is accepted for compatibility; the neighbour search is exact. Sparse affinities read the
data as float32 (nembed's neighbour search), dense ones as float64. ``n_jobs`` (an addition) sets the threads.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import numpy as np

from .. import _core
from .._utils import as_float32_matrix, csr_from_parts, handle_sigint, resolve_n_jobs

__all__ = ["EntropicAffinity", "SymmetricEntropicAffinity", "SinkhornAffinity", "NormalizedGaussianAffinity",
           "NormalizedStudentAffinity", "SelfTuningAffinity", "MAGICAffinity", "UMAPAffinity"]

_METRICS = ("sqeuclidean", "euclidean", "manhattan", "angular")


def _checked(X: Any, name: str) -> np.ndarray:
    import scipy.sparse as sp
    if sp.issparse(X):
        raise TypeError(f"{name}: sparse input is not supported; pass a dense array")
    if hasattr(X, "detach") and hasattr(X, "cpu"):  # a torch tensor
        X = X.detach().cpu().numpy()
    arr = np.asarray(X)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (n_samples, n_features), got shape {arr.shape}")
    if arr.shape[0] < 2 or arr.shape[1] < 1:
        raise ValueError(f"{name}: needs at least 2 samples with at least 1 feature, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return arr


def _as_float32(X: Any, name: str = "X") -> np.ndarray:
    return as_float32_matrix(_checked(X, name), name)


def _as_float64(X: Any, name: str = "X") -> np.ndarray:
    return np.ascontiguousarray(_checked(X, name), dtype=np.float64)


def _normalization_dim(dim: Union[None, int, Tuple[int, ...]]) -> str:
    if dim is None:
        return "none"
    if isinstance(dim, (int, np.integer)) and not isinstance(dim, bool) and int(dim) in (0, 1):
        return str(int(dim))
    if isinstance(dim, (tuple, list)) and sorted(int(d) for d in dim) == [0, 1]:
        return "0,1"
    raise ValueError(f"normalization_dim must be None, 0, 1 or (0, 1), got {dim!r}")


class _Affinity:
    """Common parameters of TorchDR's ``Affinity``: metric, zero_diag, device, backend, verbose."""

    def __init__(self, metric: str = "sqeuclidean", zero_diag: bool = True, device: str = "auto",
                 backend: Any = None, verbose: bool = False, compile: bool = False, n_jobs: int = 1):
        if not isinstance(metric, str) or metric.lower() not in _METRICS:
            raise ValueError(f"metric must be one of {_METRICS}, got {metric!r}")
        if device not in ("auto", "cpu", None):
            raise ValueError(f"device: nembed computes on the CPU ('auto' or 'cpu'), got {device!r}")
        if backend not in (None, "keops", "faiss") and type(backend).__name__ not in ("FaissConfig", "FaissPlanConfig"):
            raise ValueError(f"backend must be None, 'keops' or 'faiss', got {backend!r}")
        self.metric = metric.lower()
        self.zero_diag = bool(zero_diag)
        self.device = device
        self.backend = backend
        self.verbose = bool(verbose)
        self.compile = compile
        self.n_jobs = n_jobs

    def _threads(self) -> int:
        return resolve_n_jobs(self.n_jobs)


def _positive(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return v


def _int(value: Any, name: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value!r}")
    return int(value)


class EntropicAffinity(_Affinity):
    """TorchDR's EntropicAffinity: rows P_ij ∝ exp(−C_ij/ε_i) of entropy log(perplexity), each summing to 1/N.

    As TorchDR 0.5, the perplexity is truncated to an integer in [2, N − 2] (with a warning when that changes it) and
    with ``sparsity`` each row keeps its 3·perplexity smallest costs. Returns a scipy CSR matrix (N, N). ``eps_``
    holds the bandwidths ε_i after a call.
    """

    def __init__(self, perplexity: float = 30, max_iter: int = 1000, sparsity: bool = True,
                 metric: str = "sqeuclidean", zero_diag: bool = True, device: str = "auto", backend: Any = None,
                 verbose: bool = False, compile: bool = False, distributed: Union[bool, str] = "auto",
                 _pre_processed: bool = False, n_jobs: int = 1):
        super().__init__(metric, zero_diag, device, backend, verbose, compile, n_jobs)
        self.perplexity = _positive(perplexity, "perplexity")
        self.max_iter = _int(max_iter, "max_iter")
        self.sparsity = bool(sparsity)
        self.distributed = distributed

    def __call__(self, X: Any, log: bool = False, return_indices: bool = True):
        X = _as_float32(X)
        parts, eps, perp = _core.torchdr.entropic_affinity(X, self.perplexity, self.max_iter, self.sparsity,
                                                           self.metric, self.zero_diag, bool(log), self._threads(),
                                                           handle_sigint=handle_sigint())
        self.eps_ = eps
        self.perplexity_ = perp
        return csr_from_parts(parts, (X.shape[0], X.shape[0]))


class SymmetricEntropicAffinity(_Affinity):
    """TorchDR's SymmetricEntropicAffinity (SNEkhorn): P_ij = exp((μ_i + μ_j − 2C_ij)/(ε_i + ε_j)) / N, symmetric,
    rows of mass 1/N and entropy log(perplexity) + 1 (TorchDR's h), by dual ascent (Adam or SGD). Dense (N, N).
    ``eps_``, ``mu_`` are the duals of the returned matrix, ``n_iter_`` the last step."""

    def __init__(self, perplexity: float = 30, lr: float = 1e-1, eps_square: bool = True, tol: float = 1e-3,
                 max_iter: int = 500, check_interval: int = 50, optimizer: str = "Adam",
                 metric: str = "sqeuclidean", zero_diag: bool = True, device: str = "auto", backend: Any = None,
                 verbose: bool = False, compile: bool = False, _pre_processed: bool = False, n_jobs: int = 1):
        super().__init__(metric, zero_diag, device, backend, verbose, compile, n_jobs)
        self.perplexity = _positive(perplexity, "perplexity")
        self.lr = _positive(lr, "lr")
        self.eps_square = bool(eps_square)
        self.tol = _positive(tol, "tol")
        self.max_iter = _int(max_iter, "max_iter")
        self.check_interval = check_interval
        if not isinstance(optimizer, str) or optimizer.lower() not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'Adam' or 'SGD', got {optimizer!r}")
        self.optimizer = optimizer

    def __call__(self, X: Any, log: bool = False):
        X = _as_float64(X)
        P, eps, mu, n_iter = _core.torchdr.symmetric_entropic_affinity(
            X, self.perplexity, self.lr, self.eps_square, self.tol, self.max_iter, self.optimizer, self.metric,
            self.zero_diag, bool(log), self._threads(), handle_sigint=handle_sigint())
        self.eps_, self.mu_, self.n_iter_ = eps, mu, n_iter
        return P


class SinkhornAffinity(_Affinity):
    """TorchDR's SinkhornAffinity: the symmetric doubly stochastic P_ij = exp(f_i + f_j − C_ij/ε) / N (Student base
    kernel: C → log(1 + C)). Dense (N, N). ``dual_`` (f) and ``n_iter_`` after a call; pass ``init_dual`` to
    warm-start (TSNEkhorn does, with max_iter=5)."""

    def __init__(self, eps: float = 1.0, tol: float = 1e-5, max_iter: int = 1000, base_kernel: str = "gaussian",
                 metric: str = "sqeuclidean", zero_diag: bool = True, device: str = "auto", backend: Any = None,
                 verbose: bool = False, with_grad: bool = False, compile: bool = False,
                 _pre_processed: bool = False, n_jobs: int = 1):
        super().__init__(metric, zero_diag, device, backend, verbose, compile, n_jobs)
        self.eps = _positive(eps, "eps")
        self.tol = _positive(tol, "tol")
        self.max_iter = _int(max_iter, "max_iter")
        if base_kernel not in ("gaussian", "student"):
            raise ValueError(f"base_kernel must be 'gaussian' or 'student', got {base_kernel!r}")
        self.base_kernel = base_kernel
        if with_grad:
            raise ValueError("with_grad: nembed's SinkhornAffinity does not track gradients")
        self.with_grad = False

    def __call__(self, X: Any, log: bool = False, init_dual: Optional[Any] = None):
        X = _as_float64(X)
        if init_dual is not None:
            if hasattr(init_dual, "detach"):
                init_dual = init_dual.detach().cpu().numpy()
            init_dual = np.ascontiguousarray(init_dual, dtype=np.float64).ravel()
        P, dual, n_iter = _core.torchdr.sinkhorn_affinity(X, self.eps, self.tol, self.max_iter, self.base_kernel,
                                                          self.metric, self.zero_diag, init_dual, bool(log),
                                                          self._threads(), handle_sigint=handle_sigint())
        self.dual_, self.n_iter_ = dual, n_iter
        return P


class NormalizedGaussianAffinity(_Affinity):
    """TorchDR's NormalizedGaussianAffinity: exp(−C/σ) normalised along ``normalization_dim`` (None, 0, 1 or
    (0, 1); a single axis also divides by N). Dense (N, N)."""

    def __init__(self, sigma: float = 1.0, metric: str = "sqeuclidean", zero_diag: bool = True,
                 device: str = "auto", backend: Any = None, verbose: bool = False,
                 normalization_dim: Union[int, Tuple[int, ...], None] = (0, 1), compile: bool = False,
                 _pre_processed: bool = False, n_jobs: int = 1):
        super().__init__(metric, zero_diag, device, backend, verbose, compile, n_jobs)
        self.sigma = _positive(sigma, "sigma")
        self.normalization_dim = normalization_dim
        self._dim = _normalization_dim(normalization_dim)

    def __call__(self, X: Any, log: bool = False):
        return _core.torchdr.normalized_affinity(_as_float64(X), "gaussian", self.sigma, self._dim, self.metric,
                                                 self.zero_diag, bool(log), self._threads())


class NormalizedStudentAffinity(_Affinity):
    """TorchDR's NormalizedStudentAffinity: (1 + C/ν)^(−(ν + 1)/2) normalised along ``normalization_dim``."""

    def __init__(self, degrees_of_freedom: float = 1.0, metric: str = "sqeuclidean", zero_diag: bool = True,
                 device: str = "auto", backend: Any = None, verbose: bool = False,
                 normalization_dim: Union[int, Tuple[int, ...], None] = (0, 1), compile: bool = False,
                 _pre_processed: bool = False, n_jobs: int = 1):
        super().__init__(metric, zero_diag, device, backend, verbose, compile, n_jobs)
        self.degrees_of_freedom = _positive(degrees_of_freedom, "degrees_of_freedom")
        self.normalization_dim = normalization_dim
        self._dim = _normalization_dim(normalization_dim)

    def __call__(self, X: Any, log: bool = False):
        return _core.torchdr.normalized_affinity(_as_float64(X), "student", self.degrees_of_freedom, self._dim,
                                                 self.metric, self.zero_diag, bool(log), self._threads())


class SelfTuningAffinity(_Affinity):
    """TorchDR's SelfTuningAffinity: exp(−C_ij/(σ_i σ_j)), σ_i the K-th smallest cost of row i, normalised along
    ``normalization_dim`` (without the ÷ N). Dense (N, N)."""

    def __init__(self, K: int = 7, normalization_dim: Union[int, Tuple[int, ...], None] = (0, 1),
                 metric: str = "sqeuclidean", zero_diag: bool = True, device: str = "auto", backend: Any = None,
                 verbose: bool = False, compile: bool = False, _pre_processed: bool = False, n_jobs: int = 1):
        super().__init__(metric, zero_diag, device, backend, verbose, compile, n_jobs)
        self.K = _int(K, "K")
        self.normalization_dim = normalization_dim
        self._dim = _normalization_dim(normalization_dim)

    def __call__(self, X: Any, log: bool = False):
        return _core.torchdr.self_tuning_affinity(_as_float64(X), self.K, self._dim, self.metric, self.zero_diag,
                                                  bool(log), self._threads())


class MAGICAffinity(_Affinity):
    """TorchDR's MAGICAffinity: exp(−C_ij/σ_i), symmetrised by the mean, rows normalised to 1. Dense (N, N)."""

    def __init__(self, K: int = 7, metric: str = "sqeuclidean", zero_diag: bool = True, device: str = "auto",
                 backend: Any = None, verbose: bool = False, compile: bool = False, _pre_processed: bool = False,
                 n_jobs: int = 1):
        super().__init__(metric, zero_diag, device, backend, verbose, compile, n_jobs)
        self.K = _int(K, "K")

    def __call__(self, X: Any):
        return _core.torchdr.magic_affinity(_as_float64(X), self.K, self.metric, self.zero_diag, self._threads())


class UMAPAffinity(_Affinity):
    """TorchDR's UMAPAffinity: P_ij = exp(−(C_ij − ρ_i)/σ_i) with Σ_j P_ij = log2(n_neighbors) over the
    n_neighbors − 1 nearest points, then the fuzzy union P + Pᵀ − P∘Pᵀ. Returns a scipy CSR matrix (N, N);
    ``rho_`` and ``eps_`` (the σ_i) after a call."""

    def __init__(self, n_neighbors: int = 30, max_iter: int = 1000, sparsity: bool = True,
                 metric: str = "sqeuclidean", zero_diag: bool = True, device: str = "auto", backend: Any = None,
                 verbose: bool = False, compile: bool = False, symmetrize: bool = True,
                 distributed: Union[bool, str] = "auto", input_layout: str = "replicated",
                 _pre_processed: bool = False, n_jobs: int = 1):
        super().__init__(metric, zero_diag, device, backend, verbose, compile, n_jobs)
        self.n_neighbors = _int(n_neighbors, "n_neighbors", low=2)
        self.max_iter = _int(max_iter, "max_iter")
        self.sparsity = bool(sparsity)
        self.symmetrize = bool(symmetrize)
        self.distributed = distributed
        if input_layout != "replicated":
            raise ValueError(f"input_layout: only 'replicated' is supported, got {input_layout!r}")
        self.input_layout = input_layout

    def __call__(self, X: Any, return_indices: bool = True):
        X = _as_float32(X)
        parts, rho, eps = _core.torchdr.umap_affinity(X, self.n_neighbors, self.max_iter, self.sparsity, self.metric,
                                                      self.zero_diag, self.symmetrize, self._threads(),
                                                      handle_sigint=handle_sigint())
        self.rho_, self.eps_ = rho, eps
        return csr_from_parts(parts, (X.shape[0], X.shape[0]))
