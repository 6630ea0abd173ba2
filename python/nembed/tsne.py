"""openTSNE-compatible t-SNE: ``TSNE``, ``TSNEEmbedding``, ``PartialTSNEEmbedding``, ``OptimizationInterrupt``.

The optimisation itself runs in nembed's C++ core (``nembed::TsneEmbedding``) with the GIL released; these
classes only hold parameters and move arrays.
"""
from __future__ import annotations

import time
import warnings
from typing import Any, Callable, List, Optional, Sequence, Union

import numpy as np
import scipy.sparse as sp

from . import _core
from . import affinity as _affinity
from ._utils import (as_float32_matrix, as_float64_matrix, check_affinity_metric, csr_from_parts, csr_parts,
                     handle_sigint, optional_float, resolve_n_jobs, resolve_seed)

__all__ = ["TSNE", "TSNEEmbedding", "PartialTSNEEmbedding", "OptimizationInterrupt"]

_GRADIENT_KEYS = ("dof", "negative_gradient_method", "theta", "n_interpolation_points", "min_num_intervals",
                  "ints_in_interval", "n_jobs")
_OPTIMIZER_KEYS = ("learning_rate", "exaggeration", "momentum", "max_grad_norm", "max_step_norm", "min_gain",
                   "callbacks", "callbacks_every_iters", "verbose")
_DEFAULT_PARAMS = dict(learning_rate="auto", momentum=0.8, exaggeration=None, dof=1, min_gain=0.01,
                       max_grad_norm=None, max_step_norm=5, negative_gradient_method="auto", theta=0.5,
                       n_interpolation_points=3, min_num_intervals=50, ints_in_interval=1, n_jobs=1, callbacks=None,
                       callbacks_every_iters=50, verbose=False)


class OptimizationInterrupt(InterruptedError):
    """Optimisation was stopped by a callback.

    Parameters
    ----------
    error : float
        The KL divergence of the embedding where it stopped.
    final_embedding : TSNEEmbedding or PartialTSNEEmbedding
        The embedding where it stopped.
    """

    def __init__(self, error: float, final_embedding: Any):
        super().__init__(f"optimization interrupted by a callback (KL divergence {error:.4f})")
        self.error = error
        self.final_embedding = final_embedding


def _method_name(name: Any) -> str:
    if callable(name):
        raise ValueError("callable negative_gradient_method values are not supported by nembed")
    return str(_core.parse_gradient_method(str(name)))


def _callback_list(callbacks) -> List[Callable]:
    if callbacks is None:
        return []
    if callable(callbacks):
        return [callbacks]
    callbacks = list(callbacks)
    for cb in callbacks:
        if not callable(cb):
            raise ValueError(f"callbacks must be callable, got {cb!r}")
    return callbacks


def _gradient_kwargs(params: dict) -> dict:
    return dict(dof=float(params["dof"]), negative_gradient_method=_method_name(params["negative_gradient_method"]),
                theta=float(params["theta"]), n_interpolation_points=int(params["n_interpolation_points"]),
                min_num_intervals=int(params["min_num_intervals"]),
                ints_in_interval=float(params["ints_in_interval"]), n_threads=resolve_n_jobs(params["n_jobs"]))


def _learning_rate(value) -> Optional[float]:
    if isinstance(value, str):
        if value != "auto":
            raise ValueError(f"learning_rate must be a positive number or 'auto', got {value!r}")
        return None
    return optional_float(value, "learning_rate")


