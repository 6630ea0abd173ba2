"""Input affinities (openTSNE's ``affinity`` module). Every matrix is computed by nembed's C++ core.

Each class holds ``P`` (a symmetric scipy CSR matrix summing to 1) and, when built from data, ``knn_index``
(used by :meth:`to_new` and by :meth:`nembed.TSNEEmbedding.transform`).
"""
from __future__ import annotations

import logging
import math
from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np
import scipy.sparse as sp

from . import _core
from ._utils import (as_csr, as_float32_matrix, csr_from_parts, csr_parts, float32_overflow, handle_sigint,
                     resolve_n_jobs)
from .nearest_neighbors import KNNIndex, PrecomputedDistanceMatrix, PrecomputedNeighbors, get_knn_index

__all__ = ["Affinities", "PerplexityBasedNN", "MultiscaleMixture", "Multiscale", "FixedSigmaNN", "Uniform",
           "PrecomputedAffinities"]


log = logging.getLogger(__name__)


class Affinities:
    """Base class: ``P`` (scipy CSR, symmetric, sums to 1) and an optional ``knn_index``."""

    def __init__(self, verbose: bool = False):
        self.verbose = verbose
        self.P: Optional[sp.csr_matrix] = None
        self.knn_index: Any = None

    def to_new(self, data, return_distances: bool = False):
        """Affinities of new points to the reference points (N_new x N_ref, rows summing to 1)."""
        raise TypeError(f"{type(self).__name__} does not support adding new points")

    @property
    def n_samples(self) -> int:
        if self.knn_index is None:
            raise RuntimeError("`knn_index` is not set!")
        return int(self.knn_index.n_samples)


def _check_sources(data, knn_index) -> None:
    if data is None and knn_index is None:
        raise ValueError("At least one of the parameters `data` or `knn_index` must be specified!")
    if data is not None and knn_index is not None:
        raise ValueError("Both `data` or `knn_index` were specified! Please pass only one.")


def _neighbors(data, knn_index, k: int, method, metric, metric_params, n_jobs, random_state, verbose,
               knn_kwargs=None):
    """(knn_index, indices, distances): the given index built as it is (its own k, openTSNE), or a new index over
    `data` with k neighbours (`metric="precomputed"`: `data` is a square distance matrix)."""
    _check_sources(data, knn_index)
    if knn_index is not None:
        idx, dst = knn_index.build()
        return knn_index, np.ascontiguousarray(idx), np.ascontiguousarray(dst)
    if metric == "precomputed":
        index = PrecomputedDistanceMatrix(data, k, n_jobs=n_jobs)
    else:
        index = get_knn_index(data, method, k, metric, metric_params, n_jobs, random_state, verbose, knn_kwargs)
    idx, dst = index.build()
    return index, np.ascontiguousarray(idx), np.ascontiguousarray(dst)


def _n_samples(data, knn_index) -> int:
    if knn_index is not None:
        return int(knn_index.n_samples)
    return int(np.shape(data)[0])


def _check_positive(perplexity) -> float:
    if isinstance(perplexity, bool) or not isinstance(perplexity, (int, float, np.number)) \
            or not math.isfinite(perplexity) or perplexity <= 0:
        raise ValueError(f"perplexity must be positive, got {perplexity!r}")
    return float(perplexity)


def _float32_distances(idx, dst):
    """The neighbour distances as the affinities take them (float32). A float64 search (scikit-learn's, below 1000
    points) can return distances beyond float32's range: those name the point they lead to, the one most often at
    the end of such a distance (a row far from the rest is every other point's)."""
    out, bad = float32_overflow(dst)
    if bad is not None:
        far = int(np.bincount(np.concatenate([idx[bad].ravel(), np.nonzero(bad)[0]])).argmax())
        raise ValueError(f"neighbour distances: point {far} lies {float(np.max(dst[bad])):.3g} from its neighbours, "
                         "beyond float32's range (3.4e38) in which the affinities take distances; rescale the data, "
                         "or remove the rows far from the rest")
    return out


def _gaussian(idx, dst, n_reference, perplexities, mode, symmetrize, n_jobs):
    """Perplexity-calibrated Gaussian affinities on the given neighbours (joint when symmetrize, else
    row-normalised)."""
    idx = np.ascontiguousarray(idx, dtype=np.int32)
    dst = _float32_distances(idx, np.asarray(dst))
    parts = _core.gaussian_affinities(idx, dst, int(n_reference),
                                      [float(p) for p in perplexities], mode, bool(symmetrize),
                                      resolve_n_jobs(n_jobs), handle_sigint=handle_sigint())
    P = csr_from_parts(parts, (np.shape(idx)[0], int(n_reference)))
    return P


