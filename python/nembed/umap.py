"""UMAP with umap-learn's model and defaults: ``nembed.UMAP``.

The kNN graph, fuzzy simplicial set, spectral initialisation and the SGD layout all run in nembed's C++ core with
the GIL released. The layout is optimised with a thread-count-independent scheme (see ``nembed/methods/umap.hpp``):
the same ``random_state`` gives the same embedding for any ``n_jobs``.
"""
from __future__ import annotations

import numbers
from typing import Any, Callable, Optional, Tuple

import numpy as np
import scipy.sparse as sp

from . import _core, _umap_extra
from ._utils import (as_float32_matrix, as_float64_matrix, check_affinity_metric, csr_from_parts, handle_sigint,
                     resolve_n_jobs, resolve_seed)

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


def _positive(value: Any, name: str, integer: bool = False, allow_zero: bool = False) -> Any:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or (integer and not isinstance(value, numbers.Integral)):
        raise ValueError(f"{name} must be a {'positive integer' if integer else 'positive number'}, got {value!r}")
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else 'positive'}, got {value!r}")
    return int(value) if integer else float(value)


class UMAP:
    """Uniform Manifold Approximation and Projection with umap-learn's constructor parameters and defaults.

    Parameters
    ----------
    n_neighbors : int
        Size of the local neighbourhood, counting the point itself (umap-learn's convention); >= 2.
    n_components : int
        Embedding dimension (any >= 1).
    metric : str
        Input metric: "euclidean" or "cosine" (the inner product is a kNN metric only: its 1 - <x, y> distances can be
        negative, and the fuzzy graph needs non-negative ones).
    n_epochs : int, optional
        Optimisation epochs; None = 500 up to 10 000 points, else 200.
    learning_rate : float
        Initial SGD learning rate, decayed linearly to 0.
    init : {"spectral", "pca", "random"} or ndarray
        Initialisation; an (n_samples, n_components) array is used as given (then rescaled to [0, 10]).
    min_dist, spread : float
        Shape of the output kernel; (a, b) are fitted from them unless given.
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
    transform_seed : int
        Seed of ``transform``'s negative sampling.
    n_jobs : int
        Threads (-1 = all cores).
    verbose : bool
        Print the stages.
    neighbors : {"auto", "exact", "hnsw"}
        nembed's kNN method (auto: exact up to N^2 * dims = 4e11, e.g. 70 000 x 50, else HNSW).
    callbacks : callable, optional
        ``callback(epoch, loss, embedding) -> bool`` called every ``callbacks_every_epochs`` epochs (loss: mean
        cross-entropy of the pairs sampled in that epoch); returning True stops the optimisation.
    callbacks_every_epochs : int
        Callback period.

    densmap, dens_lambda, dens_frac, dens_var_shift : bool, float, float, float
        densMAP (umap-learn's): also preserve the local density; the term acts in the last dens_frac of the epochs.
    output_dens : bool
        Also compute the local radii (log): ``rad_orig_``, ``rad_emb_``; fit_transform returns
        (embedding, rad_orig, rad_emb).

    umap-learn options nembed does not implement (targets/supervised UMAP, custom metrics) raise
    ValueError when set to a non-default value; ``low_memory`` and ``transform_queue_size`` are accepted and ignored.

    Attributes
    ----------
    embedding_ : ndarray (n_samples, n_components)
    graph_ : scipy.sparse.csr_matrix
        The fuzzy simplicial set the layout was optimised for (after umap-learn's pruning of weak edges).
    """

    def __init__(self, n_neighbors: int = 15, n_components: int = 2, metric: str = "euclidean",
                 n_epochs: Optional[int] = None, learning_rate: float = 1.0, init: Any = "spectral",
                 min_dist: float = 0.1, spread: float = 1.0, low_memory: bool = True, set_op_mix_ratio: float = 1.0,
                 local_connectivity: float = 1.0, repulsion_strength: float = 1.0, negative_sample_rate: int = 5,
                 transform_queue_size: float = 4.0, a: Optional[float] = None, b: Optional[float] = None,
                 random_state: Any = None, metric_kwds: Optional[dict] = None, target_n_neighbors: int = -1,
                 transform_seed: int = 42, densmap: bool = False, verbose: bool = False, n_jobs: int = -1,
                 neighbors: str = "auto", callbacks: Optional[Callable] = None, callbacks_every_epochs: int = 50,
                 dens_lambda: float = 2.0, dens_frac: float = 0.3, dens_var_shift: float = 0.1,
                 output_dens: bool = False):
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.metric = metric
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.init = init
        self.min_dist = min_dist
        self.spread = spread
        self.low_memory = low_memory
        self.set_op_mix_ratio = set_op_mix_ratio
        self.local_connectivity = local_connectivity
        self.repulsion_strength = repulsion_strength
        self.negative_sample_rate = negative_sample_rate
        self.transform_queue_size = transform_queue_size
        self.a = a
        self.b = b
        self.random_state = random_state
        self.metric_kwds = metric_kwds
        self.target_n_neighbors = target_n_neighbors
        self.transform_seed = transform_seed
        self.densmap = densmap
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.neighbors = neighbors
        self.callbacks = callbacks
        self.callbacks_every_epochs = callbacks_every_epochs
        self.dens_lambda = dens_lambda
        self.dens_frac = dens_frac
        self.dens_var_shift = dens_var_shift
        self.output_dens = output_dens

    def _validate(self, n_samples: int) -> dict:
        if self.metric_kwds:
            raise ValueError("metric_kwds are not supported (metrics: euclidean, cosine)")
        if self.target_n_neighbors != -1:
            raise ValueError("supervised UMAP (target_*) is not implemented by nembed")
        if not isinstance(self.metric, str):
            raise ValueError("metric must be a string: euclidean or cosine")
        check_affinity_metric(self.metric)
        n_neighbors = _positive(self.n_neighbors, "n_neighbors", integer=True)
        if n_neighbors < 2:
            raise ValueError(f"n_neighbors must be >= 2, got {n_neighbors}")
        if n_neighbors > n_samples:
            raise ValueError(f"n_neighbors ({n_neighbors}) must not exceed the number of samples ({n_samples})")
        n_epochs = None if self.n_epochs is None else _positive(self.n_epochs, "n_epochs", integer=True, allow_zero=True)
        if (self.a is None) != (self.b is None):
            raise ValueError("a and b must be given together")
        if self.callbacks is not None and not callable(self.callbacks):
            raise ValueError("callbacks must be a callable (epoch, loss, embedding) -> bool")
        return dict(n_neighbors=n_neighbors, n_components=_positive(self.n_components, "n_components", integer=True),
                    metric=self.metric, n_epochs=n_epochs,
                    learning_rate=_positive(self.learning_rate, "learning_rate"),
                    min_dist=_positive(self.min_dist, "min_dist", allow_zero=True),
                    spread=_positive(self.spread, "spread"),
                    a=None if self.a is None else _positive(self.a, "a"),
                    b=None if self.b is None else _positive(self.b, "b"),
                    set_op_mix_ratio=_positive(self.set_op_mix_ratio, "set_op_mix_ratio", allow_zero=True),
                    local_connectivity=_positive(self.local_connectivity, "local_connectivity", allow_zero=True),
                    repulsion_strength=_positive(self.repulsion_strength, "repulsion_strength", allow_zero=True),
                    negative_sample_rate=_positive(self.negative_sample_rate, "negative_sample_rate"),
                    transform_seed=_positive(self.transform_seed, "transform_seed", integer=True, allow_zero=True),
                    n_threads=resolve_n_jobs(self.n_jobs), neighbors=str(self.neighbors), verbose=bool(self.verbose))

    def fit(self, X: Any, y: Any = None) -> "UMAP":
        """Embeds X (n_samples, n_features); sets ``embedding_`` and ``graph_``. ``y`` is ignored.

        Raises
        ------
        ValueError
            For bad parameters or input.
        """
        X32 = as_float32_matrix(X)
        if X32.shape[0] < 2:
            raise ValueError("UMAP needs at least 2 samples")
        p = self._validate(X32.shape[0])
        if isinstance(self.init, str):
            init, init_array = self.init, np.zeros((0, 0))
        else:
            init, init_array = "user", as_float64_matrix(self.init, "init")
            if init_array.shape != (X32.shape[0], p["n_components"]):
                raise ValueError(f"init array has shape {init_array.shape}, expected "
                                 f"{(X32.shape[0], p['n_components'])}")
        seed = resolve_seed(self.random_state)
        sig = handle_sigint()
        _umap_extra.adjust_params(self, p, X32.shape[0])
        self._state = _core.UmapState.prepare(X32, init=init, init_array=init_array, seed=seed, handle_sigint=sig,
                                              **p)
        _umap_extra.after_prepare(self, X32, p)
        self._state.optimize(-1, self.callbacks, int(self.callbacks_every_epochs) if self.callbacks else 0, sig)
        self.embedding_ = self._state.embedding
        n = X32.shape[0]
        self.graph_ = csr_from_parts(self._state.graph, (n, n))
        self._a, self._b = self._state.a, self._state.b
        self.n_epochs_ = self._state.n_epochs
        self.timings_ = self._state.timings
        self._raw_shape = X32.shape
        _umap_extra.after_fit(self, X32, p, seed)
        return self

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        """``fit(X)`` and return ``embedding_``, or (embedding_, rad_orig_, rad_emb_) with ``output_dens``."""
        return _umap_extra.fit_transform_result(self.fit(X, y))

    def transform(self, X: Any) -> np.ndarray:
        """Embeds new points into the fitted embedding as umap-learn does (reference fixed).

        Raises
        ------
        ValueError
            Before ``fit``, or for data with the wrong number of features.
        """
        if not hasattr(self, "_state"):
            raise ValueError("this UMAP instance is not fitted yet; call fit first")
        X32 = as_float32_matrix(X)
        if X32.shape[1] != self._raw_shape[1]:
            raise ValueError(f"X has {X32.shape[1]} features, the model was fitted with {self._raw_shape[1]}")
        _umap_extra.check_transform(self)
        return self._state.transform(X32, handle_sigint())

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

    def __repr__(self) -> str:
        return (f"UMAP(n_neighbors={self.n_neighbors}, n_components={self.n_components}, min_dist={self.min_dist}, "
                f"spread={self.spread}, random_state={self.random_state!r})")
