"""Nearest-neighbour indices (openTSNE's ``nearest_neighbors`` module) over nembed's C++ kNN backends."""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from . import _core
from ._utils import as_float32_matrix, handle_sigint, resolve_n_jobs, resolve_seed

__all__ = ["KNNIndex", "Exact", "HNSW", "Annoy", "PrecomputedNeighbors", "PrecomputedDistanceMatrix", "get_knn_index",
           "NNDescent", "Sklearn"]


class KNNIndex:
    """A nearest-neighbour index over reference data (openTSNE's ``KNNIndex`` interface).

    Parameters
    ----------
    data : array_like of shape (n_samples, n_features)
        Reference points; converted to float32 (no copy when already C-ordered float32).
    k : int
        Neighbours returned by :meth:`build` (self excluded).
    metric : str
        ``"euclidean"``, ``"cosine"`` or ``"inner_product"``.
    metric_params : dict, optional
        Not supported (must be None or empty).
    n_jobs : int
        Threads; ``-1`` means all cores.
    random_state : int, RandomState or None
        Seeds HNSW's level generator (reproducible with one thread).
    verbose : bool
        Unused; kept for openTSNE compatibility.
    """

    method = "auto"

    def __init__(self, data, k: int, metric: str = "euclidean", metric_params: Optional[dict] = None,
                 n_jobs: int = 1, random_state=None, verbose: bool = False):
        if metric_params:
            raise ValueError("metric_params are not supported by nembed's kNN indices")
        if callable(metric):
            raise ValueError("callable metrics are not supported; use 'euclidean', 'cosine' or 'inner_product'")
        self.data = data
        self.k = int(k)
        self.metric = metric
        self.metric_params = metric_params
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self._holder = None

    @classmethod
    def _from_holder(cls, holder, k: int, n_jobs: int = 1) -> "KNNIndex":
        obj = cls.__new__(cls)
        obj.data = None
        obj.k = int(k)
        obj.metric = holder.metric
        obj.metric_params = None
        obj.n_jobs = n_jobs
        obj.random_state = int(holder.seed)
        obj.verbose = False
        obj._holder = holder
        obj.method = holder.method
        return obj

    def build(self) -> Tuple[np.ndarray, np.ndarray]:
        """Builds the index; returns (indices, distances) of each reference point's k neighbours (self excluded)."""
        X = as_float32_matrix(self.data, "data")
        self._holder = _core.KnnIndex.build(X, method=self.method, metric=self.metric,
                                            n_threads=resolve_n_jobs(self.n_jobs),
                                            seed=resolve_seed(self.random_state), handle_sigint=handle_sigint())
        return self._holder.self_neighbors(self.k, handle_sigint=handle_sigint())

    def query(self, query, k: int) -> Tuple[np.ndarray, np.ndarray]:
        """k nearest reference points of each query row: (indices int32, distances float32)."""
        if self._holder is None:
            raise RuntimeError("the index must be built before it is queried")
        Q = as_float32_matrix(query, "query")
        return self._holder.query(Q, int(k), handle_sigint=handle_sigint())

    @property
    def n_samples(self) -> int:
        return int(self._holder.n_points) if self._holder is not None else len(self.data)

    def __getstate__(self):
        state = self.__dict__.copy()
        holder = state.pop("_holder")
        if holder is not None:
            state["_rebuild"] = dict(data=holder.data, method=holder.method, metric=holder.metric, seed=int(holder.seed))
        return state

    def __setstate__(self, state):
        rebuild = state.pop("_rebuild", None)
        self.__dict__.update(state)
        self._holder = None
        if rebuild is not None:
            # HNSW is rebuilt with the same seed; one thread makes it the same index.
            self._holder = _core.KnnIndex.build(rebuild["data"], method=rebuild["method"], metric=rebuild["metric"],
                                                n_threads=1, seed=rebuild["seed"])


class Exact(KNNIndex):
    """Exact search (register-tiled brute force; the default up to N^2 * dims = 4e11)."""
    method = "exact"


class HNSW(KNNIndex):
    """Approximate search with hnswlib."""
    method = "hnsw"


