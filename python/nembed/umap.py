"""UMAP with umap-learn's model, defaults and estimator API: ``nembed.UMAP``.

The kNN graph, fuzzy simplicial set, its supervised intersection, spectral initialisation and the SGD layout all run
in nembed's C++ core with the GIL released. The layout is optimised with a thread-count-independent scheme (see
``nembed/methods/umap.hpp``): the same ``random_state`` gives the same embedding for any ``n_jobs``. umap-learn
0.5.12's public API (parameters, validation messages, exceptions, warnings) is the specification; what nembed does
differently is listed in docs/dropin.md, section "umap-learn".
"""
from __future__ import annotations

import numbers
import warnings
from typing import Any, Callable, Optional, Tuple

import numpy as np
import scipy.sparse as sp

from . import _core, _umap_extra
from ._utils import as_float64_matrix, check_affinity_metric, to_float32, csr_from_parts, csr_parts, handle_sigint, resolve_n_jobs, resolve_seed
from . import nearest_neighbors as _nn

try:  # scikit-learn is optional: without it the estimator keeps the same get_params/set_params contract
    from sklearn.base import BaseEstimator as _EstimatorBase
except ImportError:  # pragma: no cover - exercised only without scikit-learn
    _EstimatorBase = None

__all__ = ["UMAP", "find_ab_params"]


def find_ab_params(spread: float = 1.0, min_dist: float = 0.1) -> Tuple[float, float]:
    """umap-learn's ``find_ab_params``: (a, b) of the output kernel 1 / (1 + a·d^(2b)).

    Least squares of the kernel to 1 below ``min_dist`` and exp(−(d − min_dist)/spread) beyond, on 300 points over
    [0, 3·spread] (Levenberg–Marquardt, as scipy's ``curve_fit``).

    Raises
    ------
    ValueError
        For spread <= 0, min_dist < 0 or min_dist > spread.
    """
    a, b = _core.find_ab_params(float(spread), float(min_dist))
    return float(a), float(b)


# umap-learn's defaults of disconnection_distance for its bounded metrics (other metrics: infinity).
DISCONNECTION_DISTANCES = {"correlation": 2, "cosine": 2, "hellinger": 1, "jaccard": 1, "bit_jaccard": 1, "dice": 1}
# umap-learn's output metrics (with gradients) and its named metrics without one (refused as output metric).
_OUTPUT_METRICS = ("braycurtis", "canberra", "chebyshev", "correlation", "cosine", "diagonal_gaussian_energy",
                   "euclidean", "gaussian_energy", "haversine", "hellinger", "hyperboloid", "l1", "l2", "linf",
                   "linfinity", "linfty", "mahalanobis", "manhattan", "minkowski", "seuclidean", "softmax_hellinger",
                   "spherical_gaussian_energy", "standardised_euclidean", "symmetric_kl", "taxicab",
                   "weighted_minkowski", "wminkowski")
# the output metrics nembed lays out in (kernel/output_metric.hpp; the others of _OUTPUT_METRICS are not built)
_BUILT_OUTPUT_METRICS = ("euclidean", "l2", "manhattan", "taxicab", "l1", "chebyshev", "linfinity", "linfty", "linf",
                         "minkowski", "canberra", "braycurtis", "cosine", "correlation", "haversine", "hyperboloid")
_NO_GRADIENT_METRICS = ("categorical", "count", "dice", "hamming", "hierarchical_categorical", "jaccard", "kulsinski",
                        "ll_dirichlet", "matching", "myers", "ordinal", "poincare", "rogerstanimoto", "russellrao",
                        "sokalmichener", "sokalsneath", "string", "yule")
# umap-learn's discrete target metrics (its dist.DISCRETE_METRICS).
_DISCRETE_TARGET_METRICS = ("categorical", "hierarchical_categorical", "ordinal", "count", "string", "myers")
# scipy's names of umap-learn's metric aliases for the target's distances.
_SCIPY_METRIC = {"l1": "cityblock", "manhattan": "cityblock", "taxicab": "cityblock", "l2": "euclidean",
                 "linf": "chebyshev", "linfinity": "chebyshev", "linfty": "chebyshev"}
_SMALL_DATA = 4096  # umap-learn's limit for computing all pairwise distances of small data


class _ParamsMixin:
    """scikit-learn's get_params/set_params contract, for when scikit-learn is not installed."""

    @classmethod
    def _get_param_names(cls):
        import inspect
        sig = inspect.signature(cls.__init__)
        return sorted(p.name for p in sig.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD)

    def get_params(self, deep: bool = True) -> dict:
        out = {}
        for key in self._get_param_names():
            value = getattr(self, key)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((key + "__" + k, v) for k, v in value.get_params().items())
            out[key] = value
        return out

    def set_params(self, **params):
        valid = self.get_params(deep=True)
        nested: dict = {}
        for key, value in params.items():
            key, delim, sub = key.partition("__")
            if key not in valid:
                raise ValueError(f"Invalid parameter {key!r} for estimator {self}. Valid parameters are: "
                                 f"{self._get_param_names()!r}.")
            if delim:
                nested.setdefault(key, {})[sub] = value
            else:
                setattr(self, key, value)
                valid[key] = value
        for key, sub in nested.items():
            valid[key].set_params(**sub)
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_params(deep=False).items())})"


_Base = _EstimatorBase if _EstimatorBase is not None else _ParamsMixin


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_data(X: Any, ensure_all_finite: Any, name: str = "X"):
    """scikit-learn's check_array(dtype=float32, accept_sparse='csr', order='C', ensure_all_finite=...)."""
    if ensure_all_finite not in (True, False, "allow-nan"):
        raise ValueError(f"ensure_all_finite should be a bool or 'allow-nan', got {ensure_all_finite!r}")
    if sp.issparse(X):
        if X.dtype.kind == "f" and X.dtype.itemsize > 4:
            to_float32(sp.csr_matrix(X).data, name)  # a finite value beyond float32's range: named, not made inf
        A = sp.csr_matrix(X, dtype=np.float32)
        A.sum_duplicates()
        A.sort_indices()
        values = A.data
    else:
        arr = np.asarray(X)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
            raise ValueError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
        if arr.ndim != 2:
            raise ValueError(f"Expected 2D array, got {arr.ndim}D array instead: reshape your data "
                             "(n_samples x n_features)")
        A = to_float32(arr, name)
        values = A
    if A.shape[0] < 1 or A.shape[1] < 1:
        raise ValueError(f"{name}: found array with shape {A.shape}; at least one sample and one feature needed")
    if ensure_all_finite is True and not np.isfinite(values).all():
        raise ValueError(f"Input {name} contains NaN or infinity.")
    if ensure_all_finite == "allow-nan" and np.isinf(values).any():
        raise ValueError(f"Input {name} contains infinity.")
    return A


