"""Nearest-neighbour indices (openTSNE's ``nearest_neighbors`` module) over nembed's C++ kNN backends.

nembed's own indices (``KNNIndex`` = auto, ``Exact``/``BallTree``, ``HNSW``) run the C++ search for every metric
of ``VALID_METRICS`` (scipy's definitions, umap-learn's conventions for all-zero rows; docs/dropin.md "Metrics and
kNN back-ends"), on dense arrays or ``scipy.sparse`` matrices, with a Python callable metric as a slow exact path.
``Sklearn``, ``Annoy`` and ``NNDescent`` run scikit-learn, annoy and pynndescent as openTSNE 1.0.4 does (those
packages are optional: a clear ImportError names the one missing).
"""
from __future__ import annotations

import importlib
import importlib.util
import warnings
from typing import Optional, Tuple

import numpy as np
import scipy.sparse as sp

from . import _core
from ._utils import as_float32_matrix, handle_sigint, resolve_n_jobs, resolve_seed

__all__ = ["KNNIndex", "Exact", "BallTree", "HNSW", "Sklearn", "Annoy", "NNDescent", "PrecomputedNeighbors",
           "PrecomputedDistanceMatrix", "get_knn_index", "VALID_METRICS"]

#: The metric names nembed's C++ kNN accepts (aliases included).
VALID_METRICS = _core.metric_names().split(", ")

# knn_kwargs of nembed's HNSW: hnswlib's / openTSNE's names and ours.
_HNSW_KWARGS = {"M": "hnsw_m", "hnsw_m": "hnsw_m", "ef_construction": "hnsw_ef_construction",
                "hnsw_ef_construction": "hnsw_ef_construction", "ef": "hnsw_ef", "hnsw_ef": "hnsw_ef"}


def _metric_params(metric_params) -> dict:
    """metric_params (p, w, V/sigma, VI/vinv) as {name: list of floats} for the C++ side."""
    out = {}
    for name, value in (metric_params or {}).items():
        arr = np.asarray(value, dtype=np.float64)
        if name in ("VI", "vinv") and arr.ndim != 2:
            raise ValueError(f"metric_params: {name} must be a 2-D (n_features x n_features) matrix")
        out[str(name)] = [float(v) for v in arr.ravel()]
    return out


def _csr_parts(X, name: str):
    """(indptr int64, indices int32, values float32, n_rows, n_cols) of a scipy.sparse matrix (any format)."""
    M = sp.csr_matrix(X)
    if M.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D matrix")
    M = M.copy() if not M.has_canonical_format else M
    M.sum_duplicates()
    M.sort_indices()
    return (np.ascontiguousarray(M.indptr, dtype=np.int64), np.ascontiguousarray(M.indices, dtype=np.int32),
            np.ascontiguousarray(M.data, dtype=np.float32), int(M.shape[0]), int(M.shape[1]))


def _build_holder(data, method: str, metric: str, metric_params, n_threads: int, seed: int, knn_kwargs=None,
                  sigint: bool = False):
    hnsw = {}
    for key, value in (knn_kwargs or {}).items():
        if key not in _HNSW_KWARGS:
            raise ValueError(f"knn_kwargs: unknown argument {key!r} for nembed's kNN (expected one of "
                             f"{sorted(_HNSW_KWARGS)})")
        hnsw[_HNSW_KWARGS[key]] = int(value)
    hnsw.setdefault("hnsw_ef_construction", 200)
    params = _metric_params(metric_params)
    if sp.issparse(data):
        indptr, indices, values, n_rows, n_cols = _csr_parts(data, "data")
        return _core.knn_build_csr(indptr, indices, values, n_rows, n_cols, method=method, metric=metric,
                                   params=params, n_threads=n_threads, seed=seed, handle_sigint=sigint, **hnsw)
    X = as_float32_matrix(data, "data")
    return _core.knn_build_dense(X, method=method, metric=metric, params=params, n_threads=n_threads, seed=seed,
                                 handle_sigint=sigint, **hnsw)


def _rows(X):
    """Row accessor yielding 1-D float64 arrays (dense or sparse input) for a Python callable metric."""
    if sp.issparse(X):
        M = sp.csr_matrix(X)
        return [np.asarray(M[i].toarray(), dtype=np.float64).ravel() for i in range(M.shape[0])]
    A = np.asarray(X, dtype=np.float64)
    if A.ndim != 2:
        raise ValueError("expected a 2-D array (n_samples x n_features)")
    return list(A)