def _run_optimize(state, Y: np.ndarray, n_iter: int, params: dict, wrap: Callable[[np.ndarray], Any]):
    """One optimize call on a C++ state; returns (new positions, report)."""
    if not isinstance(n_iter, (int, np.integer)) or n_iter < 0:
        raise ValueError(f"n_iter must be a non-negative integer, got {n_iter!r}")
    callbacks = _callback_list(params.get("callbacks"))
    for cb in callbacks:
        if hasattr(cb, "optimization_about_to_start"):
            cb.optimization_about_to_start()

    def callback(iteration, error, embedding):
        view = wrap(embedding)
        stop = False
        for cb in callbacks:
            stop = bool(cb(iteration, error, view)) or stop
        return stop

    exaggeration = params.get("exaggeration")
    verbose = bool(params.get("verbose", False))
    lr = _learning_rate(params.get("learning_rate", "auto"))
    start = time.perf_counter()
    if verbose:
        print(f"===> Running optimization with exaggeration={1.0 if exaggeration is None else exaggeration:.2f}, "
              f"lr={'auto' if lr is None else lr}, for {n_iter} iterations...", flush=True)
    Ynew, report = state.optimize(
        Y, int(n_iter), learning_rate=lr, exaggeration=1.0 if exaggeration is None else float(exaggeration),
        momentum=float(params.get("momentum", 0.8)),
        max_grad_norm=optional_float(params.get("max_grad_norm"), "max_grad_norm"),
        max_step_norm=optional_float(params.get("max_step_norm"), "max_step_norm"),
        min_gain=float(params.get("min_gain", 0.01)), callback=callback if callbacks else None,
        callbacks_every_iters=int(params.get("callbacks_every_iters", 50)), verbose=verbose,
        handle_sigint=handle_sigint())
    if verbose:
        print(f"   --> Time elapsed: {time.perf_counter() - start:.2f} seconds", flush=True)
    return Ynew, report


def _run_phases(embedding, phases: List[dict], params: dict, verbose: bool = False):
    """openTSNE's schedule (a list from _core.tsne_phases / _core.transform_phases) as one optimize call per phase;
    a callback stop returns the embedding where it stopped."""
    try:
        for phase in phases:
            embedding.optimize(phase["n_iter"], inplace=True, propagate_exception=True,
                               exaggeration=phase["exaggeration"], momentum=phase["momentum"], **params)
    except OptimizationInterrupt as ex:
        if verbose:
            print("Optimization was interrupted with callback.", flush=True)
        return ex.final_embedding
    return embedding