def _csr(parts, shape) -> sp.csr_matrix:
    return csr_from_parts(parts, shape)


def _parts(M) -> tuple:
    M = sp.csr_matrix(M, dtype=np.float64)
    M.sum_duplicates()
    M.sort_indices()
    return csr_parts(M)


def _unique_rows(X):
    """(index, inverse, counts) of the distinct rows, as numpy's unique(axis=0) (rows in sorted order)."""
    if not sp.issparse(X):
        return np.unique(X, return_index=True, return_inverse=True, return_counts=True, axis=0)[1:4]
    X = sp.csr_matrix(X)
    X.eliminate_zeros()
    X.sort_indices()
    keys = [(X.indices[X.indptr[i]:X.indptr[i + 1]].tobytes(), X.data[X.indptr[i]:X.indptr[i + 1]].tobytes())
            for i in range(X.shape[0])]
    first: dict = {}
    inverse = np.empty(X.shape[0], dtype=np.int64)
    for i, key in enumerate(keys):
        inverse[i] = first.setdefault(key, len(first))
    index = np.empty(len(first), dtype=np.int64)
    for key, u in first.items():
        index[u] = keys.index(key)
    return index, inverse, np.bincount(inverse)


def _levenshtein(a: str, b: str, normalisation: float = 1.0, max_distance: float = 20) -> float:
    """umap-learn's levenshtein target distance."""
    if abs(len(a) - len(b)) > max_distance:
        return float(max_distance) / normalisation
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return float(prev[-1]) / normalisation


def _count_distance(x: float, y: float, poisson_lambda: float = 1.0, normalisation: float = 1.0) -> float:
    """umap-learn's count target distance (log Γ exact where umap-learn approximates it from 10 on; a count of 0
    adds log 0! = 0 where umap-learn adds log 0 and ends in NaN)."""
    import math
    lo, hi = int(min(x, y)), int(max(x, y))
    log_lambda = np.log(poisson_lambda)
    log_k_factorial = 0.0 if lo < 10 else math.lgamma(lo + 1)
    if 2 <= lo < 10:
        log_k_factorial = float(sum(np.log(k) for k in range(2, lo)))
    result = 0.0
    for k in range(lo, hi):
        result += k * log_lambda - poisson_lambda - log_k_factorial
        log_k_factorial += np.log(k) if k > 0 else 0.0
    return result / normalisation


def _discrete_edge_distances(graph: sp.csr_matrix, y: np.ndarray, metric: str, kwds: dict) -> np.ndarray:
    """Target distance of every stored edge of `graph` (umap-learn's fast_metric_intersection metrics)."""
    coo = graph.tocoo()
    rows, cols = coo.row, coo.col
    if metric == "ordinal":
        support = kwds.get("support_size", float(np.max(y) - np.min(y)) / 2.0)
        return np.abs(y[rows].astype(np.float64) - y[cols].astype(np.float64)) / support
    if metric == "count":
        if "poisson_lambda" in kwds:
            lam, norm = kwds["poisson_lambda"], kwds.get("normalisation", 1.0)
        else:
            lam = float(np.mean(y))
            norm = _count_distance(np.min(y), np.max(y), poisson_lambda=lam) / 2.0
        return np.array([_count_distance(y[i], y[j], lam, norm) for i, j in zip(rows, cols)])
    if metric in ("string", "myers"):
        if "normalisation" in kwds:
            norm, max_dist = kwds["normalisation"], kwds.get("max_dist", 20)
        else:
            max_dist = max(len(v) for v in y) / 1.5
            norm, max_dist = max_dist / 2.0, max_dist / 2.0
        return np.array([_levenshtein(str(y[i]), str(y[j]), norm, max_dist) for i, j in zip(rows, cols)])
    raise NotImplementedError(f"target_metric {metric!r} (umap-learn's hierarchical categories) is not implemented "
                              "by nembed")