def _first(value):
    return value[0] if isinstance(value, tuple) else value


def _callable_knn(metric, queries, reference, k: int, exclude_self: bool, metric_params=None):
    """Exact kNN with a Python callable metric, called on every (query row, reference row) pair: slow, O(N^2) calls.

    Rows are sorted by (distance, index), as the C++ indices do.
    """
    kw = dict(metric_params or {})
    Q, R = _rows(queries), _rows(reference)
    n_ref = len(R)
    if k > n_ref - (1 if exclude_self else 0):
        raise ValueError(f"k = {k} must be less than the number of points ({n_ref})")
    idx = np.empty((len(Q), k), dtype=np.int32)
    dst = np.empty((len(Q), k), dtype=np.float32)
    for i, q in enumerate(Q):
        # umap-learn's metrics "with gradient" return (distance, gradient): the distance is the first element
        d = np.array([float(_first(metric(q, r, **kw))) for r in R], dtype=np.float64)
        if not np.all(np.isfinite(d)):
            raise ValueError(f"the callable metric returned a non-finite distance for query row {i}")
        if exclude_self:
            d[i] = np.inf
        order = np.lexsort((np.arange(n_ref), d))[:k]
        idx[i], dst[i] = order, d[order]
    return idx, dst


class KNNIndex:
    """A nearest-neighbour index over reference data (openTSNE's ``KNNIndex`` interface), nembed's C++ search.

    Parameters
    ----------
    data : array_like or scipy.sparse matrix of shape (n_samples, n_features)
        Reference points (float32 internally; sparse matrices of any format are searched as CSR).
    k : int
        Neighbours returned by :meth:`build` (self excluded).
    metric : str or callable
        A name of ``VALID_METRICS`` (scipy's definitions), or a callable ``metric(x, y) -> float`` on two 1-D rows
        (a slow exact search in Python; numba-jitted functions work too).
    metric_params : dict, optional
        ``p`` (minkowski, wminkowski), ``w`` (weights), ``V`` (seuclidean variances; umap-learn's ``sigma``),
        ``VI`` (mahalanobis inverse covariance; ``vinv``); for a callable, keyword arguments passed to it.
    n_jobs : int
        Threads; ``-1`` means all cores.
    random_state : int, RandomState or None
        Seeds HNSW's level generator (the build is serial, so results do not depend on n_jobs).
    verbose : bool
        Unused; kept for openTSNE compatibility.
    knn_kwargs : dict, optional
        HNSW settings: ``M``, ``ef_construction`` (default 200), ``ef``.
    """

    method = "auto"
    VALID_METRICS = VALID_METRICS

    def __init__(self, data, k: int, metric="euclidean", metric_params: Optional[dict] = None,
                 n_jobs: int = 1, random_state=None, verbose: bool = False, knn_kwargs: Optional[dict] = None):
        self.data = data
        self.n_samples = data.shape[0] if hasattr(data, "shape") else len(data)
        self.k = int(k)
        self.metric = self.check_metric(metric)
        self.metric_params = metric_params
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.knn_kwargs = knn_kwargs
        self._holder = None

    def check_metric(self, metric):
        """Checks that the metric is supported (a callable always is); returns it."""
        if callable(metric):
            return metric
        if not isinstance(metric, str) or metric.lower() not in self.VALID_METRICS:
            raise ValueError(f"`{self.__class__.__name__}` does not support the `{metric}` metric. Please choose "
                             f"one of the supported metrics: {', '.join(self.VALID_METRICS)}.")
        return metric

    # openTSNE's indices keep the built index in `index`.
    @property
    def index(self):
        return self._holder if self._holder is not None else getattr(self, "_py_index", None)

    @index.setter
    def index(self, value):
        self._holder = value

    @classmethod
    def _from_holder(cls, holder, k: int, n_jobs: int = 1) -> "KNNIndex":
        obj = cls.__new__(cls)
        obj.data = None
        obj.n_samples = int(holder.n_points)
        obj.k = int(k)
        obj.metric = holder.metric
        obj.metric_params = None
        obj.n_jobs = n_jobs
        obj.random_state = int(holder.seed)
        obj.verbose = False
        obj.knn_kwargs = None
        obj._holder = holder
        obj.method = holder.method
        return obj

    def build(self) -> Tuple[np.ndarray, np.ndarray]:
        """Builds the index; returns (indices, distances) of each reference point's k neighbours (self excluded)."""
        if callable(self.metric):
            self._py_index = self.data
            return _callable_knn(self.metric, self.data, self.data, self.k, True, self.metric_params)
        self._holder = _build_holder(self.data, self.method, self.metric, self.metric_params,
                                     resolve_n_jobs(self.n_jobs), resolve_seed(self.random_state), self.knn_kwargs,
                                     handle_sigint())
        return self._holder.self_neighbors(self.k, handle_sigint=handle_sigint())

    def query(self, query, k: int) -> Tuple[np.ndarray, np.ndarray]:
        """k nearest reference points of each query row: (indices int32, distances float32)."""
        if callable(self.metric):
            if getattr(self, "_py_index", None) is None:
                raise RuntimeError("the index must be built before it is queried")
            return _callable_knn(self.metric, query, self._py_index, int(k), False, self.metric_params)
        if self._holder is None:
            raise RuntimeError("the index must be built before it is queried")
        if sp.issparse(query):
            indptr, indices, values, n_rows, n_cols = _csr_parts(query, "query")
            return _core.knn_query_csr(self._holder, indptr, indices, values, n_rows, n_cols, int(k),
                                       handle_sigint=handle_sigint())
        Q = as_float32_matrix(query, "query")
        return self._holder.query(Q, int(k), handle_sigint=handle_sigint())

    def __getstate__(self):
        state = self.__dict__.copy()
        holder = state.pop("_holder")
        if holder is not None:
            data = self.data if self.data is not None else holder.data
            state["_rebuild"] = dict(data=data, method=holder.method, metric=self.metric,
                                     metric_params=self.metric_params, seed=int(holder.seed),
                                     knn_kwargs=self.knn_kwargs)
        return state

    def __setstate__(self, state):
        rebuild = state.pop("_rebuild", None)
        self.__dict__.update(state)
        self._holder = None
        if rebuild is not None:
            # HNSW is rebuilt with the same seed; its serial build makes it the same index.
            self._holder = _build_holder(rebuild["data"], rebuild["method"], rebuild["metric"],
                                         rebuild["metric_params"], 1, rebuild["seed"], rebuild["knn_kwargs"])