class Annoy(HNSW):
    """openTSNE's default approximate index; nembed answers with HNSW (Annoy is not linked)."""


class PrecomputedNeighbors:
    """User-supplied neighbours: ``indices`` and ``distances`` arrays of shape (n_samples, k).

    Rows may list the point itself; it is dropped (see the C++ ``neighbors_from_arrays``).
    """

    def __init__(self, neighbors, distances):
        idx = np.ascontiguousarray(neighbors, dtype=np.int64)
        dst = np.ascontiguousarray(distances, dtype=np.float64)
        if idx.ndim != 2 or idx.shape != dst.shape:
            raise ValueError("PrecomputedNeighbors: neighbors and distances must be 2-D arrays of the same shape")
        self.indices, self.distances = _core.neighbors_from_arrays(idx, dst, idx.shape[0])
        self.k = self.indices.shape[1]
        self.n_samples = idx.shape[0]
        self._holder = None

    def build(self):
        return self.indices, self.distances

    def query(self, query, k):
        raise TypeError("precomputed neighbours cannot be queried for new points")


class PrecomputedDistanceMatrix:
    """Neighbours from a dense (n_samples x n_samples) distance matrix."""

    def __init__(self, distance_matrix, k: int, n_jobs: int = 1):
        D = np.ascontiguousarray(distance_matrix, dtype=np.float64)
        if D.ndim != 2:
            raise ValueError("the precomputed distance matrix must be 2-D")
        self.k = int(k)
        self.n_samples = D.shape[0]
        self.indices, self.distances = _core.neighbors_from_distance_matrix(D, self.k, resolve_n_jobs(n_jobs))
        self._holder = None

    def build(self):
        return self.indices, self.distances

    def query(self, query, k):
        """The k smallest entries of each row of `query`, the distances of new points to the reference points
        (n_new x n_samples), as openTSNE's PrecomputedDistanceMatrix.query."""
        D = np.asarray(query, dtype=np.float64)
        if D.ndim != 2 or D.shape[1] != self.n_samples:
            raise ValueError(f"query: expected distances to the {self.n_samples} reference points, got shape "
                             f"{D.shape}")
        neighbors = np.argsort(D, axis=1, kind="stable")[:, :int(k)]
        distances = np.take_along_axis(D, neighbors, axis=1)
        return np.ascontiguousarray(neighbors, dtype=np.int32), np.ascontiguousarray(distances, dtype=np.float32)


def get_knn_index(data, method: str, k: int, metric: str, metric_params=None, n_jobs: int = 1, random_state=None,
                  verbose: bool = False) -> KNNIndex:
    """The index class for ``method``: "auto", "exact", "approx"/"annoy"/"hnsw" (openTSNE's names)."""
    methods = {"auto": KNNIndex, "exact": Exact, "approx": HNSW, "annoy": HNSW, "hnsw": HNSW, "pynndescent": HNSW}
    if isinstance(method, KNNIndex):
        return method
    if method not in methods:
        raise ValueError(f"unknown neighbors method {method!r}; expected one of {sorted(methods)}")
    return methods[method](data, k, metric=metric, metric_params=metric_params, n_jobs=n_jobs,
                           random_state=random_state, verbose=verbose)