def _joint(P: sp.csr_matrix, symmetrize: bool) -> sp.csr_matrix:
    """openTSNE's pair-wise normalisation: without symmetrisation the conditional P is scaled to sum 1 too."""
    return P if symmetrize else (P / P.sum()).tocsr()


def _query(knn_index, data, k: int):
    if knn_index is None or not hasattr(knn_index, "query"):
        raise TypeError("these affinities were built without a queryable kNN index")
    return knn_index.query(data, int(k))


class PerplexityBasedNN(Affinities):
    """Gaussian affinities calibrated to a perplexity on the k nearest neighbours (openTSNE's semantics).

    Parameters
    ----------
    data : array_like or sparse matrix of shape (n_samples, n_features), optional
        Data (or a square distance matrix with ``metric="precomputed"``); None when `knn_index` is given.
    perplexity : float
        Effective number of neighbours. Above the k neighbours it is lowered to k / 3 (a logged warning); the
        value used is ``effective_perplexity_``.
    method : str or KNNIndex
        kNN method (see ``nembed.nearest_neighbors.get_knn_index``).
    metric : str
    metric_params : dict, optional
    symmetrize : bool
        True: P = (P + P^T) / 2N; False: the conditional P / N.
    n_jobs : int
    random_state : int, RandomState or None
    verbose : bool
    k_neighbors : "auto" or int
        "auto": min(N - 1, floor(3 * perplexity)).
    knn_kwargs : dict, optional
        Keyword arguments of the kNN index.
    knn_index : KNNIndex, PrecomputedNeighbors or PrecomputedDistanceMatrix, optional
        Used as it is (its own k) instead of `data`.
    """

    def __init__(self, data=None, perplexity: float = 30, method: Union[str, KNNIndex] = "auto",
                 metric: str = "euclidean", metric_params: Optional[dict] = None, symmetrize: bool = True,
                 n_jobs: int = 1, random_state=None, verbose: bool = False, k_neighbors: Union[str, int] = "auto",
                 knn_kwargs: Optional[dict] = None, knn_index=None):
        super().__init__(verbose=verbose)
        _check_sources(data, knn_index)
        perplexity_value = _check_positive(perplexity)
        if knn_index is None:
            n = _n_samples(data, None)
            if n < 2:
                raise ValueError(f"perplexity-based affinities need at least 2 points, got {n}")
            if isinstance(k_neighbors, str):
                if k_neighbors != "auto":
                    raise ValueError(f"k_neighbors must be 'auto' or a positive integer, got {k_neighbors!r}")
                k = min(n - 1, int(3 * perplexity_value))
            else:
                k = int(k_neighbors)
                if k < 1 or k >= n:
                    raise ValueError(f"k_neighbors must be between 1 and N - 1 = {n - 1}, got {k_neighbors!r}")
            k = max(k, 1)
            effective = self.check_perplexity(perplexity_value, k)
            if k > int(3 * effective):
                log.warning("The k_neighbors value is over 3 times larger than the perplexity value. This may "
                            "result in an unnecessary slowdown.")
        else:
            effective = self.check_perplexity(perplexity_value, knn_index.k)
            k = None
        self.knn_index, self._neighbors, self._distances = _neighbors(
            data, knn_index, k, method, metric, metric_params, n_jobs, random_state, verbose, knn_kwargs)
        self.n_jobs = n_jobs
        self.symmetrize = bool(symmetrize)
        self.P = _joint(_gaussian(self._neighbors, self._distances, self._neighbors.shape[0], [effective],
                                  "mixture", self.symmetrize, n_jobs), self.symmetrize)
        self.perplexity = perplexity
        self.effective_perplexity_ = effective
        self.knn_kwargs = knn_kwargs

    @staticmethod
    def check_perplexity(perplexity: float, k_neighbors) -> float:
        """openTSNE's rule: a perplexity above the number of neighbours becomes k_neighbors / 3 (logged)."""
        perplexity = _check_positive(perplexity)
        if perplexity > k_neighbors:
            old, perplexity = perplexity, k_neighbors / 3
            log.warning("Perplexity value %d is too high. Using perplexity %.2f instead" % (old, perplexity))
        return perplexity

    def set_perplexity(self, new_perplexity: float) -> None:
        """Recomputes P with another perplexity on the stored neighbours (perplexity annealing).

        Raises
        ------
        RuntimeError
            When the perplexity exceeds the neighbours computed (a new object is needed).
        """
        if new_perplexity == self.perplexity:
            return
        effective = self.check_perplexity(new_perplexity, np.inf)
        k_max = self._neighbors.shape[1]
        if effective > k_max:
            raise RuntimeError(f"The desired perplexity `{effective:.2f}` is larger than the kNN graph allows. This "
                               "would need to recompute the nearest neighbors, which is not efficient. Please "
                               f"create a new `{type(self).__name__}` instance with the increased perplexity.")
        if 3 * effective > k_max:
            log.warning("The new perplexity is quite close to the computed number of nearest neighbors. The results "
                        f"may be unexpected. Consider creating a new `{type(self).__name__}` instance with the "
                        "increased perplexity.")
        k = max(1, min(k_max, int(3 * new_perplexity)))
        self.P = _joint(_gaussian(self._neighbors[:, :k], self._distances[:, :k], self._neighbors.shape[0],
                                  [effective], "mixture", self.symmetrize, self.n_jobs), self.symmetrize)
        self.perplexity = new_perplexity
        self.effective_perplexity_ = effective

    def to_new(self, data, perplexity: Optional[float] = None, return_distances: bool = False,
               k_neighbors: Union[str, int] = "auto"):
        """Row-normalised affinities of new points to the reference points (not symmetrised).

        Parameters
        ----------
        data : array_like of shape (n_new, n_features)
        perplexity : float, optional
            Defaults to this object's perplexity.
        return_distances : bool
            Also return the (indices, distances) of the neighbours.
        k_neighbors : "auto" or int
            "auto": min(N_ref, floor(3 * perplexity)).

        Returns
        -------
        scipy.sparse.csr_matrix of shape (n_new, n_ref), and (indices, distances) when asked
        """
        perplexity = _check_positive(self.perplexity if perplexity is None else perplexity)
        n_ref = self.n_samples
        k = max(1, min(n_ref, int(3 * perplexity))) if k_neighbors == "auto" else int(k_neighbors)
        effective = self.check_perplexity(perplexity, k)
        idx, dst = _query(self.knn_index, data, k)
        P = _gaussian(idx, dst, n_ref, [effective], "mixture", False, self.n_jobs)
        return (P, idx, dst) if return_distances else P