class Exact(KNNIndex):
    """Exact search (register-tiled brute force for euclidean/cosine/inner product, a double-precision scan for
    the other metrics and sparse data; the default up to N^2 * dims = 4e11, 1e13 (at most 450 000 points) for dense euclidean, cosine and inner product)."""
    method = "exact"


class BallTree(Exact):
    """Older openTSNE's exact index; nembed answers it with its exact search (same results)."""


class HNSW(KNNIndex):
    """Approximate search with nembed's hnswlib (every metric; sparse data too). knn_kwargs: M, ef_construction, ef."""
    method = "hnsw"


class _PackageIndex(KNNIndex):
    """An index that a third-party package runs, as openTSNE 1.0.4 runs it: the package's index object is ``index``
    (None until :meth:`build`); constructing one without the package raises ImportError naming it."""

    _package = ""       # the module imported to check that the package is installed
    _missing = ""       # the ImportError's message

    def __init__(self, *args, **kwargs):
        try:
            importlib.import_module(self._package)
        except ImportError:
            raise ImportError(self._missing) from None
        super().__init__(*args, **kwargs)

    @property
    def index(self):
        return getattr(self, "_py_index", None)

    @index.setter
    def index(self, value):
        self._py_index = value

    def _built(self):
        if self.index is None:
            raise RuntimeError("the index must be built before it is queried")
        return self.index


_SKLEARN_METRICS = ["braycurtis", "canberra", "chebyshev", "cityblock", "dice", "euclidean", "hamming", "haversine",
                    "infinity", "jaccard", "kulsinski", "l1", "l2", "mahalanobis", "manhattan", "matching",
                    "minkowski", "p", "pyfunc", "rogerstanimoto", "russellrao", "seuclidean", "sokalmichener",
                    "sokalsneath", "wminkowski", "cosine"]