class TSNEEmbedding(np.ndarray):
    """A t-SNE embedding: an (n_samples, n_components) float64 array that can be optimised further and can embed
    new points.

    Parameters
    ----------
    embedding : array_like of shape (n_samples, n_components)
        Initial positions.
    affinities : nembed.affinity.Affinities
        Holds P (and the kNN index used by :meth:`transform`).
    random_state : int, RandomState or None
    optimizer : TSNEEmbedding, optional
        Not used (the optimizer state lives with the embedding; use ``inplace=True`` to keep gains).
    **gradient_descent_params
        Defaults for :meth:`optimize`: learning_rate, momentum, exaggeration, dof, min_gain, max_grad_norm,
        max_step_norm, negative_gradient_method, theta, n_interpolation_points, min_num_intervals,
        ints_in_interval, n_jobs, callbacks, callbacks_every_iters, verbose.
    """

    def __new__(cls, embedding, affinities, random_state=None, optimizer=None, **gradient_descent_params):
        unknown = set(gradient_descent_params) - set(_DEFAULT_PARAMS)
        if unknown:
            raise TypeError(f"unexpected gradient descent parameters: {sorted(unknown)}")
        obj = np.array(as_float64_matrix(embedding), dtype=np.float64, order="C", copy=True).view(cls)
        obj.affinities = affinities
        obj.gradient_descent_params = {**_DEFAULT_PARAMS, **gradient_descent_params}
        obj.random_state = random_state
        obj.kl_divergence = None
        obj._state = None
        return obj

    def __array_finalize__(self, obj):
        if obj is None:
            return
        self.affinities = getattr(obj, "affinities", None)
        self.gradient_descent_params = dict(getattr(obj, "gradient_descent_params", _DEFAULT_PARAMS))
        self.random_state = getattr(obj, "random_state", None)
        self.kl_divergence = getattr(obj, "kl_divergence", None)
        self._state = None  # views and copies never share the C++ optimizer state

    # ------------------------------------------------------------------ state
    def _get_state(self):
        if self.ndim != 2:
            raise ValueError("a TSNEEmbedding must be 2-D")
        params = _gradient_kwargs(self.gradient_descent_params)
        if self._state is None:
            if self.affinities is None or getattr(self.affinities, "P", None) is None:
                raise ValueError("this embedding has no affinities to optimise against")
            P = sp.csr_matrix(self.affinities.P, dtype=np.float64)
            P.sum_duplicates()
            P.sort_indices()
            holder = getattr(getattr(self.affinities, "knn_index", None), "_holder", None)
            self._state = _core.TsneState.from_affinities(np.ascontiguousarray(self), *csr_parts(P), **params,
                                                          knn_index=holder)
        else:
            self._state.set_gradient_params(**params)
        return self._state

    @property
    def P(self) -> sp.csr_matrix:
        return self.affinities.P

    # ------------------------------------------------------------------ optimisation
    def optimize(self, n_iter: int, inplace: bool = False, propagate_exception: bool = False,
                 **gradient_descent_params) -> "TSNEEmbedding":
        """Runs `n_iter` gradient-descent iterations, continuing the optimizer state (gains, momentum).

        Parameters
        ----------
        n_iter : int
        inplace : bool
            Update this embedding (and its optimizer state) rather than a copy.
        propagate_exception : bool
            Raise :class:`OptimizationInterrupt` when a callback stops the run (else return the embedding).
        **gradient_descent_params
            Overrides of the defaults given at construction (learning_rate "auto" = N / exaggeration, ...).

        Returns
        -------
        TSNEEmbedding

        Raises
        ------
        OptimizationInterrupt
            When a callback stops the run and `propagate_exception` is set.
        KeyboardInterrupt
            On Ctrl-C; the embedding keeps the last whole iteration.
        """
        unknown = set(gradient_descent_params) - set(_DEFAULT_PARAMS)
        if unknown:
            raise TypeError(f"unexpected gradient descent parameters: {sorted(unknown)}")
        if inplace:
            target = self
        else:
            target = TSNEEmbedding.__new__(TSNEEmbedding, self, self.affinities, random_state=self.random_state)
            target.gradient_descent_params = dict(self.gradient_descent_params)
            target.kl_divergence = self.kl_divergence
            if self._state is not None:
                target._state = self._state.__copy__()
        params = {**target.gradient_descent_params, **gradient_descent_params}
        saved = target.gradient_descent_params
        target.gradient_descent_params = params  # this call's overrides only
        try:
            state = target._get_state()
        finally:
            target.gradient_descent_params = saved

        def wrap(Y):
            view = Y.view(TSNEEmbedding)
            view.affinities = target.affinities
            return view

        try:
            Y, report = _run_optimize(state, np.ascontiguousarray(target), n_iter, params, wrap)
        except KeyboardInterrupt:
            target[...] = state.embedding  # keep the whole iterations that were done
            raise
        target[...] = Y
        target.kl_divergence = report["kl"]
        if report["stopped"] and propagate_exception:
            raise OptimizationInterrupt(error=report["kl"], final_embedding=target)
        return target

    # ------------------------------------------------------------------ new points
    def prepare_partial(self, X, initialization: Union[str, np.ndarray] = "median", k: int = 25,
                        **affinity_params) -> "PartialTSNEEmbedding":
        """Prepares new points for optimisation against this (fixed) embedding.

        Parameters
        ----------
        X : array_like of shape (n_new, n_features)
        initialization : "median", "weighted", "random" or array of shape (n_new, n_components)
        k : int
            Neighbours that place each new point initially.
        **affinity_params
            ``perplexity`` (default 5) of the new points' affinities.

        Returns
        -------
        PartialTSNEEmbedding
        """
        perplexity = float(affinity_params.pop("perplexity", 5))
        if affinity_params:
            raise TypeError(f"unexpected affinity parameters: {sorted(affinity_params)}")
        state = self._get_state()
        if not state.can_transform:
            raise TypeError("this embedding was fitted from affinities without a kNN index; it cannot embed new "
                            "points (fit it from data)")
        state.set_embedding(np.ascontiguousarray(self))
        Xf = as_float32_matrix(X)
        init = self._initial_positions(Xf, initialization, k)
        part = state.prepare_partial(Xf, perplexity, int(k), init, handle_sigint=handle_sigint())
        params = {**self.gradient_descent_params}
        return PartialTSNEEmbedding._from_state(part, self, params)

    def _initial_positions(self, Xf: np.ndarray, initialization, k: int) -> Optional[np.ndarray]:
        if isinstance(initialization, str):
            if initialization == "median":
                return None  # the C++ default
            n_ref = self.shape[0]
            if initialization == "weighted":
                idx, dst = self.affinities.knn_index.query(Xf, min(int(k), n_ref))
                return _core.median_init(np.ascontiguousarray(self), idx, dst, weighted=True)
            if initialization == "random":
                return _core.random_init(Xf.shape[0], self.shape[1], resolve_seed(self.random_state), 1e-4)
            raise ValueError(f"unknown initialization {initialization!r}; expected 'median', 'weighted', "
                             "'random' or an array")
        init = as_float64_matrix(initialization, "initialization")
        if init.shape != (Xf.shape[0], self.shape[1]):
            raise ValueError(f"initialization has shape {init.shape}, expected {(Xf.shape[0], self.shape[1])}")
        return init

    def transform(self, X, perplexity: float = 5, initialization: Union[str, np.ndarray] = "median", k: int = 25,
                  learning_rate: float = 0.1, early_exaggeration: float = 4, early_exaggeration_iter: int = 0,
                  exaggeration: float = 1.5, n_iter: int = 250, initial_momentum: float = 0.8,
                  final_momentum: float = 0.8, max_grad_norm: Optional[float] = 0.25,
                  max_step_norm: Optional[float] = None) -> "PartialTSNEEmbedding":
        """Embeds new points into this embedding (which does not move); openTSNE's defaults.

        Parameters
        ----------
        X : array_like of shape (n_new, n_features)
        perplexity : float
            Of the new points' affinities to the reference points.
        initialization, k
            See :meth:`prepare_partial`.
        learning_rate, early_exaggeration, early_exaggeration_iter, exaggeration, n_iter,
        initial_momentum, final_momentum, max_grad_norm, max_step_norm
            The two optimisation phases (learning_rate must be a number).

        Returns
        -------
        PartialTSNEEmbedding of shape (n_new, n_components)
        """
        if isinstance(learning_rate, str):
            raise ValueError("transform: learning_rate must be a number ('auto' is not defined here)")
        part = self.prepare_partial(X, initialization=initialization, k=k, perplexity=perplexity)
        common = dict(learning_rate=learning_rate, max_grad_norm=max_grad_norm, max_step_norm=max_step_norm)
        phases = _core.transform_phases(int(early_exaggeration_iter), float(early_exaggeration), int(n_iter),
                                        float(exaggeration), float(initial_momentum), float(final_momentum))
        return _run_phases(part, phases, common)

    # ------------------------------------------------------------------ pickling
    def __reduce__(self):
        return (_rebuild_embedding, (np.asarray(self).copy(), self.affinities, self.gradient_descent_params,
                                     self.random_state, self.kl_divergence))

    def __deepcopy__(self, memo):
        out = _rebuild_embedding(np.asarray(self).copy(), self.affinities, self.gradient_descent_params,
                                 self.random_state, self.kl_divergence)
        if self._state is not None:
            out._state = self._state.__copy__()
        return out


