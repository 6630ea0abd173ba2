"""Initial layouts (openTSNE's ``initialization`` module), computed by nembed's C++ core."""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from . import _core
from ._utils import as_csr, as_float32_matrix, as_float64_matrix, csr_parts, resolve_n_jobs, resolve_seed

__all__ = ["pca", "spectral", "random", "rescale", "jitter", "median", "weighted_mean"]


def rescale(x: Any, inplace: bool = False, target_std: float = 1e-4) -> np.ndarray:
    """Scales `x` so that its first column has standard deviation `target_std` (openTSNE's rescale).

    Parameters
    ----------
    x : array_like of shape (n_samples, n_components)
    inplace : bool
        Write into `x` (which must then be a float64 array).
    target_std : float
        Standard deviation of the first coordinate afterwards.

    Returns
    -------
    np.ndarray
    """
    out = _core.rescale(as_float64_matrix(x, "x"), float(target_std))
    if inplace:
        x[...] = out
        return x
    return out


def jitter(x: Any, inplace: bool = False, scale: float = 0.01, random_state=None) -> np.ndarray:
    """Adds Gaussian noise with standard deviation ``scale * std(x[:, 0])`` (openTSNE's jitter)."""
    out = _core.jitter(as_float64_matrix(x, "x"), float(scale), resolve_seed(random_state))
    if inplace:
        x[...] = out
        return x
    return out


def pca(X: Any, n_components: int = 2, svd_solver: str = "auto", random_state=None, verbose: bool = False,
        add_jitter: bool = True, n_jobs: int = 1) -> np.ndarray:
    """PCA initialisation: the first `n_components` principal components, rescaled to std 1e-4 (+ jitter).

    Parameters
    ----------
    X : array_like of shape (n_samples, n_features)
    n_components : int
    svd_solver : str
        Ignored (nembed uses one eigensolver); kept for openTSNE compatibility.
    random_state : int, RandomState or None
        Seeds the jitter.
    verbose : bool
        Unused.
    add_jitter : bool
        Add openTSNE's small jitter (breaks ties between identical points).
    n_jobs : int
        Threads.

    Returns
    -------
    np.ndarray of shape (n_samples, n_components), float64
    """
    if sp.issparse(X):
        return _sparse_pca(X, int(n_components), add_jitter, random_state)
    return _core.pca_init(as_float32_matrix(X), int(n_components), bool(add_jitter), resolve_seed(random_state),
                          resolve_n_jobs(n_jobs))


def _sparse_pca(X, n_components: int, add_jitter: bool, random_state) -> np.ndarray:
    """PCA of sparse data without densifying (as scikit-learn's PCA does for sparse input): the leading singular
    vectors of the implicitly centred matrix, then openTSNE's rescale and jitter."""
    from scipy.sparse.linalg import LinearOperator, svds
    M = sp.csr_matrix(X, dtype=np.float64)
    n, d = M.shape
    if n < 2 or d < 1:
        raise ValueError(f"pca: need at least 2 samples and 1 feature, got shape {M.shape}")
    if not np.isfinite(M.data).all():
        raise ValueError("pca input: sparse X contains non-finite values")
    if n_components < 1 or n_components >= min(n, d):
        raise ValueError(f"pca of sparse data: n_components must be between 1 and min(n_samples, n_features) - 1 "
                         f"= {min(n, d) - 1}, got {n_components}")
    mu = np.asarray(M.mean(axis=0)).ravel()
    ones = np.ones(n)
    op = LinearOperator((n, d), dtype=np.float64,
                        matvec=lambda v: M @ np.ravel(v) - ones * (mu @ np.ravel(v)),
                        rmatvec=lambda v: M.T @ np.ravel(v) - mu * np.sum(v),
                        matmat=lambda V: M @ V - np.outer(ones, mu @ V),
                        rmatmat=lambda V: M.T @ V - np.outer(mu, ones @ V))
    # A fixed start vector: the same data gives the same components.
    v0 = np.random.RandomState(0).uniform(-1, 1, min(n, d))
    U, S, _ = svds(op, k=n_components, v0=v0)
    order = np.argsort(S)[::-1]
    U, S = U[:, order], S[order]
    # scikit-learn's sign convention (svd_flip): the largest |entry| of each column of U is positive.
    signs = np.sign(U[np.argmax(np.abs(U), axis=0), np.arange(U.shape[1])])
    signs[signs == 0] = 1
    Y = np.ascontiguousarray(U * S * signs, dtype=np.float64)
    Y = _core.rescale(Y, 1e-4)
    if add_jitter:
        Y = _core.jitter(Y, 0.01, resolve_seed(random_state))
    return Y


def spectral(A: Any, n_components: int = 2, tol: float = 1e-4, max_iter: Any = None, random_state=None,
             verbose: bool = False, add_jitter: bool = True) -> np.ndarray:
    """Spectral initialisation from a symmetric affinity matrix (leading non-trivial eigenvectors of D^-1 A).

    Parameters
    ----------
    A : sparse or dense (n_samples, n_samples) matrix
    n_components : int
    tol, max_iter
        Accepted for openTSNE compatibility; the C++ solver uses its own defaults (tol 1e-4).
    random_state : int, RandomState or None
    verbose : bool
    add_jitter : bool

    Returns
    -------
    np.ndarray of shape (n_samples, n_components)
    """
    M = as_csr(A, name="A")
    if M.shape[0] != M.shape[1]:
        raise ValueError(f"spectral: the affinity matrix must be square, got {M.shape}")
    return _core.spectral_init(*csr_parts(M), M.shape[0], int(n_components), bool(add_jitter),
                               resolve_seed(random_state))


def random(n_samples: Any, n_components: int = 2, random_state=None, verbose: bool = False) -> np.ndarray:
    """Gaussian random layout with standard deviation 1e-4; `n_samples` may be an int or a data matrix."""
    n = n_samples.shape[0] if hasattr(n_samples, "shape") else int(n_samples)
    return _core.random_init(int(n), int(n_components), resolve_seed(random_state), 1e-4)


def median(embedding: Any, neighbors: Any, verbose: bool = False) -> np.ndarray:
    """Each new point at the coordinate-wise median of its neighbours' positions in `embedding`."""
    ref = as_float64_matrix(embedding)
    idx = np.ascontiguousarray(neighbors, dtype=np.int32)
    return _core.median_init(ref, idx, np.zeros(idx.shape, dtype=np.float32), weighted=False)


def weighted_mean(X: Any, embedding: Any, neighbors: Any, distances: Any, verbose: bool = False) -> np.ndarray:
    """Each new point at the inverse-distance weighted mean of its neighbours' positions (`X` is unused)."""
    ref = as_float64_matrix(embedding)
    idx = np.ascontiguousarray(neighbors, dtype=np.int32)
    return _core.median_init(ref, idx, np.ascontiguousarray(distances, dtype=np.float32), weighted=True)