class Sklearn(_PackageIndex):
    """openTSNE's exact index: scikit-learn's NearestNeighbors, as openTSNE 1.0.4 runs it (cosine through the
    Euclidean ranking of normalised rows, distances recomputed with scipy's cdist). knn_kwargs go to
    NearestNeighbors (default algorithm="auto")."""

    VALID_METRICS = _SKLEARN_METRICS
    _package = "sklearn"
    _missing = "nembed.nearest_neighbors.Sklearn runs scikit-learn: pip install scikit-learn (or use nembed's " \
               "Exact index)"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._cosine_data = None

    @staticmethod
    def _checked(X, name):
        """Dense input as C-contiguous float64 (exact for any float32 or integer input, so the dtype and order do
        not change the neighbours), refusing non-finite values with nembed's message; sparse input as it is."""
        if sp.issparse(X):
            return X
        A = np.asarray(X)
        if A.dtype == object or not (np.issubdtype(A.dtype, np.number) or A.dtype == np.bool_):
            raise ValueError(f"{name}: expected a numeric array, got dtype {A.dtype}")
        A = np.ascontiguousarray(A, dtype=np.float64)
        if A.ndim != 2:
            raise ValueError(f"{name}: expected a 2-D array (n_samples x n_features), got {A.ndim} dimension(s)")
        bad = np.argwhere(~np.isfinite(A))
        if len(bad):
            raise ValueError(f"{name}: non-finite value at row {bad[0][0]}, column {bad[0][1]}")
        return A

    def build(self):
        from scipy.spatial.distance import cdist
        from sklearn import neighbors

        data, k = self._checked(self.data, "data"), self.k
        if self.metric == "cosine":
            effective_metric = "euclidean"
            effective_data = data / np.linalg.norm(data, axis=1)[:, None]
            self._cosine_data = data
        else:
            effective_metric, effective_data = self.metric, data
        kwargs = dict(algorithm="auto")
        kwargs.update(self.knn_kwargs or {})
        self.index = neighbors.NearestNeighbors(metric=effective_metric, metric_params=self.metric_params,
                                                n_jobs=self.n_jobs, **kwargs)
        self.index.fit(effective_data)
        distances, indices = self.index.kneighbors(n_neighbors=k)
        if self.metric == "cosine":
            distances = np.vstack([cdist(np.atleast_2d(x), data[i], metric="cosine") for x, i in zip(data, indices)])
        return indices, distances

    def query(self, query, k):
        from scipy.spatial.distance import cdist

        index = self._built()
        query = self._checked(query, "query")
        if query.shape[1] != index.n_features_in_:
            raise ValueError(f"query dimension mismatch: queries have {query.shape[1]} columns but the index was "
                             f"built on {index.n_features_in_}")
        effective = query / np.linalg.norm(query, axis=1)[:, None] if self.metric == "cosine" else query
        distances, indices = index.kneighbors(effective, n_neighbors=k)
        if self.metric == "cosine":
            distances = np.vstack([cdist(np.atleast_2d(x), self._cosine_data[i], metric="cosine")
                                   for x, i in zip(query, indices)])
        return indices, distances


_ANNOY_METRICS = ["cosine", "euclidean", "manhattan", "hamming", "dot", "l1", "l2", "taxicab"]


def _annoy_metric(metric):
    return {"cosine": "angular", "l1": "manhattan", "l2": "euclidean", "taxicab": "manhattan"}.get(metric, metric)