class MultiscaleMixture(Affinities):
    """Multiscale Gaussian mixture (Lee et al. 2015): one normalisation of sum_h sqrt(tau_h) exp(-d^2 tau_h / 2).

    Parameters
    ----------
    data : array_like or sparse matrix, optional
    perplexities : float or list of float
        Required. Each above (N - 1) / 3 is lowered to it (with a warning; duplicates then dropped); the values
        used are ``effective_perplexities_``.
    method, metric, metric_params, symmetrize, n_jobs, random_state, verbose, knn_kwargs, knn_index
        As in :class:`PerplexityBasedNN`.
    """

    _mode = "mixture"

    def __init__(self, data=None, perplexities=None, method="auto", metric="euclidean", metric_params=None,
                 symmetrize=True, n_jobs=1, random_state=None, verbose=False, knn_kwargs=None, knn_index=None):
        super().__init__(verbose=verbose)
        if perplexities is None:
            raise ValueError("`perplexities` must be specified!")
        _check_sources(data, knn_index)
        n = _n_samples(data, knn_index)
        effective = self.check_perplexities(perplexities, n)
        k = min(n - 1, int(3 * max(effective)))
        self.knn_index, self._neighbors, self._distances = _neighbors(
            data, knn_index, k, method, metric, metric_params, n_jobs, random_state, verbose, knn_kwargs)
        self.n_jobs = n_jobs
        self.symmetrize = bool(symmetrize)
        self.P = _joint(_gaussian(self._neighbors, self._distances, n, effective, self._mode, self.symmetrize,
                                  n_jobs), self.symmetrize)
        self.perplexities = perplexities
        self.effective_perplexities_ = effective
        self.knn_kwargs = knn_kwargs

    @staticmethod
    def check_perplexities(perplexities, n_samples: int) -> list:
        """Sorted perplexities, each above (N - 1) / 3 lowered to it (a warning) and duplicates of that dropped."""
        values = [perplexities] if isinstance(perplexities, (int, float, np.number)) else list(perplexities)
        if not values:
            raise ValueError("at least one perplexity is needed")
        usable = []
        for p in sorted(_check_positive(v) for v in values):
            c = float(_core.clamp_perplexity(int(n_samples), p))
            if c != p and c in usable:
                continue
            usable.append(c)
        return usable

    def set_perplexities(self, new_perplexities) -> None:
        """Recomputes P with other perplexities on the stored neighbours.

        Raises
        ------
        RuntimeError
            When the largest perplexity needs more neighbours than were computed.
        """
        if np.array_equal(self.perplexities, new_perplexities):
            return
        n = self._neighbors.shape[0]
        effective = self.check_perplexities(new_perplexities, n)
        k = min(n - 1, int(3 * max(effective)))
        if k > self._neighbors.shape[1]:
            raise RuntimeError(f"The largest perplexity `{max(effective):.2f}` is larger than the initial one used. "
                               "This would need to recompute the nearest neighbors, which is not efficient. Please "
                               f"create a new `{type(self).__name__}` instance with the increased perplexity.")
        self.P = _joint(_gaussian(self._neighbors[:, :k], self._distances[:, :k], n, effective, self._mode,
                                  self.symmetrize, self.n_jobs), self.symmetrize)
        self.perplexities = new_perplexities
        self.effective_perplexities_ = effective

    def to_new(self, data, perplexities=None, return_distances: bool = False):
        """Row-normalised affinities of new points to the reference points (k = min(N_ref - 1, 3 max perplexity))."""
        perplexities = self.perplexities if perplexities is None else perplexities
        n_ref = self.n_samples
        effective = self.check_perplexities(perplexities, n_ref)
        k = max(1, min(n_ref - 1, int(3 * max(effective))))
        idx, dst = _query(self.knn_index, data, k)
        P = _gaussian(idx, dst, n_ref, effective, self._mode, False, self.n_jobs)
        return (P, idx, dst) if return_distances else P