class NNDescent(KNNIndex):
    """Approximate search with pynndescent (an optional dependency), openTSNE's ``NNDescent``."""

    method = "pynndescent"
    # openTSNE 1.0.4's list (pynndescent's named distances).
    VALID_METRICS = ["euclidean", "l2", "sqeuclidean", "manhattan", "taxicab", "l1", "chebyshev", "linfinity",
                     "linfty", "linf", "minkowski", "seuclidean", "standardised_euclidean", "wminkowski",
                     "weighted_minkowski", "mahalanobis", "canberra", "cosine", "dot", "correlation", "haversine",
                     "braycurtis", "spearmanr", "tsss", "true_angular", "hellinger", "kantorovich", "wasserstein",
                     "wasserstein_1d", "wasserstein-1d", "kantorovich-1d", "kantorovich_1d", "circular_kantorovich",
                     "circular_wasserstein", "sinkhorn", "jensen-shannon", "jensen_shannon", "symmetric-kl",
                     "symmetric_kl", "symmetric_kullback_liebler", "hamming", "jaccard", "dice", "matching",
                     "kulsinski", "rogerstanimoto", "russellrao", "sokalsneath", "sokalmichener", "yule",
                     "bit_hamming", "bit_jaccard"]

    def __init__(self, data, k: int, metric: str = "euclidean", metric_params: Optional[dict] = None,
                 n_jobs: int = 1, random_state=None, verbose: bool = False, knn_kwargs: Optional[dict] = None):
        try:
            import pynndescent  # noqa: F401
        except ImportError:
            raise ImportError("NNDescent needs pynndescent: pip install pynndescent") from None
        self.data = data
        self.k = int(k)
        self.metric = metric
        self.metric_params = metric_params
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.knn_kwargs = knn_kwargs
        self._holder = None
        self.index = None

    def build(self) -> Tuple[np.ndarray, np.ndarray]:
        import pynndescent
        n = self.data.shape[0]
        n_build = self.k + 1 if self.k <= 15 else 15
        kwargs = {"n_trees": 5 + int(round(n ** 0.5 / 20)), "n_iters": max(5, int(round(np.log2(n)))),
                  "max_candidates": 60, **(self.knn_kwargs or {})}
        self.index = pynndescent.NNDescent(self.data, n_neighbors=n_build, metric=self.metric,
                                           metric_kwds=self.metric_params, random_state=self.random_state,
                                           n_jobs=self.n_jobs, verbose=bool(self.verbose), **kwargs)
        indices, distances = self.index.neighbor_graph
        if self.k > n_build - 1:
            indices, distances = self.index.query(self.data, k=self.k + 1)
        if (indices == -1).any():
            raise ValueError("pynndescent found too few neighbours for some points; use method='exact'")
        return np.ascontiguousarray(indices[:, 1:], dtype=np.int32), np.ascontiguousarray(distances[:, 1:],
                                                                                       dtype=np.float32)

    def query(self, query, k: int) -> Tuple[np.ndarray, np.ndarray]:
        if self.index is None:
            raise RuntimeError("the index must be built before it is queried")
        indices, distances = self.index.query(query, k=int(k))
        return np.ascontiguousarray(indices, dtype=np.int32), np.ascontiguousarray(distances, dtype=np.float32)

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[0])


class Sklearn(KNNIndex):
    """Exact search with scikit-learn's NearestNeighbors (an optional dependency), openTSNE's ``Sklearn``."""

    method = "sklearn"

    def __init__(self, data, k: int, metric: str = "euclidean", metric_params: Optional[dict] = None,
                 n_jobs: int = 1, random_state=None, verbose: bool = False, knn_kwargs: Optional[dict] = None):
        try:
            import sklearn.neighbors  # noqa: F401
        except ImportError:
            raise ImportError("Sklearn needs scikit-learn: pip install scikit-learn") from None
        self.data = data
        self.k = int(k)
        self.metric = metric
        self.metric_params = metric_params
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.knn_kwargs = knn_kwargs
        self._holder = None
        self.index = None

    def build(self) -> Tuple[np.ndarray, np.ndarray]:
        from sklearn.neighbors import NearestNeighbors
        self.index = NearestNeighbors(metric=self.metric, metric_params=self.metric_params, n_jobs=self.n_jobs,
                                      **(self.knn_kwargs or {}))
        self.index.fit(self.data)
        distances, indices = self.index.kneighbors(n_neighbors=self.k)
        return np.ascontiguousarray(indices, dtype=np.int32), np.ascontiguousarray(distances, dtype=np.float32)

    def query(self, query, k: int) -> Tuple[np.ndarray, np.ndarray]:
        if self.index is None:
            raise RuntimeError("the index must be built before it is queried")
        distances, indices = self.index.kneighbors(query, n_neighbors=int(k))
        return np.ascontiguousarray(indices, dtype=np.int32), np.ascontiguousarray(distances, dtype=np.float32)

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[0])
