"""Input affinities (openTSNE's ``affinity`` module). Every matrix is computed by nembed's C++ core.

Each class holds ``P`` (a symmetric scipy CSR matrix summing to 1) and, when built from data, ``knn_index``
(used by :meth:`to_new` and by :meth:`nembed.TSNEEmbedding.transform`).
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np
import scipy.sparse as sp

from . import _core
from ._utils import as_csr, as_float32_matrix, csr_from_parts, csr_parts, handle_sigint, resolve_n_jobs
from .nearest_neighbors import KNNIndex, PrecomputedDistanceMatrix, PrecomputedNeighbors, get_knn_index

__all__ = ["Affinities", "PerplexityBasedNN", "MultiscaleMixture", "Multiscale", "FixedSigmaNN", "Uniform",
           "PrecomputedAffinities"]


class Affinities:
    """Base class: ``P`` (scipy CSR, symmetric, sums to 1) and an optional ``knn_index``."""

    def __init__(self, verbose: bool = False):
        self.verbose = verbose
        self.P: Optional[sp.csr_matrix] = None
        self.knn_index: Any = None

    def to_new(self, data, return_distances: bool = False):
        """Affinities of new points to the reference points (N_new x N_ref, rows summing to 1)."""
        raise TypeError(f"{type(self).__name__} does not support adding new points")


def _neighbors(data, knn_index, k: int, method, metric, metric_params, n_jobs, random_state, verbose):
    """(knn_index, indices, distances) for the k nearest neighbours of each point."""
    if knn_index is not None:
        if data is not None:
            raise ValueError("pass either data or knn_index, not both")
        if isinstance(knn_index, (PrecomputedNeighbors, PrecomputedDistanceMatrix)):
            if knn_index.k < k:
                raise ValueError(f"the precomputed neighbours have k = {knn_index.k}, {k} are needed")
            idx, dst = knn_index.build()
            return knn_index, np.ascontiguousarray(idx[:, :k]), np.ascontiguousarray(dst[:, :k])
        if getattr(knn_index, "_holder", None) is not None:
            idx, dst = knn_index._holder.self_neighbors(k, handle_sigint=handle_sigint())
            return knn_index, idx, dst
        knn_index.k = k
        idx, dst = knn_index.build()
        return knn_index, idx, dst
    if data is None:
        raise ValueError("either data or knn_index must be given")
    if metric == "precomputed":
        index = PrecomputedDistanceMatrix(data, k, n_jobs=n_jobs)
        idx, dst = index.build()
        return index, idx, dst
    index = get_knn_index(data, method, k, metric, metric_params, n_jobs, random_state, verbose)
    idx, dst = index.build()
    return index, idx, dst


def _n_samples(data, knn_index) -> int:
    if knn_index is not None:
        return int(knn_index.n_samples)
    return int(np.shape(data)[0])


class PerplexityBasedNN(Affinities):
    """Gaussian affinities calibrated to a perplexity on the k = min(N - 1, 3 * perplexity) nearest neighbours.

    Parameters
    ----------
    data : array_like of shape (n_samples, n_features), optional
        Data (or a square distance matrix with ``metric="precomputed"``); None when `knn_index` is given.
    perplexity : float
        Effective number of neighbours; capped at (N - 1) / 3 with a warning.
    method : str or KNNIndex
        kNN method: "auto", "exact", "approx"/"hnsw"/"annoy".
    metric : str
        "euclidean", "cosine", "inner_product" or "precomputed".
    metric_params : dict, optional
        Not supported.
    symmetrize : bool
        True: P = (P + P^T) / 2N; False: the row-normalised conditional P (rows sum to 1).
    n_jobs : int
    random_state : int, RandomState or None
    verbose : bool
    k_neighbors : "auto" or int
        Must be "auto" or at least 3 * perplexity (nembed always uses min(N - 1, floor(3 * perplexity))).
    knn_index : KNNIndex or PrecomputedNeighbors, optional
        A built or unbuilt index to use instead of `data`.
    """

    def __init__(self, data=None, perplexity: float = 30, method: Union[str, KNNIndex] = "auto",
                 metric: str = "euclidean", metric_params: Optional[dict] = None, symmetrize: bool = True,
                 n_jobs: int = 1, random_state=None, verbose: bool = False, k_neighbors: Union[str, int] = "auto",
                 knn_index=None):
        super().__init__(verbose=verbose)
        self.n_jobs = n_jobs
        self.symmetrize = bool(symmetrize)
        self.perplexities = self._perplexities(perplexity)
        n = _n_samples(data, knn_index)
        self.perplexities = sorted({float(_core.clamp_perplexity(n, p)) for p in self.perplexities})
        k = int(_core.perplexity_neighbors(n, max(self.perplexities)))
        if k_neighbors != "auto" and int(k_neighbors) < k:
            raise ValueError(f"k_neighbors = {k_neighbors} is below 3 * perplexity = {k}")
        self.knn_index, idx, dst = _neighbors(data, knn_index, k, method, metric, metric_params, n_jobs,
                                              random_state, verbose)
        parts = _core.gaussian_affinities(idx, dst, n, self.perplexities, self._mode, self.symmetrize,
                                          resolve_n_jobs(n_jobs), handle_sigint=handle_sigint())
        self.P = csr_from_parts(parts, (n, n))

    _mode = "mixture"

    @property
    def perplexity(self) -> float:
        return self.perplexities[-1]

    @staticmethod
    def _perplexities(perplexity) -> list:
        values = list(perplexity) if isinstance(perplexity, Iterable) else [perplexity]
        if not values:
            raise ValueError("at least one perplexity is needed")
        for p in values:
            if not isinstance(p, (int, float, np.number)) or not math.isfinite(p) or p <= 0:
                raise ValueError(f"perplexity must be a positive number, got {p!r}")
        return [float(p) for p in values]

    @classmethod
    def _from_parts(cls, P: sp.csr_matrix, knn_index, perplexities: Sequence[float], n_jobs: int = 1):
        obj = cls.__new__(cls)
        Affinities.__init__(obj)
        obj.P = P
        obj.knn_index = knn_index
        obj.perplexities = list(perplexities)
        obj.n_jobs = n_jobs
        return obj

    def to_new(self, data, perplexity: Optional[float] = None, return_distances: bool = False):
        """Row-normalised affinities of new points to the reference points (not symmetrised).

        Parameters
        ----------
        data : array_like of shape (n_new, n_features)
        perplexity : float, optional
            Defaults to this object's perplexity; k = min(N_ref, floor(3 * perplexity)) neighbours are used.
        return_distances : bool
            Also return the (indices, distances) of the neighbours.

        Returns
        -------
        scipy.sparse.csr_matrix of shape (n_new, n_ref), and (indices, distances) when asked
        """
        if self.knn_index is None or getattr(self.knn_index, "_holder", None) is None:
            raise TypeError("these affinities were built without a queryable kNN index")
        perplexity = self.perplexity if perplexity is None else float(perplexity)
        n_ref = int(self.knn_index._holder.n_points)
        k = max(1, min(n_ref, int(math.floor(3 * perplexity))))
        idx, dst = self.knn_index.query(data, k)
        parts = _core.gaussian_affinities(idx, dst, n_ref, [perplexity], self._mode, False,
                                          resolve_n_jobs(self.n_jobs))
        P = csr_from_parts(parts, (idx.shape[0], n_ref))
        return (P, idx, dst) if return_distances else P


class MultiscaleMixture(PerplexityBasedNN):
    """Multiscale Gaussian mixture (Lee et al. 2015): one normalisation of sum_h sqrt(tau_h) exp(-d^2 tau_h / 2).

    Parameters are those of :class:`PerplexityBasedNN` with `perplexities` (a list) in place of `perplexity`.
    """

    def __init__(self, data=None, perplexities: Sequence[float] = (30,), method="auto", metric="euclidean",
                 metric_params=None, symmetrize=True, n_jobs=1, random_state=None, verbose=False, knn_index=None):
        super().__init__(data, perplexity=list(perplexities), method=method, metric=metric,
                         metric_params=metric_params, symmetrize=symmetrize, n_jobs=n_jobs,
                         random_state=random_state, verbose=verbose, knn_index=knn_index)


class Multiscale(PerplexityBasedNN):
    """Mean of separately normalised single-scale Gaussian rows (openTSNE's ``Multiscale``, FIt-SNE's
    ``perplexity_list``), each scale calibrated on its own.

    Parameters are those of :class:`MultiscaleMixture`.
    """

    _mode = "average"

    def __init__(self, data=None, perplexities: Sequence[float] = (30,), method="auto", metric="euclidean",
                 metric_params=None, symmetrize=True, n_jobs=1, random_state=None, verbose=False, knn_index=None):
        super().__init__(data, perplexity=list(perplexities), method=method, metric=metric,
                         metric_params=metric_params, symmetrize=symmetrize, n_jobs=n_jobs,
                         random_state=random_state, verbose=verbose, knn_index=knn_index)


class _KnnAffinities(Affinities):
    """Shared construction of affinities defined on a fixed number k of neighbours."""

    def _build(self, data, knn_index, k, method, metric, metric_params, n_jobs, random_state, verbose):
        n = _n_samples(data, knn_index)
        if n < 2:
            raise ValueError(f"at least 2 samples are needed, got {n}")
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if k >= n:
            raise ValueError(f"k = {k} must be below the number of samples ({n})")
        self.n_jobs = n_jobs
        self.k = int(k)
        self.knn_index, idx, dst = _neighbors(data, knn_index, self.k, method, metric, metric_params, n_jobs,
                                              random_state, verbose)
        return n, idx, dst

    def _query(self, data, k):
        if self.knn_index is None or getattr(self.knn_index, "_holder", None) is None:
            raise TypeError("these affinities were built without a queryable kNN index")
        n_ref = int(self.knn_index._holder.n_points)
        idx, dst = self.knn_index.query(data, min(int(k), n_ref))
        return n_ref, idx, dst


class FixedSigmaNN(_KnnAffinities):
    """Gaussian affinities exp(-d^2 / 2 sigma^2) with one bandwidth for all points, on k nearest neighbours.

    Parameters
    ----------
    data : array_like of shape (n_samples, n_features), optional
    sigma : float
        Kernel width (> 0).
    k : int
        Number of neighbours.
    method, metric, metric_params, n_jobs, random_state, verbose, knn_index
        As in :class:`PerplexityBasedNN`.
    symmetrize : bool
        True: (P + P^T) / 2N; False: the row-normalised conditional P.
    """

    def __init__(self, data=None, sigma: float = 1.0, k: int = 30, method="auto", metric="euclidean",
                 metric_params=None, symmetrize: bool = True, n_jobs: int = 1, random_state=None,
                 verbose: bool = False, knn_index=None):
        super().__init__(verbose=verbose)
        if not isinstance(sigma, (int, float, np.number)) or not math.isfinite(sigma) or sigma <= 0:
            raise ValueError(f"sigma must be a positive number, got {sigma!r}")
        self.sigma = float(sigma)
        self.symmetrize = bool(symmetrize)
        n, idx, dst = self._build(data, knn_index, k, method, metric, metric_params, n_jobs, random_state, verbose)
        parts = _core.fixed_sigma_affinities(idx, dst, n, self.sigma, self.symmetrize, resolve_n_jobs(n_jobs))
        self.P = csr_from_parts(parts, (n, n))

    def to_new(self, data, sigma: Optional[float] = None, k: Optional[int] = None, return_distances: bool = False):
        """Row-normalised affinities of new points to the reference points (N_new x N_ref)."""
        sigma = self.sigma if sigma is None else float(sigma)
        n_ref, idx, dst = self._query(data, self.k if k is None else k)
        parts = _core.fixed_sigma_affinities(idx, dst, n_ref, sigma, False, resolve_n_jobs(self.n_jobs))
        P = csr_from_parts(parts, (idx.shape[0], n_ref))
        return (P, idx, dst) if return_distances else P


class Uniform(_KnnAffinities):
    """Weight 1 on every kNN edge, symmetrised and normalised to sum 1 (openTSNE's ``Uniform``).

    Parameters
    ----------
    data : array_like of shape (n_samples, n_features), optional
    k_neighbors : int
        Number of neighbours.
    symmetrize : bool or {"max", "mean", "none"}
        True or "max": binary union of the kNN graph (openTSNE's default); "mean": (P + P^T) / 2;
        False or "none": the directed graph.
    method, metric, metric_params, n_jobs, random_state, verbose, knn_index
        As in :class:`PerplexityBasedNN`.
    """

    def __init__(self, data=None, k_neighbors: int = 30, method="auto", metric="euclidean", metric_params=None,
                 symmetrize: Union[bool, str] = True, n_jobs: int = 1, random_state=None, verbose: bool = False,
                 knn_index=None):
        super().__init__(verbose=verbose)
        if symmetrize is True:
            symmetrize = "max"
        elif symmetrize is False:
            symmetrize = "none"
        if symmetrize not in ("max", "mean", "none"):
            raise ValueError(f"symmetrize must be True, False, 'max', 'mean' or 'none', got {symmetrize!r}")
        self.symmetrize = symmetrize
        n, idx, dst = self._build(data, knn_index, k_neighbors, method, metric, metric_params, n_jobs,
                                  random_state, verbose)
        parts = _core.uniform_affinities(idx, dst, n, symmetrize, False, resolve_n_jobs(n_jobs))
        self.P = csr_from_parts(parts, (n, n))

    def to_new(self, data, k_neighbors: Optional[int] = None, return_distances: bool = False):
        """Affinities of new points: 1/k on each of their k nearest reference points."""
        n_ref, idx, dst = self._query(data, self.k if k_neighbors is None else k_neighbors)
        parts = _core.uniform_affinities(idx, dst, n_ref, "none", True, resolve_n_jobs(self.n_jobs))
        P = csr_from_parts(parts, (idx.shape[0], n_ref))
        return (P, idx, dst) if return_distances else P


class PrecomputedAffinities(Affinities):
    """User-supplied affinities (any non-negative square matrix), normalised to sum 1 when `normalize` is set.

    Parameters
    ----------
    affinities : array_like or sparse matrix of shape (n_samples, n_samples)
        Non-negative and finite. The diagonal is dropped (a point's affinity to itself has no role and would
        make the KL divergence infinite).
    normalize : bool
        Divide by the total so that P sums to 1.
    """

    def __init__(self, affinities, normalize: bool = True):
        super().__init__()
        P = as_csr(affinities, name="affinities")
        if P.shape[0] != P.shape[1]:
            raise ValueError(f"affinities must be a square matrix, got shape {P.shape}")
        parts = _core.precomputed_affinities(*csr_parts(P), P.shape[0], P.shape[1], bool(normalize), "none")
        self.P = csr_from_parts(parts, P.shape)