class Multiscale(MultiscaleMixture):
    """Mean of separately normalised single-scale Gaussian rows (openTSNE's ``Multiscale``, FIt-SNE's
    ``perplexity_list``), each scale calibrated on its own.

    Parameters are those of :class:`MultiscaleMixture`.
    """

    _mode = "average"


class _KnnAffinities(Affinities):
    """Shared construction of affinities defined on a fixed number k of neighbours."""

    def _build(self, data, knn_index, k, method, metric, metric_params, n_jobs, random_state, verbose,
               knn_kwargs=None):
        _check_sources(data, knn_index)
        n = _n_samples(data, knn_index)
        if n < 2:
            raise ValueError(f"at least 2 samples are needed, got {n}")
        if knn_index is None:
            if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
                raise ValueError(f"k must be a positive integer, got {k!r}")
            if k >= n:
                raise ValueError(f"`k` ({k}) cannot be larger than N-1 ({n}).")
        self.n_jobs = n_jobs
        self.knn_index, idx, dst = _neighbors(data, knn_index, int(k), method, metric, metric_params, n_jobs,
                                              random_state, verbose, knn_kwargs)
        self.k = int(idx.shape[1])
        return n, idx, dst

    def _query(self, data, k):
        n_ref = self.n_samples
        if k is not None and int(k) >= n_ref:
            raise ValueError(f"`k` ({k}) cannot be larger than the number of reference samples ({n_ref}).")
        idx, dst = _query(self.knn_index, data, self.k if k is None else int(k))
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

    def __init__(self, data=None, sigma: Optional[float] = None, k: int = 30, method="auto", metric="euclidean",
                 metric_params=None, symmetrize: bool = True, n_jobs: int = 1, random_state=None,
                 verbose: bool = False, knn_kwargs: Optional[dict] = None, knn_index=None):
        super().__init__(verbose=verbose)
        if sigma is None:
            raise ValueError("`sigma` must be specified!")
        if not isinstance(sigma, (int, float, np.number)) or not math.isfinite(sigma) or sigma <= 0:
            raise ValueError(f"sigma must be a positive number, got {sigma!r}")
        self.sigma = float(sigma)
        self.symmetrize = bool(symmetrize)
        n, idx, dst = self._build(data, knn_index, k, method, metric, metric_params, n_jobs, random_state, verbose,
                                  knn_kwargs)
        parts = _core.fixed_sigma_affinities(idx, dst, n, self.sigma, self.symmetrize, resolve_n_jobs(n_jobs))
        self.P = csr_from_parts(parts, (n, n))

    def to_new(self, data, k: Optional[int] = None, sigma: Optional[float] = None, return_distances: bool = False):
        """Row-normalised affinities of new points to the reference points (N_new x N_ref)."""
        sigma = self.sigma if sigma is None else float(sigma)
        n_ref, idx, dst = self._query(data, k)
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
                 knn_kwargs: Optional[dict] = None, knn_index=None):
        super().__init__(verbose=verbose)
        if symmetrize is True:
            symmetrize = "max"
        elif symmetrize is False:
            symmetrize = "none"
        if symmetrize not in ("max", "mean", "none"):
            raise ValueError(f"symmetrize must be True, False, 'max', 'mean' or 'none', got {symmetrize!r}")
        self.symmetrize = symmetrize
        n, idx, dst = self._build(data, knn_index, k_neighbors, method, metric, metric_params, n_jobs,
                                  random_state, verbose, knn_kwargs)
        parts = _core.uniform_affinities(idx, dst, n, symmetrize, False, resolve_n_jobs(n_jobs))
        self.P = csr_from_parts(parts, (n, n))

    def to_new(self, data, k_neighbors: Optional[int] = None, return_distances: bool = False):
        """Affinities of new points: 1/k on each of their k nearest reference points."""
        n_ref, idx, dst = self._query(data, k_neighbors)
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

    def to_new(self, data, return_distances: bool = False):
        raise RuntimeError("Precomputed affinity matrices cannot be queried.")