class UMAP(_Base):
    """Uniform Manifold Approximation and Projection with umap-learn 0.5.12's parameters, defaults and API.

    A scikit-learn estimator (get_params/set_params, clone, Pipeline, GridSearchCV, FeatureUnion). ``fit(X, y)``
    runs supervised UMAP when ``y`` is given (categorical labels, -1 = unlabelled, or any target with
    ``target_metric``). Fitted models compose: ``a + b`` (union of their graphs), ``a * b`` (intersection),
    ``a - b`` (difference), each laid out anew.

    Parameters
    ----------
    n_neighbors : int
        Size of the local neighbourhood, counting the point itself (umap-learn's convention); >= 2.
    n_components : int
        Embedding dimension (any >= 1).
    metric : str or callable
        Input metric, or "precomputed" (X a square distance matrix, dense or sparse). The kNN search is
        ``nembed.nearest_neighbors``'s (its metrics and ``metric_kwds``).
    metric_kwds : dict, optional
        Passed to the metric.
    output_metric : str
        "euclidean" (or "l2"), or one of docs/dropin.md's output metrics (umap-learn's generic layout rule); its
        others raise NotImplementedError.
    n_epochs : int, optional
        Optimisation epochs; None = 500 up to 10 000 points, else 200.
    learning_rate : float
        Initial SGD learning rate, decayed linearly to 0.
    init : {"spectral", "pca", "random"} or ndarray
        Initialisation; an (n_samples, n_components) array is used as given (then rescaled to [0, 10]).
    min_dist, spread : float
        Shape of the output kernel; (a, b) are fitted from them unless given.
    low_memory, transform_queue_size, angular_rp_forest, tqdm_kwds
        umap-learn's NN-descent and progress-bar settings; accepted, without effect (nembed searches with its own
        exact or HNSW index).
    n_jobs : int
        Threads (-1 = all cores). Results do not depend on it.
    set_op_mix_ratio : float
        1 = fuzzy union, 0 = fuzzy intersection.
    local_connectivity : float
        Neighbours assumed fully connected.
    repulsion_strength : float
        Weight of the negative samples.
    negative_sample_rate : int
        Negative samples per positive sample.
    a, b : float, optional
        Output kernel parameters (both or neither).
    random_state : None, int, RandomState or Generator
        Seed. Unlike umap-learn, results are reproducible with any n_jobs.
    target_n_neighbors : int
        Neighbours of the target's own graph (-1 = n_neighbors).
    target_metric : str
        "categorical" (default), a discrete metric ("ordinal", "count", "string") or a metric of the target values.
    target_metric_kwds : dict, optional
    target_weight : float
        0 = data only, 1 = target only (umap-learn's far_dist = 2.5 / (1 - target_weight) for categories).
    transform_seed : int
        Seed of ``transform``'s negative sampling.
    transform_mode : {"embedding", "graph"}
        "graph": fit builds the graph only; fit_transform and transform return graphs.
    force_approximation_algorithm : bool
        Search neighbours with HNSW even for small data.
    verbose : bool
    unique : bool
        Embed the distinct rows only and give duplicates their row's position.
    densmap, dens_lambda, dens_frac, dens_var_shift, output_dens
        densMAP (validated as umap-learn does).
    disconnection_distance : float, optional
        kNN edges at or beyond it are removed (umap-learn's defaults for its bounded metrics).
    precomputed_knn : tuple
        (indices, distances[, search index]) of each point's n_neighbors nearest points (the point itself first),
        e.g. umap-learn's ``nearest_neighbors``; without a search index (an object with ``query``), transform is
        unavailable.
    neighbors : {"auto", "exact", "hnsw"}
        nembed's kNN method (auto: exact up to N^2 * dims = 1e13 and 450 000 points for euclidean, cosine and inner product, e.g. 447 000 x 50, 4e11 for the other metrics, else HNSW).
    callbacks : callable, optional
        ``callback(epoch, loss, embedding) -> bool`` called every ``callbacks_every_epochs`` epochs (loss: mean
        cross-entropy of the pairs sampled in that epoch); returning True stops the optimisation.
    callbacks_every_epochs : int
        Callback period.

    Attributes
    ----------
    embedding_ : ndarray (n_samples, n_components)
        Disconnected points (no edge left in the graph) are NaN, as in umap-learn.
    graph_ : scipy.sparse.csr_matrix
        The fuzzy simplicial set (supervised: intersected with the target's), before the layout's pruning of weak
        edges, as umap-learn's.
    """

    def __init__(self, n_neighbors: int = 15, n_components: int = 2, metric: Any = "euclidean",
                 metric_kwds: Optional[dict] = None, output_metric: Any = "euclidean",
                 output_metric_kwds: Optional[dict] = None, n_epochs: Optional[int] = None,
                 learning_rate: float = 1.0, init: Any = "spectral", min_dist: float = 0.1, spread: float = 1.0,
                 low_memory: bool = True, n_jobs: int = -1, set_op_mix_ratio: float = 1.0,
                 local_connectivity: float = 1.0, repulsion_strength: float = 1.0, negative_sample_rate: int = 5,
                 transform_queue_size: float = 4.0, a: Optional[float] = None, b: Optional[float] = None,
                 random_state: Any = None, angular_rp_forest: bool = False, target_n_neighbors: int = -1,
                 target_metric: Any = "categorical", target_metric_kwds: Optional[dict] = None,
                 target_weight: float = 0.5, transform_seed: int = 42, transform_mode: str = "embedding",
                 force_approximation_algorithm: bool = False, verbose: bool = False,
                 tqdm_kwds: Optional[dict] = None, unique: bool = False, densmap: bool = False,
                 dens_lambda: float = 2.0, dens_frac: float = 0.3, dens_var_shift: float = 0.1,
                 output_dens: bool = False, disconnection_distance: Optional[float] = None,
                 precomputed_knn: tuple = (None, None, None), neighbors: str = "auto",
                 callbacks: Optional[Callable] = None, callbacks_every_epochs: int = 50):
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.metric = metric
        self.metric_kwds = metric_kwds
        self.output_metric = output_metric
        self.output_metric_kwds = output_metric_kwds
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.init = init
        self.min_dist = min_dist
        self.spread = spread
        self.low_memory = low_memory
        self.n_jobs = n_jobs
        self.set_op_mix_ratio = set_op_mix_ratio
        self.local_connectivity = local_connectivity
        self.repulsion_strength = repulsion_strength
        self.negative_sample_rate = negative_sample_rate
        self.transform_queue_size = transform_queue_size
        self.a = a
        self.b = b
        self.random_state = random_state
        self.angular_rp_forest = angular_rp_forest
        self.target_n_neighbors = target_n_neighbors
        self.target_metric = target_metric
        self.target_metric_kwds = target_metric_kwds
        self.target_weight = target_weight
        self.transform_seed = transform_seed
        self.transform_mode = transform_mode
        self.force_approximation_algorithm = force_approximation_algorithm
        self.verbose = verbose
        self.tqdm_kwds = tqdm_kwds
        self.unique = unique
        self.densmap = densmap
        self.dens_lambda = dens_lambda
        self.dens_frac = dens_frac
        self.dens_var_shift = dens_var_shift
        self.output_dens = output_dens
        self.disconnection_distance = disconnection_distance
        self.precomputed_knn = precomputed_knn
        self.neighbors = neighbors
        self.callbacks = callbacks
        self.callbacks_every_epochs = callbacks_every_epochs

    # ------------------------------------------------------------------------------------------ validation
    def _validate_params(self) -> dict:
        """umap-learn's _validate_parameters (its messages and exception types) without touching the parameters."""
        def number(name):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v):
                raise ValueError(f"{name} must be a finite number, got {v!r}")
            return float(v)

        set_op = number("set_op_mix_ratio")
        if set_op < 0.0 or set_op > 1.0:
            raise ValueError("set_op_mix_ratio must be between 0.0 and 1.0")
        if number("repulsion_strength") < 0.0:
            raise ValueError("repulsion_strength cannot be negative")
        if number("min_dist") > number("spread"):
            raise ValueError("min_dist must be less than or equal to spread")
        if self.min_dist < 0.0:
            raise ValueError("min_dist cannot be negative")
        if number("spread") <= 0.0:
            raise ValueError("spread must be positive")
        if not isinstance(self.init, (str, np.ndarray)):
            raise ValueError("init must be a string or ndarray")
        if isinstance(self.init, str) and self.init not in ("pca", "spectral", "random", "tswspectral"):
            raise ValueError('string init values must be one of: "pca", "tswspectral", "spectral" or "random"')
        if isinstance(self.init, str) and self.init == "tswspectral":
            raise NotImplementedError("init='tswspectral' (umap-learn's tsvd-warm-started spectral init) is not "
                                      "implemented by nembed; use 'spectral'")
        if not isinstance(self.metric, str) and not callable(self.metric):
            raise ValueError("metric must be string or callable")
        if number("negative_sample_rate") < 0:
            raise ValueError("negative sample rate must be positive")
        if number("learning_rate") < 0.0:
            raise ValueError("learning_rate must be positive")
        if number("n_neighbors") < 2:
            raise ValueError("n_neighbors must be greater than 1")
        if not _is_int(self.n_neighbors):
            raise ValueError(f"n_neighbors must be an integer, got {self.n_neighbors!r}")
        if not _is_int(self.target_n_neighbors) or (self.target_n_neighbors < 2 and self.target_n_neighbors != -1):
            raise ValueError("target_n_neighbors must be greater than 1")
        n_components = self.n_components
        if not _is_int(n_components):
            if isinstance(n_components, str) or not isinstance(n_components, numbers.Real):
                raise ValueError("n_components must be an int")
            if n_components % 1 != 0:
                raise ValueError("n_components must be a whole number")
            n_components = int(n_components)
        if n_components < 1:
            raise ValueError("n_components must be greater than 0")
        if isinstance(self.init, np.ndarray) and (self.init.ndim != 2 or self.init.shape[1] != n_components):
            raise ValueError("init ndarray must match n_components value")
        if isinstance(self.n_epochs, (list, tuple, np.ndarray)):
            raise NotImplementedError("n_epochs as a list (umap-learn's embedding_list_) is not implemented by nembed")
        if self.n_epochs is not None and (not _is_int(self.n_epochs) or self.n_epochs < 0):
            raise ValueError("n_epochs must be a nonnegative integer or a list of nonnegative integers")
        for name in ("metric_kwds", "output_metric_kwds", "target_metric_kwds"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), dict):
                raise ValueError(f"{name} must be a dict or None")
        if self.densmap and self.output_metric not in ("euclidean", "l2"):
            raise ValueError("Non-Euclidean output metric not supported for densMAP.")
        self._check_output_metric(n_components)
        if not _is_int(self.n_jobs) or self.n_jobs < -1 or self.n_jobs == 0:
            raise ValueError("n_jobs must be a postive integer, or -1 (for all cores)")
        if number("dens_lambda") < 0.0:
            raise ValueError("dens_lambda cannot be negative")
        if number("dens_frac") < 0.0 or self.dens_frac > 1.0:
            raise ValueError("dens_frac must be between 0.0 and 1.0")
        if number("dens_var_shift") < 0.0:
            raise ValueError("dens_var_shift cannot be negative")
        if self.disconnection_distance is None:
            disconnection = DISCONNECTION_DISTANCES.get(self.metric, np.inf) if isinstance(self.metric, str) \
                else np.inf
        elif isinstance(self.disconnection_distance, (int, float)) and not isinstance(self.disconnection_distance,
                                                                                      bool):
            disconnection = float(self.disconnection_distance)
        else:
            raise ValueError("disconnection_distance must either be None or a numeric.")
        if self.tqdm_kwds is not None and not isinstance(self.tqdm_kwds, dict):
            raise ValueError("tqdm_kwds must be a dictionary. Please provide valid tqdm parameters as key value "
                             "pairs. Valid tqdm parameters can be found here: https://github.com/tqdm/tqdm#parameters")
        if self.transform_mode not in ("embedding", "graph"):
            raise ValueError(f"Unrecognized transform mode {self.transform_mode}; should be one of 'embedding' or "
                             "'graph'")
        if self.neighbors not in ("auto", "exact", "hnsw"):
            raise ValueError(f"neighbors must be 'auto', 'exact' or 'hnsw', got {self.neighbors!r}")
        if number("target_weight") < 0.0 or self.target_weight > 1.0:
            raise ValueError("target_weight must be between 0.0 and 1.0")
        if (self.a is None) != (self.b is None):
            raise ValueError("a and b must be given together")
        for name in ("a", "b"):
            if getattr(self, name) is not None and number(name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.callbacks is not None and not callable(self.callbacks):
            raise ValueError("callbacks must be a callable (epoch, loss, embedding) -> bool")
        if not _is_int(self.transform_seed) or self.transform_seed < 0:
            raise ValueError(f"transform_seed must be a non-negative integer, got {self.transform_seed!r}")
        if not _is_int(self.callbacks_every_epochs) or self.callbacks_every_epochs < 1:
            raise ValueError("callbacks_every_epochs must be a positive integer")
        if number("local_connectivity") < 0:
            raise ValueError("local_connectivity must be >= 0")
        return dict(n_components=n_components, disconnection=disconnection, n_threads=resolve_n_jobs(self.n_jobs))

    def _check_output_metric(self, n_components: int) -> None:
        om = self.output_metric
        if callable(om):
            x, y = np.random.uniform(low=-10, high=10, size=(2, n_components))
            out = om(x, y, **(self.output_metric_kwds or {}))
            if not (hasattr(out, "__iter__") and len(out) == 2):
                raise ValueError("custom output_metric must return a tuple of (distance [float], gradient [np.array])")
            raise NotImplementedError("custom output metrics are not implemented by nembed (Euclidean output only)")
        if not isinstance(om, str):
            raise ValueError("output_metric is neither callable nor a recognised string")
        if om == "precomputed":
            raise ValueError("output_metric cannnot be 'precomputed'")
        if om in ("euclidean", "l2"):
            return
        if om in _NO_GRADIENT_METRICS:
            raise ValueError(f"gradient function is not yet implemented for {om}.")
        if om not in _OUTPUT_METRICS:
            raise ValueError("output_metric is neither callable nor a recognised string")
        if om == "haversine" and n_components != 2:
            raise ValueError("haversine is only defined for 2 dimensional graph embeddings")
        if om not in _BUILT_OUTPUT_METRICS:
            raise NotImplementedError(f"output_metric={om!r} is not implemented by nembed (built: "
                                      f"{', '.join(_BUILT_OUTPUT_METRICS)})")
        kwds = dict(self.output_metric_kwds or {})
        allowed = {"p"} if om == "minkowski" else set()
        if set(kwds) - allowed:
            raise ValueError(f"output_metric_kwds {sorted(set(kwds) - allowed)} are not parameters of output_metric "
                             f"{om!r}" + (" (it takes p)" if allowed else " (it takes none)"))
        if "p" in kwds and (isinstance(kwds["p"], bool) or not isinstance(kwds["p"], numbers.Real)
                            or not np.isfinite(kwds["p"]) or kwds["p"] <= 0):
            raise ValueError(f"output_metric_kwds p must be a positive number, got {kwds['p']!r}")

    def _check_metric(self, X) -> None:
        """The input metric's checks that need the data (umap-learn's messages and warnings)."""
        m = self.metric
        if callable(m):
            i, j = np.random.randint(0, X.shape[0], 2)
            if sp.issparse(X):
                out = m(X[i].indices, X[i].data, X[j].indices, X[j].data, **(self.metric_kwds or {}))
            else:
                out = m(np.array(X[i]), np.array(X[j]), **(self.metric_kwds or {}))  # copies: it may write into them
            if not (hasattr(out, "__iter__") and len(out) == 2):
                warnings.warn("custom distance metric does not return gradient; inverse_transform will be "
                              "unavailable. To enable using inverse_transform method, define a distance function "
                              "that returns a tuple of (distance [float], gradient [np.array])")
        elif m == "precomputed":
            if self.unique:
                raise ValueError("unique is poorly defined on a precomputed metric")
            warnings.warn("using precomputed metric; inverse_transform will be unavailable")
        elif m == "hellinger" and X.min() < 0:
            raise ValueError("Metric 'hellinger' does not support negative values")
        else:
            check_affinity_metric(m)

    # ------------------------------------------------------------------------------------------ graph
    def _precomputed_knn(self, n_samples: int):
        """(indices, distances, search index) of precomputed_knn, or None when absent or ignored (with umap-learn's
        warnings)."""
        knn = self.precomputed_knn
        if knn is None or len(knn) < 2 or knn[1] is None:
            return None
        if self.unique:
            raise ValueError("unique is not currently available for precomputed_knn.")
        idx, dst = knn[0], knn[1]
        index = knn[2] if len(knn) > 2 else None
        if not isinstance(idx, np.ndarray):
            raise ValueError("precomputed_knn[0] must be ndarray object.")
        if not isinstance(dst, np.ndarray):
            raise ValueError("precomputed_knn[1] must be ndarray object.")
        if dst.shape != idx.shape:
            raise ValueError("precomputed_knn[0] and precomputed_knn[1] must be numpy arrays of the same size.")
        if not hasattr(index, "query"):
            warnings.warn("precomputed_knn[2] (knn_search_index) is not an NNDescent object: transforming new data "
                          "with transform will be unavailable.")
            index = None
        if dst.shape[1] < self.n_neighbors:
            warnings.warn("precomputed_knn has a lower number of neighbors than n_neighbors parameter. "
                          "precomputed_knn will be ignored and the k-nn will be computed normally.")
            return None
        if dst.shape[0] != n_samples:
            warnings.warn("precomputed_knn has a different number of samples than the data you are fitting. "
                          "precomputed_knn will be ignored andthe k-nn will be computed normally.")
            return None
        return idx[:, :self.n_neighbors], dst[:, :self.n_neighbors], index

    def _neighbors(self, X, k: int, seed: int, n_threads: int, use_precomputed: bool = True):
        """The k nearest neighbours of every row (self excluded: k = n_neighbors - 1) and the search index for
        transform ("precomputed" for distances, None when there is none); precomputed_knn only when use_precomputed."""
        pre = self._precomputed_knn(X.shape[0]) if use_precomputed else None
        if pre is not None:
            idx, dst, index = pre
            i, d = _core.neighbors_from_arrays(np.ascontiguousarray(idx, dtype=np.int64),
                                               np.ascontiguousarray(dst, dtype=np.float64), X.shape[0])
            return i[:, :k], d[:, :k], index
        if self.metric == "precomputed":
            if X.shape[0] != X.shape[1]:
                raise ValueError(f"metric='precomputed' needs a square distance matrix, got shape {X.shape}")
            if not sp.issparse(X):
                i, d = _core.neighbors_from_distance_matrix(np.ascontiguousarray(X, dtype=np.float64), k, n_threads)
                return i, d, "precomputed"
            if sp.tril(X).getnnz() != sp.triu(X).getnnz():
                raise ValueError("Sparse precomputed distance matrices should be symmetrical!")
            if not np.all(X.diagonal() == 0):
                raise ValueError("Non-zero distances from samples to themselves!")
            idx = np.empty((X.shape[0], k), dtype=np.int64)
            dst = np.empty((X.shape[0], k), dtype=np.float64)
            for r in range(X.shape[0]):
                cols, vals = X.indices[X.indptr[r]:X.indptr[r + 1]], X.data[X.indptr[r]:X.indptr[r + 1]]
                keep = cols != r
                cols, vals = cols[keep], vals[keep]
                if len(vals) < k:
                    raise ValueError("Some rows contain fewer than n_neighbors distances!")
                order = np.argsort(vals, kind="stable")[:k]
                idx[r], dst[r] = cols[order], vals[order]
            i, d = _core.neighbors_from_arrays(idx, dst, X.shape[0])
            return i, d, "precomputed"
        method = "hnsw" if self.force_approximation_algorithm else self.neighbors
        if not sp.issparse(X) and not self.metric_kwds and self.metric in ("euclidean", "l2", "cosine"):
            # nembed's own fit settings (C++ fit_knn_options: HNSW at its fit defaults), as every fit method builds
            holder = _core.KnnIndex.build(X, method=method, metric="euclidean" if self.metric == "l2" else self.metric,
                                          n_threads=n_threads, seed=seed, hnsw_ef_construction=64,
                                          handle_sigint=handle_sigint())
            index = _nn.KNNIndex._from_holder(holder, k, n_jobs=n_threads)
            i, d = holder.self_neighbors(k, handle_sigint=handle_sigint())
            return i, d, index
        cls = {"auto": _nn.KNNIndex, "exact": _nn.Exact, "hnsw": _nn.HNSW}[method]
        index = cls(X, k, metric=self.metric, metric_params=self.metric_kwds, n_jobs=n_threads, random_state=seed)
        i, d = index.build()
        return i, d, index

    def _build_graph(self, X, n_neighbors: int, p: dict, seed: int):
        """The fuzzy simplicial set of X (umap-learn's fit up to the target): kNN, memberships, union, the removal of
        edges at or beyond disconnection_distance. Sets the kNN attributes transform needs."""
        n = X.shape[0]
        idx, dst, index = self._neighbors(X, n_neighbors - 1, seed, p["n_threads"])
        idx = np.ascontiguousarray(idx, dtype=np.int32)
        dst = np.ascontiguousarray(dst, dtype=np.float32)
        parts, self._sigmas, self._rhos = _core.fuzzy_simplicial_set(
            idx, dst, local_connectivity=float(self.local_connectivity),
            set_op_mix_ratio=float(self.set_op_mix_ratio), n_threads=p["n_threads"])
        graph = _csr(parts, (n, n))
        self._knn_indices, self._knn_dists, self._knn_search_index = idx, dst, index
        cut = p["disconnection"]
        far = dst >= cut
        edges_removed = int(far.sum())
        if edges_removed:
            rows = np.repeat(np.arange(n), idx.shape[1])[far.ravel()]
            mask = sp.csr_matrix((np.ones(edges_removed), (rows, idx.ravel()[far.ravel()])), shape=(n, n))
            mask = ((mask + mask.T) > 0).astype(np.float64)
            graph = sp.csr_matrix(graph - graph.multiply(mask))
            graph.eliminate_zeros()
            self._warn_disconnected(edges_removed, int(np.sum(np.asarray(graph.sum(axis=1)).ravel() == 0)), cut,
                                    self._raw_data.shape[0])
        return graph

    def _warn_disconnected(self, edges_removed, vertices_disconnected, disconnection_distance, total_rows,
                           threshold=0.1):
        """umap-learn's raise_disconnected_warning."""
        if self.verbose and vertices_disconnected == 0 and edges_removed > 0:
            print(f"Disconnection_distance = {disconnection_distance} has removed {edges_removed} edges.  "
                  "This is not a problem as no vertices were disconnected.")
        elif 0 < vertices_disconnected <= threshold * total_rows:
            warnings.warn("A few of your vertices were disconnected from the manifold.  This shouldn't cause "
                          f"problems.\nDisconnection_distance = {disconnection_distance} has removed {edges_removed} "
                          f"edges.\nIt has only fully disconnected {vertices_disconnected} vertices.\n"
                          "Use umap.utils.disconnected_vertices() to identify them.")
        elif vertices_disconnected > threshold * total_rows:
            warnings.warn("A large number of your vertices were disconnected from the manifold.\n"
                          f"Disconnection_distance = {disconnection_distance} has removed {edges_removed} edges.\n"
                          f"It has fully disconnected {vertices_disconnected} vertices.\n"
                          "You might consider using find_disconnected_points() to find and remove these points "
                          "from your data.\nUse umap.utils.disconnected_vertices() to identify them.")

    def _target_graph(self, graph: sp.csr_matrix, y, n_neighbors: int, p: dict) -> sp.csr_matrix:
        """Supervised UMAP: the fuzzy graph intersected with the target's (umap-learn's fit with y)."""
        n = graph.shape[0]
        far = 2.5 * (1.0 / (1.0 - self.target_weight)) if self.target_weight < 1.0 else 1.0e12
        metric = self.target_metric
        if metric == "categorical":
            y = np.asarray(y)
            if y.ndim != 1:
                raise ValueError(f"categorical targets must be 1-D, got shape {y.shape}")
            if np.issubdtype(y.dtype, np.number) or y.dtype == np.bool_:
                if np.issubdtype(y.dtype, np.floating) and not np.isfinite(y).all():
                    raise ValueError("Input y contains NaN or infinity.")
                unknown = y == -1
            else:
                unknown = np.zeros(n, dtype=bool)
            codes = np.unique(y, return_inverse=True)[1].astype(np.int64).ravel()
            codes[unknown] = -1
            return _csr(_core.fuzzy_categorical_intersection(*_parts(graph), n, codes, 1.0, far, p["n_threads"]),
                        (n, n))
        if metric in _DISCRETE_TARGET_METRICS:
            y = np.asarray(y)
            edge = _discrete_edge_distances(graph, y, metric, self.target_metric_kwds or {})
            coo = graph.tocoo()
            ordered = sp.csr_matrix((edge, (coo.row, coo.col)), shape=(n, n))  # same pattern, CSR order
            ordered.sort_indices()
            g = _parts(graph)
            return _csr(_core.fuzzy_metric_intersection(*g, n, np.ascontiguousarray(ordered.data, dtype=np.float64),
                                                        far, p["n_threads"]), (n, n))
        if not isinstance(metric, str) and not callable(metric):
            raise ValueError("target_metric must be a string or callable")
        Y = np.asarray(y, dtype=np.float64)
        if Y.ndim == 1:
            Y = Y.reshape(-1, 1)
        if not np.isfinite(Y).all():
            raise ValueError("Input y contains NaN or infinity.")
        k = (n_neighbors if self.target_n_neighbors == -1 else int(self.target_n_neighbors)) - 1
        if k < 1 or k >= n:
            raise ValueError(f"target_n_neighbors must be between 2 and the number of samples ({n})")
        kwds = self.target_metric_kwds or {}
        if n < _SMALL_DATA:
            from scipy.spatial.distance import cdist
            name = _SCIPY_METRIC.get(metric, metric) if isinstance(metric, str) else metric
            try:
                D = cdist(Y, Y, metric=name, **kwds)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"target_metric {metric!r} is not recognised: {exc}") from None
            ti, td = _core.neighbors_from_distance_matrix(np.ascontiguousarray(D), k, p["n_threads"])
        else:
            ti, td = _nn.Exact(Y, k, metric=metric, metric_params=kwds or None, n_jobs=p["n_threads"]).build()
        target = _core.fuzzy_memberships(np.ascontiguousarray(ti, dtype=np.int32),
                                         np.ascontiguousarray(td, dtype=np.float32), 1.0, p["n_threads"])
        inter = _core.fuzzy_general_intersection(*_parts(graph), *target, n, float(self.target_weight), False)
        return _csr(_core.fuzzy_reset_local_connectivity(*inter, n, False, p["n_threads"]), (n, n))

    # ------------------------------------------------------------------------------------------ layout
    def _layout_params(self, n_neighbors: int, n_components: int, n_threads: int, seed: int) -> dict:
        return dict(n_neighbors=n_neighbors, n_components=int(n_components),
                    n_epochs=None if self.n_epochs is None else int(self.n_epochs),
                    learning_rate=float(self.learning_rate), min_dist=float(self.min_dist),
                    spread=float(self.spread), a=None if self.a is None else float(self.a),
                    b=None if self.b is None else float(self.b), local_connectivity=float(self.local_connectivity),
                    repulsion_strength=float(self.repulsion_strength),
                    negative_sample_rate=float(self.negative_sample_rate), seed=seed,
                    transform_seed=int(self.transform_seed), n_threads=n_threads, verbose=bool(self.verbose),
                    # read by densMAP's radii and update (_umap_extra), not by the layout
                    metric=self.metric if isinstance(self.metric, str) else "euclidean",
                    set_op_mix_ratio=float(self.set_op_mix_ratio), neighbors=str(self.neighbors),
                    output_metric=self.output_metric if isinstance(self.output_metric, str) else "euclidean",
                    output_metric_p=float((self.output_metric_kwds or {}).get("p", 2.0)))

    def _layout(self, graph: sp.csr_matrix, X, params: dict, init: Any) -> np.ndarray:
        """The embedding of `graph` (umap-learn's simplicial_set_embedding): pruning, init, SGD. X (dense, one row
        per point) places disconnected components and serves init = pca; None or sparse: not used."""
        n = graph.shape[0]
        if isinstance(init, str):
            init_name, init_array = init, np.zeros((0, 0))
        else:
            init_name, init_array = "user", as_float64_matrix(init, "init")
            if init_array.shape != (n, params["n_components"]):
                raise ValueError(f"init array has shape {init_array.shape}, expected {(n, params['n_components'])}")
        if X is not None and sp.issparse(X):
            X = X.toarray() if init_name == "pca" else None
        X32 = np.zeros((0, 1), dtype=np.float32) if X is None else np.ascontiguousarray(X, dtype=np.float32)
        sig = handle_sigint()
        _umap_extra.adjust_params(self, params, n)
        state = _core.UmapState.prepare_graph(*_parts(graph), n, X32, params, init_name, init_array, sig)
        self._state = state
        _umap_extra.after_prepare(self, X32, params)
        every = int(self.callbacks_every_epochs) if self.callbacks else 0
        state.optimize(-1, self.callbacks, every, sig)
        _umap_extra.after_fit(self, X32, params, params["seed"])
        self._a, self._b = state.a, state.b
        self.n_epochs_ = state.n_epochs
        self.timings_ = state.timings
        return state.embedding

    # ------------------------------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any = None, ensure_all_finite: Any = True, **kwargs) -> "UMAP":
        """Fits X (n_samples x n_features, dense or sparse; a square distance matrix for metric="precomputed");
        supervised with the target y when given. Sets ``embedding_`` and ``graph_``.

        Raises
        ------
        ValueError
            For bad parameters or input (umap-learn's messages).
        NotImplementedError
            For umap-learn features nembed does not implement (some output metrics, n_epochs lists).
        """
        if kwargs:
            raise TypeError(f"fit() got unexpected keyword arguments {sorted(kwargs)}")
        X = _check_data(X, ensure_all_finite)
        self._raw_data = X
        p = self._validate_params()
        self._check_metric(X)
        if self.verbose:
            print(str(self))
        if y is not None:
            len_y = len(y)
            if X.shape[0] != len_y:
                raise ValueError(f"Length of x = {X.shape[0]}, length of y = {len_y}, while it must be equal.")
        if self.unique:
            index, inverse, counts = _unique_rows(X)
            self._unique_inverse_ = inverse
            if self.verbose:
                print("Unique=True -> Number of data points reduced from ", X.shape[0], " to ", len(index))
        else:
            index = inverse = np.arange(X.shape[0])
        Xu = X[index] if self.unique else X
        n = Xu.shape[0]
        if self.a is None or self.b is None:
            self._a, self._b = find_ab_params(self.spread, self.min_dist)
        else:
            self._a, self._b = float(self.a), float(self.b)
        if n <= self.n_neighbors:
            if n == 1:
                self.embedding_ = np.zeros((1, p["n_components"]))
                self._single_sample = True
                return self
            warnings.warn("n_neighbors is larger than the dataset size; truncating to X.shape[0] - 1")
            self._n_neighbors = n - 1
        else:
            self._n_neighbors = int(self.n_neighbors)
        self._single_sample = False
        if self._n_neighbors < 2:
            raise ValueError(f"UMAP needs at least 3 distinct samples for n_neighbors >= 2, got {n}")
        seed = resolve_seed(self.random_state)
        graph = self._build_graph(Xu, self._n_neighbors, p, seed)
        if y is not None:
            y_ = np.asarray(y)[index]
            graph = self._target_graph(graph, y_, self._n_neighbors, p)
            self._supervised = True
        else:
            self._supervised = False
        self.graph_ = graph
        self._input_hash = _data_key(X)
        if self.transform_mode == "embedding":
            params = self._layout_params(self._n_neighbors, p["n_components"], p["n_threads"], seed)
            init = self.init if isinstance(self.init, str) else np.asarray(self.init)
            if not isinstance(init, str) and self.unique:
                init = init[index]
            emb = self._layout(graph, Xu if self.metric != "precomputed" or not sp.issparse(Xu) else None, params,
                               init)
            disconnected = np.asarray(graph.sum(axis=1)).ravel() == 0
            emb[disconnected] = np.nan
            self.embedding_ = emb[inverse]
            self._n_features_out = self.embedding_.shape[1]
        else:
            self._n_features_out = self.graph_.shape[1]
        return self

    def fit_transform(self, X: Any, y: Any = None, ensure_all_finite: Any = True, **kwargs):
        """``fit`` and return ``embedding_`` (``graph_`` with transform_mode="graph")."""
        self.fit(X, y, ensure_all_finite, **kwargs)
        return _umap_extra.fit_transform_result(self) if self.transform_mode == "embedding" else self.graph_

    def _check_fitted(self) -> None:
        if not hasattr(self, "embedding_") and not hasattr(self, "graph_"):
            raise ValueError("This UMAP instance is not fitted yet. Call 'fit' with appropriate arguments before "
                             "using this estimator.")

    def transform(self, X: Any, ensure_all_finite: Any = True):
        """Embeds new points into the fitted embedding as umap-learn does (reference fixed); the training data
        itself returns ``embedding_``. With transform_mode="graph", the new points' memberships (n_new x n_train).

        Raises
        ------
        ValueError
            Before ``fit``, after a fit on one sample, or for data with the wrong number of features.
        NotImplementedError
            Without a search index (precomputed_knn without one, composed models).
        """
        self._check_fitted()
        if getattr(self, "_single_sample", False):
            raise ValueError("Transform unavailable when model was fit with only a single data sample.")
        _umap_extra.check_transform(self)
        X = _check_data(X, ensure_all_finite)
        if _data_key(X) == getattr(self, "_input_hash", None):
            return self.embedding_ if self.transform_mode == "embedding" else self.graph_
        index = getattr(self, "_knn_search_index", None)
        if index is None:
            raise NotImplementedError("No search index available: transforming data into an existing embedding is "
                                      "not supported")
        n_ref = self.graph_.shape[0]
        k = min(self._n_neighbors, n_ref)
        if isinstance(index, str):  # precomputed distances from the new points to the training points
            warnings.warn("Transforming new data with precomputed metric. We are assuming the input data is a matrix "
                          "of distances from the new points to the points in the training set. If the input matrix "
                          "is sparse, it should contain distances from the new points to their nearest neighbours "
                          "or approximate nearest neighbours in the training set.")
            if X.shape[1] != n_ref:
                raise ValueError(f"precomputed transform: X has {X.shape[1]} columns, the model was fitted on "
                                 f"{n_ref} points")
            idx = np.empty((X.shape[0], k), dtype=np.int32)
            dst = np.empty((X.shape[0], k), dtype=np.float32)
            for r in range(X.shape[0]):
                if sp.issparse(X):
                    cols, vals = X.indices[X.indptr[r]:X.indptr[r + 1]], X.data[X.indptr[r]:X.indptr[r + 1]]
                    if len(vals) < k:
                        raise ValueError(f"Need at least n_neighbors ({self.n_neighbors}) distances for each row!")
                else:
                    cols, vals = np.arange(n_ref), X[r]
                order = np.argsort(vals, kind="stable")[:k]
                idx[r], dst[r] = cols[order], vals[order]
            if dst.min() < 0:
                raise ValueError("precomputed transform: distances must be >= 0")
        else:
            if X.shape[1] != self._raw_data.shape[1]:
                raise ValueError(f"X has {X.shape[1]} features, the model was fitted with {self._raw_data.shape[1]}")
            idx, dst = index.query(X, k)
            idx = np.ascontiguousarray(idx, dtype=np.int32)
            dst = np.ascontiguousarray(dst, dtype=np.float32)
        if self.transform_mode == "graph":
            return self._graph_memberships(idx, dst, n_ref)
        return self._state.transform_knn(idx, dst, handle_sigint())

    def inverse_transform(self, X: Any) -> np.ndarray:
        """umap-learn's inverse_transform: points of the embedding space (n, n_components) mapped into data space.

        Raises
        ------
        ValueError
            Where umap-learn raises (densMAP, a metric without a gradient, sparse data); NotImplementedError for
            umap-learn's gradient metrics other than euclidean.
        """
        return _umap_extra.inverse_transform(self, X)

    def update(self, X: Any, ensure_all_finite: Any = True) -> None:
        """umap-learn's update: appends X, rebuilds the graph over all the data and places the new points (their
        neighbours' mean); runs ``n_epochs`` epochs when it was set, none otherwise (umap-learn).

        Raises
        ------
        ValueError
            For a precomputed metric or a supervised fit (as umap-learn), or data with the wrong number of features.
        """
        _umap_extra.update(self, X, ensure_all_finite)

    def _graph_memberships(self, idx, dst, n_ref):
        """transform_mode="graph": the new points' memberships by umap-learn's transform rules (the state's rules;
        with no layout run, a state of 0 epochs over the graph carries them)."""
        state = getattr(self, "_state", None)
        if state is None:
            params = self._layout_params(self._n_neighbors, 1, 1, 0)
            params["n_epochs"] = 0
            state = _core.UmapState.prepare_graph(*_parts(self.graph_), n_ref, np.zeros((0, 1), dtype=np.float32),
                                                  params, "random", np.zeros((0, 0)), False)
        return _csr(state.transform_memberships(idx, dst), (idx.shape[0], n_ref)).tocoo()

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """umap-learn's output names: "umap0", "umap1", ... (one per embedding dimension)."""
        if not hasattr(self, "_n_features_out"):
            raise ValueError("This UMAP instance is not fitted yet. Call 'fit' with appropriate arguments before "
                             "using this estimator.")
        return np.asarray([f"umap{i}" for i in range(self._n_features_out)], dtype=object)

    # ------------------------------------------------------------------------------------------ composition
    def _combine(self, other: "UMAP", op: str) -> "UMAP":
        for m in (self, other):
            if not isinstance(m, UMAP) or not hasattr(m, "graph_"):
                raise ValueError("Only fitted UMAP models can be combined")
        if self.graph_.shape[0] != other.graph_.shape[0]:
            raise ValueError("Only models with the equivalent samples can be combined")
        n = self.graph_.shape[0]
        left, right = _parts(self.graph_), _parts(other.graph_)
        if op == "*":
            g = _core.fuzzy_general_intersection(*left, *right, n, 0.5, False)
        elif op == "+":
            g = _core.fuzzy_general_union(*left, *right, n)
        else:
            g = _core.fuzzy_general_intersection(*left, *right, n, 0.5, True)
        graph = _csr(_core.fuzzy_reset_local_connectivity(*g, n, op != "-", 1), (n, n))
        result = UMAP()
        result.graph_ = graph
        init = "spectral"
        if sp.csgraph.connected_components(graph)[0] > 1:
            warnings.warn("Combined graph is not connected but multi-component layout is unsupported. Falling back "
                          "to random initialization.")
            init = "random"
        epochs = [m.n_epochs for m in (self, other) if m.n_epochs is not None]
        result.n_epochs = max(epochs) if epochs else None
        result.n_components = min(self.n_components, other.n_components)
        result.learning_rate = min(self.learning_rate, other.learning_rate)
        result.a, result.b = float(np.mean([self._a, other._a])), float(np.mean([self._b, other._b]))
        result.repulsion_strength = float(np.mean([self.repulsion_strength, other.repulsion_strength]))
        result.negative_sample_rate = float(np.mean([self.negative_sample_rate, other.negative_sample_rate]))
        result.n_neighbors = max(self.n_neighbors, other.n_neighbors)
        result.random_state = 42
        result._n_neighbors = min(result.n_neighbors, n - 1)
        params = result._layout_params(result._n_neighbors, int(result.n_components), resolve_n_jobs(self.n_jobs), 42)
        result.embedding_ = result._layout(graph, None, params, init)
        result._knn_search_index = None
        result._n_features_out = result.embedding_.shape[1]
        return result

    def __mul__(self, other: "UMAP") -> "UMAP":
        """Intersection of both models' graphs, laid out anew (umap-learn's model1 * model2)."""
        return self._combine(other, "*")

    def __add__(self, other: "UMAP") -> "UMAP":
        """Union of both models' graphs, laid out anew (umap-learn's model1 + model2)."""
        return self._combine(other, "+")

    def __sub__(self, other: "UMAP") -> "UMAP":
        """This model's graph less the other's (umap-learn's model1 - model2), laid out anew."""
        return self._combine(other, "-")


def _data_key(X) -> Any:
    """A fingerprint of the training data (transform returns embedding_ for the very same data, as umap-learn)."""
    import hashlib
    h = hashlib.sha1()
    if sp.issparse(X):
        for part in (X.indptr, X.indices, X.data):
            h.update(np.ascontiguousarray(part).tobytes())
    else:
        h.update(np.ascontiguousarray(X).tobytes())
    return (X.shape, sp.issparse(X), h.hexdigest())