class Annoy(_PackageIndex):
    """openTSNE's approximate index: the ``annoy`` package's AnnoyIndex (pip install annoy), looked up in
    ``nembed.dependencies.annoy`` at build time as openTSNE looks up its vendored copy (so patching
    ``nembed.dependencies.annoy.AnnoyIndex`` reaches it); without annoy, constructing this index raises ImportError
    (nembed never substitutes another search here). knn_kwargs go to AnnoyIndex.build (default n_trees=50)."""

    VALID_METRICS = _ANNOY_METRICS
    _package = "nembed.dependencies.annoy"
    _missing = "nembed.nearest_neighbors.Annoy runs the `annoy` package, which is not installed: pip install " \
               "annoy (or use nembed's HNSW or Exact index)"

    def build(self):
        from sklearn.utils import check_random_state

        from .dependencies.annoy import AnnoyIndex

        data, k = self.data, self.k
        N = data.shape[0]
        self.index = AnnoyIndex(data.shape[1], _annoy_metric(self.metric))
        self.index.set_seed(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        for i in range(N):
            self.index.add_item(i, data[i])
        kwargs = {"n_trees": 50}
        kwargs.update(self.knn_kwargs or {})
        self.index.build(n_jobs=self.n_jobs, **kwargs)
        distances = np.zeros((N, k))
        indices = np.zeros((N, k)).astype(int)
        for i in range(N):
            # annoy returns the point itself first
            idx_i, dist_i = self.index.get_nns_by_item(i, k + 1, include_distances=True)
            indices[i], distances[i] = idx_i[1:], dist_i[1:]
        return indices, distances

    def query(self, query, k):
        index = self._built()
        N = query.shape[0]
        distances = np.zeros((N, k))
        indices = np.zeros((N, k)).astype(int)
        for i in range(N):
            indices[i], distances[i] = index.get_nns_by_vector(query[i], k, include_distances=True)
        return indices, distances

    def __getstate__(self):
        import base64
        import os
        import tempfile

        d = dict(self.__dict__)
        d["_holder"] = None
        if d.get("_py_index") is not None:
            with tempfile.TemporaryDirectory() as dirname:
                fname = os.path.join(dirname, "tmp.ann")
                self._py_index.save(fname)
                with open(fname, "rb") as f:
                    d["b64_index"] = base64.b64encode(f.read())
            del d["_py_index"]
        return d

    def __setstate__(self, state):
        import base64
        import os
        import tempfile

        from .dependencies.annoy import AnnoyIndex

        if "b64_index" in state:
            b64 = state.pop("b64_index")
            index = AnnoyIndex(state["data"].shape[1], _annoy_metric(state["metric"]))
            with tempfile.TemporaryDirectory() as dirname:
                fname = os.path.join(dirname, "tmp.ann")
                with open(fname, "wb") as f:
                    f.write(base64.b64decode(b64))
                index.load(fname)
            state["_py_index"] = index
        self.__dict__.update(state)


class _PynndescentMetrics:
    """pynndescent's metric names, read on access from the class or an instance (openTSNE's tests read
    ``NNDescent.VALID_METRICS`` on the class); pynndescent is imported only then."""

    def __get__(self, obj, objtype=None):
        try:
            import pynndescent
        except ImportError:
            return []
        return list(pynndescent.distances.named_distances)


class NNDescent(_PackageIndex):
    """pynndescent's NN-descent as openTSNE 1.0.4 runs it (pip install pynndescent); callables are compiled with
    numba. knn_kwargs go to pynndescent.NNDescent."""

    VALID_METRICS = _PynndescentMetrics()
    _package = "pynndescent"
    _missing = "Please install pynndescent: `conda install -c conda-forge pynndescent` or `pip install " \
               "pynndescent` (or use nembed's Exact or HNSW index)."

    def check_metric(self, metric):
        if callable(metric):
            from numba.core.registry import CPUDispatcher

            if not isinstance(metric, CPUDispatcher):
                warnings.warn(f"`pynndescent` requires callable metrics to be compiled with `numba`, but "
                              f"`{metric.__name__}` is not compiled. `nembed.nearest_neighbors.NNDescent` will "
                              f"attempt to compile the function.")
                from numba import njit

                metric = njit(fastmath=True)(metric)
        return super().check_metric(metric)

    def build(self):
        import pynndescent
        from sklearn.utils import check_random_state

        data, k = self.data, self.k
        n_neighbors_build = k + 1 if k <= 15 else 15
        kwargs = {"n_trees": 5 + int(round((data.shape[0]) ** 0.5 / 20)),
                  "n_iters": max(5, int(round(np.log2(data.shape[0])))), "max_candidates": 60}
        kwargs.update(self.knn_kwargs or {})
        self.index = pynndescent.NNDescent(data, n_neighbors=n_neighbors_build, metric=self.metric,
                                           metric_kwds=self.metric_params, random_state=self.random_state,
                                           n_jobs=self.n_jobs, verbose=self.verbose > 1, **kwargs)
        indices, distances = self.index.neighbor_graph
        mask = np.sum(indices == -1, axis=1) > 0
        if k > n_neighbors_build:
            indices, distances = self.index.query(data, k=k + 1)
        if np.sum(mask) > 0:
            # openTSNE's workaround: the failed points are made neighbours of each other.
            warnings.warn("`pynndescent` failed to find neighbors for some of the points. As a workaround, nembed "
                          "considers all such points similar to each other, so they will likely form a cluster in "
                          "the embedding.")
            distances[mask] = 1
            rs = check_random_state(self.random_state)
            fake = rs.choice(np.sum(mask), size=np.sum(mask) * indices.shape[1], replace=True)
            indices[mask] = np.reshape(np.where(mask)[0][fake], (np.sum(mask), indices.shape[1]))
        return indices[:, 1:], distances[:, 1:]

    def query(self, query, k):
        return self._built().query(query, k=k)


class PrecomputedNeighbors(KNNIndex):
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
        self.data = None
        self._holder = None

    def build(self):
        return self.indices, self.distances

    def query(self, query, k):
        raise TypeError("precomputed neighbours cannot be queried for new points")


class PrecomputedDistanceMatrix(KNNIndex):
    """Neighbours from a dense (n_samples x n_samples) distance matrix; :meth:`query` takes an
    (n_queries x n_samples) distance matrix, as openTSNE's."""

    def __init__(self, distance_matrix, k: int, n_jobs: int = 1):
        D = np.ascontiguousarray(distance_matrix, dtype=np.float64)
        if D.ndim != 2:
            raise ValueError("the precomputed distance matrix must be 2-D")
        self.k = int(k)
        self.n_samples = D.shape[0]
        self.data = None
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


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def get_knn_index(data, method, k: int, metric, metric_params=None, n_jobs: int = 1, random_state=None,
                  verbose: bool = False, knn_kwargs=None) -> KNNIndex:
    """The index for ``method``, or ``method`` itself when it is a ``KNNIndex`` instance.

    openTSNE's names do what openTSNE's do: "exact" runs scikit-learn (:class:`Sklearn`) on dense data with one of
    its metrics (otherwise, or without scikit-learn, nembed's exact search), "approx" runs annoy (:class:`Annoy`) on
    dense data with one of annoy's metrics (otherwise, or without annoy, nembed's HNSW), "annoy" and "pynndescent"
    run those packages ("annoy" without the package: a warning and nembed's HNSW), "hnsw" is nembed's HNSW. "auto"
    (the default) is "exact" below 1000 points, as openTSNE's "auto" (scikit-learn there), and nembed's own choice
    from 1000 points on: its exact search up to N^2 D = 4e11 (1e13, at most 450 000 points, for dense euclidean, cosine and inner product), else its HNSW (openTSNE's "auto" runs annoy there). "balltree" is nembed's exact search, "sklearn"
    :class:`Sklearn`. The classes are looked up in this module when called, so patching
    ``nembed.nearest_neighbors.Sklearn`` reaches them (openTSNE's tests do).
    """
    if isinstance(method, KNNIndex):
        return method
    if metric == "precomputed":
        return PrecomputedDistanceMatrix(data, k, n_jobs=n_jobs)
    # The module's lists, not the classes' attributes: the suite patches the classes with mocks.
    dense = not sp.issparse(data)
    sklearn_fits = dense and (callable(metric) or metric in _SKLEARN_METRICS) and _installed("sklearn")
    annoy_fits = dense and isinstance(metric, str) and metric in _ANNOY_METRICS and _installed("annoy")
    exact = Sklearn if sklearn_fits else Exact
    # openTSNE's "auto": scikit-learn's exact search below 1000 points; above, nembed's own choice (not annoy)
    auto = exact if data.shape[0] < 1000 else KNNIndex
    methods = {"auto": auto, "exact": exact, "approx": Annoy if annoy_fits else HNSW,
               "balltree": BallTree, "hnsw": HNSW, "sklearn": Sklearn, "annoy": Annoy, "pynndescent": NNDescent}
    if method not in methods:
        raise ValueError(f"Unrecognized nearest neighbor algorithm `{method}`. Please choose one of the supported "
                         f"methods ({', '.join(sorted(methods))}) or provide a valid `KNNIndex` instance.")
    cls = methods[method]
    if method == "annoy" and not _installed("annoy"):
        warnings.warn("neighbors='annoy': the annoy package is not installed (pip install annoy); nembed uses its "
                      "HNSW index instead", UserWarning, stacklevel=2)
        cls = HNSW
    return cls(data, k, metric=metric, metric_params=metric_params, n_jobs=n_jobs, random_state=random_state,
               verbose=verbose, knn_kwargs=knn_kwargs)