def _rebuild_embedding(data, affinities, params, random_state, kl):
    params = dict(params)
    params.pop("callbacks", None)
    emb = TSNEEmbedding(data, affinities, random_state=random_state, **params)
    emb.kl_divergence = kl
    return emb


class PartialTSNEEmbedding(np.ndarray):
    """New points embedded against a fixed reference :class:`TSNEEmbedding` (no interactions among themselves).

    Created by :meth:`TSNEEmbedding.prepare_partial` / :meth:`TSNEEmbedding.transform`; call :meth:`optimize`.
    """

    def __new__(cls, embedding, reference_embedding: TSNEEmbedding, P, **gradient_descent_params):
        Y = as_float64_matrix(embedding)
        Pm = sp.csr_matrix(P, dtype=np.float64)
        Pm.sum_duplicates()
        Pm.sort_indices()
        state = reference_embedding._get_state()
        part = state.prepare_partial_from(*csr_parts(Pm), Y)
        return cls._from_state(part, reference_embedding, {**_DEFAULT_PARAMS, **gradient_descent_params})

    @classmethod
    def _from_state(cls, state, reference, params) -> "PartialTSNEEmbedding":
        obj = np.array(state.embedding, copy=True).view(cls)
        obj._state = state
        obj.reference_embedding = reference
        obj.gradient_descent_params = dict(params)
        obj.kl_divergence = None
        return obj

    def __array_finalize__(self, obj):
        if obj is None:
            return
        self._state = None
        self.reference_embedding = getattr(obj, "reference_embedding", None)
        self.gradient_descent_params = dict(getattr(obj, "gradient_descent_params", _DEFAULT_PARAMS))
        self.kl_divergence = getattr(obj, "kl_divergence", None)

    @property
    def P(self) -> sp.csr_matrix:
        if self._state is None:
            raise ValueError("this array is a view or copy of a partial embedding and holds no state")
        return csr_from_parts(self._state.P, (self.shape[0], self.reference_embedding.shape[0]))

    def optimize(self, n_iter: int, inplace: bool = False, propagate_exception: bool = False,
                 **gradient_descent_params) -> "PartialTSNEEmbedding":
        """Optimises the new points' positions (see :meth:`TSNEEmbedding.optimize`); learning_rate must be a number.

        Raises
        ------
        OptimizationInterrupt
            When a callback stops the run and `propagate_exception` is set.
        """
        if self._state is None:
            raise ValueError("this array is a view or copy of a partial embedding and holds no state")
        unknown = set(gradient_descent_params) - set(_DEFAULT_PARAMS)
        if unknown:
            raise TypeError(f"unexpected gradient descent parameters: {sorted(unknown)}")
        params = {**self.gradient_descent_params, **gradient_descent_params}
        if _learning_rate(params.get("learning_rate", "auto")) is None:
            params["learning_rate"] = 0.1  # openTSNE's transform rate; "auto" is undefined for partial embeddings
        target = self if inplace else PartialTSNEEmbedding._from_state(self._state.__copy__(),
                                                                       self.reference_embedding,
                                                                       self.gradient_descent_params)
        if not np.array_equal(np.asarray(target), target._state.embedding):
            raise ValueError("the positions of a partial embedding can only be changed by optimize()")

        def wrap(Y):
            return np.asarray(Y).view(PartialTSNEEmbedding)

        try:
            Y, report = _run_optimize(target._state, np.ascontiguousarray(target), n_iter, params, wrap)
        except KeyboardInterrupt:
            target[...] = target._state.embedding
            raise
        target[...] = Y
        target.kl_divergence = report["kl"]
        if report["stopped"] and propagate_exception:
            raise OptimizationInterrupt(error=report["kl"], final_embedding=target)
        return target


class TSNE:
    """t-Distributed Stochastic Neighbour Embedding with openTSNE's parameters and defaults.

    Parameters
    ----------
    n_components : int
        Embedding dimension (FFT supports 1 and 2).
    perplexity : float or list of float
        A list gives the multiscale mixture.
    learning_rate : float or "auto"
        "auto" = N / exaggeration per phase.
    early_exaggeration_iter : int
    early_exaggeration : float or "auto"
        "auto" = 12, or max(12, exaggeration).
    n_iter : int
        Iterations after early exaggeration.
    exaggeration : float, optional
        Late exaggeration for the main phase.
    dof : float
        Kernel degrees of freedom (1 = Cauchy).
    theta : float
        Barnes-Hut accuracy.
    n_interpolation_points, min_num_intervals, ints_in_interval
        FFT interpolation grid.
    initialization : "pca", "spectral", "random" or array
    metric : str
        "euclidean", "cosine", "inner_product" or "precomputed" (X is then a distance matrix).
    metric_params : dict, optional
        Not supported.
    initial_momentum, final_momentum : float
    max_grad_norm : float, optional
    max_step_norm : float, optional
    n_jobs : int
        Threads; -1 = all cores.
    neighbors : str
        "auto", "exact", "approx"/"hnsw"/"annoy".
    negative_gradient_method : str
        "auto", "bh", "fft" or "exact".
    callbacks : callable or list of callables, optional
        ``callback(iteration, error, embedding)``; truthy return stops the run.
    callbacks_every_iters : int
    random_state : int, RandomState or None
    verbose : bool
    knn_kwargs : dict, optional
        Not supported (must be empty).
    """

    def __init__(self, n_components: int = 2, perplexity: Union[float, Sequence[float]] = 30,
                 learning_rate: Union[str, float] = "auto", early_exaggeration_iter: int = 250,
                 early_exaggeration: Union[str, float] = "auto", n_iter: int = 500,
                 exaggeration: Optional[float] = None, dof: float = 1, theta: float = 0.5,
                 n_interpolation_points: int = 3, min_num_intervals: int = 50, ints_in_interval: float = 1,
                 initialization: Union[str, np.ndarray] = "pca", metric: str = "euclidean",
                 metric_params: Optional[dict] = None, initial_momentum: float = 0.8, final_momentum: float = 0.8,
                 max_grad_norm: Optional[float] = None, max_step_norm: Optional[float] = 5, n_jobs: int = 1,
                 neighbors: str = "auto", negative_gradient_method: str = "auto", callbacks=None,
                 callbacks_every_iters: int = 50, random_state=None, verbose: bool = False,
                 knn_kwargs: Optional[dict] = None):
        self.n_components = n_components
        self.perplexity = perplexity
        self.learning_rate = learning_rate
        self.early_exaggeration_iter = early_exaggeration_iter
        self.early_exaggeration = early_exaggeration
        self.n_iter = n_iter
        self.exaggeration = exaggeration
        self.dof = dof
        self.theta = theta
        self.n_interpolation_points = n_interpolation_points
        self.min_num_intervals = min_num_intervals
        self.ints_in_interval = ints_in_interval
        self.initialization = initialization
        self.metric = metric
        self.metric_params = metric_params
        self.initial_momentum = initial_momentum
        self.final_momentum = final_momentum
        self.max_grad_norm = max_grad_norm
        self.max_step_norm = max_step_norm
        self.n_jobs = n_jobs
        self.neighbors = neighbors
        self.negative_gradient_method = negative_gradient_method
        self.callbacks = callbacks
        self.callbacks_every_iters = callbacks_every_iters
        self.random_state = random_state
        self.verbose = verbose
        self.knn_kwargs = knn_kwargs

    def _gradient_params(self) -> dict:
        return dict(learning_rate=self.learning_rate, dof=self.dof, max_grad_norm=self.max_grad_norm,
                    max_step_norm=self.max_step_norm, negative_gradient_method=self.negative_gradient_method,
                    theta=self.theta, n_interpolation_points=self.n_interpolation_points,
                    min_num_intervals=self.min_num_intervals, ints_in_interval=self.ints_in_interval,
                    n_jobs=self.n_jobs, callbacks=self.callbacks, callbacks_every_iters=self.callbacks_every_iters,
                    verbose=self.verbose)

    def _check(self):
        if self.metric_params:
            raise ValueError("metric_params are not supported by nembed")
        if self.knn_kwargs:
            raise ValueError("knn_kwargs are not supported by nembed")
        if callable(self.metric):
            raise ValueError("callable metrics are not supported; use a metric name or 'precomputed'")
        check_affinity_metric(self.metric)
        if not isinstance(self.n_components, (int, np.integer)) or self.n_components < 1:
            raise ValueError(f"n_components must be a positive integer, got {self.n_components!r}")
        for name in ("early_exaggeration_iter", "n_iter", "callbacks_every_iters"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < (1 if name == "callbacks_every_iters" else 0):
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        _callback_list(self.callbacks)
        _learning_rate(self.learning_rate)
        _method_name(self.negative_gradient_method)

    def prepare_initial(self, X=None, affinities=None, initialization=None) -> TSNEEmbedding:
        """Affinities and initial layout, without optimisation.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features), optional
        affinities : nembed.affinity.Affinities, optional
            Precomputed affinities (then X is only used for PCA initialisation).
        initialization : "pca", "spectral", "random" or array, optional
            Overrides the constructor's.

        Returns
        -------
        TSNEEmbedding
        """
        self._check()
        init = self.initialization if initialization is None else initialization
        seed = resolve_seed(self.random_state)
        n_threads = resolve_n_jobs(self.n_jobs)
        if X is None and affinities is None:
            raise ValueError("either X or affinities must be given")
        if self.verbose:
            print("-" * 80 + "\n" + repr(self) + "\n" + "-" * 80, flush=True)

        if affinities is None and self.metric != "precomputed":
            Xf = as_float32_matrix(X)
            if isinstance(init, str) and init == "pca" and Xf.shape[1] < self.n_components:
                # 1-D data: PCA cannot give more components than input columns (the CLI does the same)
                warnings.warn(f"initialization='pca' needs at least {self.n_components} input columns, X has "
                              f"{Xf.shape[1]}; using initialization='random'", UserWarning, stacklevel=3)
                init = "random"
            perps = list(self.perplexity) if isinstance(self.perplexity, (list, tuple, np.ndarray)) \
                else [self.perplexity]
            user = None if isinstance(init, str) else as_float64_matrix(init, "initialization")
            neighbors = "hnsw" if self.neighbors in ("approx", "annoy", "pynndescent") else str(self.neighbors)
            state = _core.TsneState.prepare(
                Xf, int(self.n_components), [float(p) for p in perps], init if isinstance(init, str) else "pca",
                user, str(self.metric), neighbors, **_gradient_kwargs(self._gradient_params()), seed=seed,
                verbose=bool(self.verbose), handle_sigint=handle_sigint())
            P = csr_from_parts(state.P, (Xf.shape[0], Xf.shape[0]))
            holder = state.knn_index(neighbors, seed)
            from .nearest_neighbors import KNNIndex
            knn = KNNIndex._from_holder(holder, k=0, n_jobs=self.n_jobs) if holder is not None else None
            with warnings.catch_warnings():  # the C++ preparation has already warned about a capped perplexity
                warnings.simplefilter("ignore")
                perps_used = sorted({float(_core.clamp_perplexity(Xf.shape[0], float(p))) for p in perps})
            aff = _affinity.PerplexityBasedNN._from_parts(P, knn, perps_used, n_jobs=self.n_jobs)
            emb = TSNEEmbedding(state.embedding, aff, random_state=self.random_state, **self._gradient_params())
            emb._state = state
            return emb

        if affinities is None:  # metric == "precomputed": X is a distance matrix
            affinities = _affinity.PerplexityBasedNN(X, perplexity=self.perplexity, metric="precomputed",
                                                     n_jobs=self.n_jobs, random_state=self.random_state,
                                                     verbose=self.verbose)
        if not isinstance(affinities, _affinity.Affinities) and not hasattr(affinities, "P"):
            raise ValueError("affinities must be an nembed.affinity.Affinities object")
        P = affinities.P
        n = P.shape[0]
        if X is not None and np.shape(X)[0] != n:
            raise ValueError(f"X has {np.shape(X)[0]} rows but the affinities describe {n} points")
        from . import initialization as _init
        if isinstance(init, str):
            if init == "pca" and X is not None and self.metric != "precomputed":
                Y0 = _init.pca(X, self.n_components, random_state=seed, n_jobs=self.n_jobs)
            elif init in ("pca", "spectral"):
                Y0 = _init.spectral(P, self.n_components, random_state=seed)
            elif init == "random":
                Y0 = _init.random(n, self.n_components, random_state=seed)
            else:
                raise ValueError(f"unknown initialization {init!r}; expected 'pca', 'spectral', 'random' or an array")
        else:
            Y0 = as_float64_matrix(init, "initialization")
            if Y0.shape != (n, self.n_components):
                raise ValueError(f"initialization has shape {Y0.shape}, expected {(n, self.n_components)}")
            if Y0[:, 0].std() > 1e-2:
                warnings.warn("the initial embedding has a standard deviation above 1e-2; this may give poor "
                              "embeddings (rescale it with nembed.initialization.rescale)", stacklevel=2)
        emb = TSNEEmbedding(Y0, affinities, random_state=self.random_state, **self._gradient_params())
        emb._get_state()  # validates P and the parameters now
        return emb

    def fit(self, X=None, affinities=None, initialization=None) -> TSNEEmbedding:
        """Fits an embedding: early exaggeration then the main phase (openTSNE's schedule).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features), optional
            float32/float64 in any order; other numeric dtypes are converted.
        affinities : nembed.affinity.Affinities, optional
        initialization : "pca", "spectral", "random" or array, optional

        Returns
        -------
        TSNEEmbedding
            A callback stop returns the embedding where it stopped.
        """
        embedding = self.prepare_initial(X, affinities, initialization)
        early = None if self.early_exaggeration == "auto" else optional_float(self.early_exaggeration,
                                                                               "early_exaggeration")
        phases = _core.tsne_phases(int(self.early_exaggeration_iter), early, int(self.n_iter),
                                   optional_float(self.exaggeration, "exaggeration"), float(self.initial_momentum),
                                   float(self.final_momentum))
        return _run_phases(embedding, phases, {}, verbose=self.verbose)

    def __repr__(self) -> str:
        return f"TSNE(n_components={self.n_components}, perplexity={self.perplexity}, n_jobs={self.n_jobs}, " \
               f"negative_gradient_method={self.negative_gradient_method!r}, random_state={self.random_state!r})"
