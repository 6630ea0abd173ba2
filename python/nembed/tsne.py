"""openTSNE-compatible t-SNE: ``TSNE``, ``TSNEEmbedding``, ``PartialTSNEEmbedding``, ``OptimizationInterrupt``,
the optimizer ``gradient_descent`` and the objectives ``kl_divergence_bh`` / ``kl_divergence_fft``.

The public call structure is openTSNE's (``TSNE.fit`` = ``prepare_initial`` + two ``TSNEEmbedding.optimize``
calls; ``optimize`` calls its ``gradient_descent`` optimizer with the resolved parameters), so code that wraps or
mocks those methods sees the same calls. The iterations themselves run in nembed's C++ core (``nembed::TsneEmbedding``
/ ``PartialTsneEmbedding``, one resumable state held by the optimizer) with the GIL released.
"""
from __future__ import annotations

import logging
import numbers
import time
import warnings
from collections.abc import Iterable
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
import scipy.sparse as sp

from . import _core
from . import affinity as _affinity
from . import initialization as initialization_scheme
from ._utils import (as_float64_matrix, check_affinity_metric, csr_parts, handle_sigint, optional_float,
                     resolve_n_jobs)

__all__ = ["TSNE", "TSNEEmbedding", "PartialTSNEEmbedding", "OptimizationInterrupt", "gradient_descent",
           "kl_divergence_bh", "kl_divergence_fft"]

log = logging.getLogger(__name__)

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


class UnsupportedDimensionError(ValueError, RuntimeError):
    """A negative-gradient method asked for an embedding dimension it does not support (a ValueError like every
    nembed parameter error, and the RuntimeError openTSNE raises)."""


# ---------------------------------------------------------------------------------------------- objectives
def _csr(P) -> sp.csr_matrix:
    """Canonical float64 CSR (sorted indices, no duplicates) of P; no copy when P already is one."""
    M = P if sp.isspmatrix_csr(P) and P.dtype == np.float64 else sp.csr_matrix(P, dtype=np.float64)
    if not M.has_canonical_format:
        M = M.copy()
        M.sum_duplicates()
        M.sort_indices()
    return M


def _objective(embedding, P, dof, method, theta=0.5, n_interpolation_points=3, min_num_intervals=50,
               ints_in_interval=1, reference_embedding=None, n_jobs=1) -> Tuple[float, np.ndarray]:
    Y = as_float64_matrix(embedding)
    ref = None if reference_embedding is None else as_float64_matrix(reference_embedding, "reference_embedding")
    return _core.tsne_kl_gradient(Y, *csr_parts(_csr(P)), float(dof), method, float(theta),
                                  int(n_interpolation_points), int(min_num_intervals), float(ints_in_interval),
                                  resolve_n_jobs(n_jobs), ref)


def _check_dimension(method: str, n_components: int) -> None:
    if method == "fft" and n_components > 2:
        raise UnsupportedDimensionError(
            f"fft supports 1 or 2 components, got {n_components} (negative_gradient_method='fft': interpolation-"
            "based t-SNE for >2 dimensions is unsupported; use 'bh' or 'exact')")
    if method == "bh" and n_components > 3:
        warnings.warn("BH t-SNE for >3 dimensions can lead to segfaults and is generally a bad idea. In the "
                      "future, calling BH with >3 dimensions will raise a RuntimeError. nembed's Barnes-Hut tree "
                      "is at most 3-D: the repulsion is computed exactly instead", category=FutureWarning,
                      stacklevel=3)


def kl_divergence_bh(embedding, P, dof, bh_params, reference_embedding=None, should_eval_error=False, n_jobs=1,
                     **_) -> Tuple[float, np.ndarray]:
    """KL divergence and gradient (openTSNE's convention) with Barnes-Hut repulsion.

    Parameters
    ----------
    embedding : ndarray (N, d)
    P : sparse (N, N), or (N, N_ref) with `reference_embedding`
    dof : float
    bh_params : dict with "theta"
    reference_embedding : ndarray (N_ref, d), optional
        New points against a fixed reference (per-point normalisation, as in transform).
    should_eval_error : bool
        Accepted for openTSNE compatibility; the KL is always computed.
    n_jobs : int

    Returns
    -------
    (kl_divergence, gradient ndarray (N, d))
    """
    d = np.shape(embedding)[1] if np.ndim(embedding) == 2 else 1
    _check_dimension("bh", d)
    return _objective(embedding, P, dof, "bh" if d <= 3 else "exact", theta=bh_params.get("theta", 0.5),
                      reference_embedding=reference_embedding, n_jobs=n_jobs)


def kl_divergence_fft(embedding, P, dof, fft_params, reference_embedding=None, should_eval_error=False, n_jobs=1,
                      **_) -> Tuple[float, np.ndarray]:
    """KL divergence and gradient with FFT-interpolated repulsion (1-D and 2-D embeddings; RuntimeError above).

    `fft_params`: "n_interpolation_points", "min_num_intervals", "ints_in_interval". Otherwise as
    :func:`kl_divergence_bh`.
    """
    _check_dimension("fft", np.shape(embedding)[1] if np.ndim(embedding) == 2 else 1)
    return _objective(embedding, P, dof, "fft", reference_embedding=reference_embedding, n_jobs=n_jobs,
                      **{k: fft_params[k] for k in ("n_interpolation_points", "min_num_intervals", "ints_in_interval")
                         if k in fft_params})


def kl_divergence_exact(embedding, P, dof, reference_embedding=None, should_eval_error=False, n_jobs=1,
                        **_) -> Tuple[float, np.ndarray]:
    """KL divergence and gradient with the exact O(N^2) repulsion (nembed's addition)."""
    return _objective(embedding, P, dof, "exact", reference_embedding=reference_embedding, n_jobs=n_jobs)


_OBJECTIVES = {"bh": kl_divergence_bh, "fft": kl_divergence_fft, "exact": kl_divergence_exact}


def _objective_name(objective_function) -> str:
    for name, f in _OBJECTIVES.items():
        if objective_function is f:
            return name
    if isinstance(objective_function, str):
        return str(_core.parse_gradient_method(objective_function))
    raise ValueError("negative_gradient_method: nembed runs its own objectives only ('bh', 'fft', 'exact', 'auto' or "
                     "nembed.tsne.kl_divergence_bh / kl_divergence_fft / kl_divergence_exact); custom callables are "
                     f"not supported, got {objective_function!r}")


def _resolve_method(method, n_points: int, n_components: int) -> str:
    """openTSNE's names to one of "bh", "fft", "exact"; "auto" as nembed's C++ rule (BH below 10 000 points or
    above 2-D, else FFT)."""
    name = _objective_name(method) if not isinstance(method, str) else str(_core.parse_gradient_method(method))
    if name == "auto":
        name = "bh" if n_points < 10000 or n_components > 2 else "fft"
    return name


def _check_callbacks(callbacks):
    if callbacks is None:
        return None
    if callable(callbacks) and not isinstance(callbacks, Iterable):
        return (callbacks,)
    if isinstance(callbacks, Iterable):
        if any(not callable(c) for c in callbacks):
            raise ValueError("`callbacks` must contain callable objects!")
        return callbacks
    raise ValueError("`callbacks` must be a callable object!")


def _handle_nice_params(embedding, optim_params: dict) -> None:
    """Turns the user-facing parameters into those of :class:`gradient_descent` (openTSNE's function): callbacks as a
    tuple, negative_gradient_method as `objective_function`, negative n_jobs resolved, learning_rate "auto" = N / exaggeration
    for full embeddings."""
    n_samples = embedding.shape[0]
    optim_params["callbacks"] = _check_callbacks(optim_params.get("callbacks"))
    optim_params["use_callbacks"] = optim_params["callbacks"] is not None
    reference = optim_params.get("reference_embedding")
    n_rep = reference.shape[0] if reference is not None else n_samples
    method = optim_params.pop("negative_gradient_method", "auto")
    optim_params["objective_function"] = method if callable(method) else \
        _OBJECTIVES[_resolve_method(method, n_rep, embedding.shape[1])]
    n_jobs = optim_params.get("n_jobs", 1)
    # As openTSNE: only counts below 1 are resolved here (-1 = all cores); the others reach gradient_descent as given
    optim_params["n_jobs"] = n_jobs if isinstance(n_jobs, numbers.Integral) and not isinstance(n_jobs, bool) \
        and n_jobs > 0 else resolve_n_jobs(n_jobs)
    learning_rate = optim_params.get("learning_rate", "auto")
    if isinstance(learning_rate, str):
        if learning_rate != "auto":
            raise ValueError(f"learning_rate must be a positive number or 'auto', got {learning_rate!r}")
        if reference is not None:
            # N / exaggeration is meant for full embeddings; new points take openTSNE's transform rate.
            learning_rate = 0.1
        else:
            exaggeration = optim_params.get("exaggeration")
            learning_rate = n_samples / (1 if exaggeration is None else exaggeration)
    optim_params["learning_rate"] = learning_rate


# ---------------------------------------------------------------------------------------------- optimizer
class gradient_descent:
    """openTSNE's optimizer: batch gradient descent with momentum and per-value gains.

    Holds the resumable C++ state (positions, P, gains, momentum) between calls; ``gains`` and ``update`` are
    copies of the optimizer's arrays after the last call (None before the first).
    """

    def __init__(self):
        self.gains = None
        self.update = None
        self._state = None
        self._P = None

    def copy(self) -> "gradient_descent":
        optimizer = self.__class__()
        if self.gains is not None:
            optimizer.gains = np.copy(self.gains)
        if self.update is not None:
            optimizer.update = np.copy(self.update)
        if self._state is not None:
            optimizer._state = self._state.__copy__()
            optimizer._P = self._P
        return optimizer

    def __getstate__(self):
        # The C++ state is rebuilt on the next call; gains and update travel as arrays.
        return {"gains": self.gains, "update": self.update}

    def __setstate__(self, state):
        self.__init__()
        self.gains = state.get("gains")
        self.update = state.get("update")

    def _get_state(self, Y: np.ndarray, P, reference_embedding, method: str, params: dict):
        partial = reference_embedding is not None
        if self._state is not None and partial != isinstance(self._state, _core.PartialTsneState):
            self._state, self._P = None, None
        if self._state is None:
            M = _csr(P)
            if partial:
                ref = as_float64_matrix(reference_embedding, "reference_embedding")
                self._state = _core.PartialTsneState.create(Y, *csr_parts(M), ref, negative_gradient_method=method,
                                                            **params)
            else:
                self._state = _core.TsneState.from_affinities(Y, *csr_parts(M), negative_gradient_method=method,
                                                              **params, knn_index=None)
            self._P = P
            return self._state
        self._state.set_gradient_params(negative_gradient_method=method, **params)
        if P is not self._P:  # new affinities (e.g. set_perplexity): same positions, gains and momentum
            if partial:
                ref = as_float64_matrix(reference_embedding, "reference_embedding")
                self._state = _core.PartialTsneState.create(Y, *csr_parts(_csr(P)), ref,
                                                            negative_gradient_method=method, **params)
            else:
                self._state.set_affinities(*csr_parts(_csr(P)))
            self._P = P
        return self._state

    def __call__(self, embedding, P, n_iter, objective_function, learning_rate="auto", momentum=0.8,
                 exaggeration=None, dof=1, min_gain=0.01, max_grad_norm=None, max_step_norm=5, theta=0.5,
                 n_interpolation_points=3, min_num_intervals=50, ints_in_interval=1, reference_embedding=None,
                 n_jobs=1, use_callbacks=False, callbacks=None, callbacks_every_iters=50, verbose=False):
        """Runs `n_iter` iterations on `embedding` in place; returns (KL divergence, embedding).

        Parameters are openTSNE's (``objective_function``: :func:`kl_divergence_bh`, :func:`kl_divergence_fft`,
        :func:`kl_divergence_exact` or a method name; ``learning_rate`` a number or "auto").

        Raises
        ------
        OptimizationInterrupt
            When a callback returns a truthy value (carrying the embedding where it stopped).
        """
        if not isinstance(embedding, np.ndarray):
            raise TypeError(f"`embedding` must be an instance of `np.ndarray`. Got `{type(embedding)}` instead")
        if not isinstance(n_iter, (int, np.integer)) or isinstance(n_iter, bool) or n_iter < 0:
            raise ValueError(f"n_iter must be a non-negative integer, got {n_iter!r}")
        if embedding.ndim != 2:
            raise ValueError("a t-SNE embedding must be 2-D (n_samples x n_components)")
        method = _resolve_method(objective_function, embedding.shape[0] if reference_embedding is None
                                 else np.shape(reference_embedding)[0], embedding.shape[1])
        _check_dimension(method, embedding.shape[1])
        if method == "bh" and embedding.shape[1] > 3:
            method = "exact"  # warned above
        if isinstance(learning_rate, str):
            if learning_rate != "auto":
                raise ValueError(f"learning_rate must be a positive number or 'auto', got {learning_rate!r}")
            learning_rate = None if reference_embedding is None else 0.1
        else:
            learning_rate = optional_float(learning_rate, "learning_rate")
        params = dict(dof=float(dof), theta=float(theta), n_interpolation_points=int(n_interpolation_points),
                      min_num_intervals=int(min_num_intervals), ints_in_interval=float(ints_in_interval),
                      n_threads=resolve_n_jobs(n_jobs))
        Y = np.ascontiguousarray(embedding, dtype=np.float64)
        state = self._get_state(Y, P, reference_embedding, method, params)

        callbacks = list(_check_callbacks(callbacks) or ()) if use_callbacks or callbacks is not None else []
        for cb in callbacks:
            getattr(cb, "optimization_about_to_start", lambda: None)()

        def callback(iteration, error, Yc):
            view = np.asarray(Yc).view(type(embedding))
            for name in ("affinities", "reference_embedding", "gradient_descent_params", "random_state"):
                if hasattr(embedding, name):
                    setattr(view, name, getattr(embedding, name))
            return any([bool(cb(iteration, error, view)) for cb in callbacks])

        ex = 1.0 if exaggeration is None else float(exaggeration)
        start = time.perf_counter()
        if verbose:
            print(f"===> Running optimization with exaggeration={ex:.2f}, "
                  f"lr={'auto' if learning_rate is None else f'{learning_rate:.2f}'} for {n_iter} iterations...",
                  flush=True)
        try:
            Ynew, report = state.optimize(
                Y, int(n_iter), learning_rate=learning_rate, exaggeration=ex, momentum=float(momentum),
                max_grad_norm=optional_float(max_grad_norm, "max_grad_norm"),
                max_step_norm=optional_float(max_step_norm, "max_step_norm"), min_gain=float(min_gain),
                callback=callback if callbacks else None, callbacks_every_iters=int(callbacks_every_iters),
                verbose=bool(verbose), handle_sigint=handle_sigint())
        except KeyboardInterrupt:
            embedding[...] = state.embedding  # keep the whole iterations that were done
            raise
        finally:
            self.gains, self.update = state.gains, state.update
        if verbose:
            print(f"   --> Time elapsed: {time.perf_counter() - start:.2f} seconds", flush=True)
        embedding[...] = Ynew
        if report["stopped"]:
            raise OptimizationInterrupt(error=report["kl"], final_embedding=embedding)
        return report["kl"], embedding


def _check_params(params: dict) -> None:
    unknown = set(params) - set(_DEFAULT_PARAMS)
    if unknown:
        raise TypeError(f"unexpected gradient descent parameters: {sorted(unknown)}")


def _check_num_samples(num_samples: int, required: int) -> None:
    if num_samples != required:
        raise ValueError(f"The provided initialization contains a different number of points ({num_samples}) than "
                         f"the data provided ({required}).")


def _check_num_dimensions(num_dimensions: int, required: int) -> None:
    if num_dimensions != required:
        raise ValueError(f"The provided initialization contains a different number of components ({num_dimensions}) "
                         f"than the embedding ({required}).")


class PartialTSNEEmbedding(np.ndarray):
    """New points embedded against a fixed reference :class:`TSNEEmbedding` (no interactions among themselves).

    Parameters
    ----------
    embedding : array_like of shape (n_new, n_components)
        Initial positions.
    reference_embedding : TSNEEmbedding
    P : sparse matrix of shape (n_new, n_reference)
        Affinities of each new point to the reference points (rows normally summing to 1).
    optimizer : gradient_descent, optional
    **gradient_descent_params
        Defaults for :meth:`optimize`.
    """

    def __new__(cls, embedding, reference_embedding, P, optimizer=None, **gradient_descent_params):
        _check_num_samples(np.shape(embedding)[0], P.shape[0])
        obj = np.array(embedding, dtype=np.float64, order="C").view(PartialTSNEEmbedding)
        obj.reference_embedding = reference_embedding
        obj.P = P
        obj.gradient_descent_params = gradient_descent_params
        if optimizer is None:
            optimizer = gradient_descent()
        elif not isinstance(optimizer, gradient_descent):
            raise TypeError(f"`optimizer` must be an instance of `gradient_descent`, but got `{type(optimizer)}`.")
        obj.optimizer = optimizer
        obj.kl_divergence = None
        return obj

    def __array_finalize__(self, obj):
        if obj is None:
            return
        self.reference_embedding = getattr(obj, "reference_embedding", None)
        self.P = getattr(obj, "P", None)
        self.gradient_descent_params = dict(getattr(obj, "gradient_descent_params", {}))
        self.optimizer = gradient_descent()  # views and copies never share the optimizer state
        self.kl_divergence = getattr(obj, "kl_divergence", None)

    def optimize(self, n_iter: int, inplace: bool = False, propagate_exception: bool = False,
                 **gradient_descent_params) -> "PartialTSNEEmbedding":
        """Optimises the new points' positions (see :meth:`TSNEEmbedding.optimize`); "auto" learning rate = 0.1.

        Raises
        ------
        OptimizationInterrupt
            When a callback stops the run and `propagate_exception` is set.
        """
        _check_params(gradient_descent_params)
        if inplace:
            embedding = self
        else:
            embedding = PartialTSNEEmbedding(np.copy(self), self.reference_embedding, self.P,
                                             optimizer=self.optimizer.copy(), **self.gradient_descent_params)
        optim_params = dict(self.gradient_descent_params)
        optim_params.update(gradient_descent_params)
        optim_params["n_iter"] = n_iter
        optim_params["reference_embedding"] = self.reference_embedding
        _handle_nice_params(embedding, optim_params)
        try:
            error, embedding = embedding.optimizer(embedding=embedding, P=self.P, **optim_params)
        except OptimizationInterrupt as ex:
            log.info("Optimization was interrupted with callback.")
            if propagate_exception:
                raise ex
            error, embedding = ex.error, ex.final_embedding
        embedding.kl_divergence = error
        return embedding

    def __reduce__(self):
        state = super().__reduce__()
        return state[0], state[1], state[2] + (self.optimizer, self.reference_embedding, self.P,
                                               self.gradient_descent_params, self.kl_divergence)

    def __setstate__(self, state):
        self.optimizer, self.reference_embedding, self.P, self.gradient_descent_params, self.kl_divergence = state[-5:]
        super().__setstate__(state[:-5])


class TSNEEmbedding(np.ndarray):
    """A t-SNE embedding: an (n_samples, n_components) float64 array that can be optimised further and can embed
    new points.

    Parameters
    ----------
    embedding : array_like of shape (n_samples, n_components)
        Initial positions (copied).
    affinities : nembed.affinity.Affinities
        Holds P (and the kNN index used by :meth:`transform`).
    dof, n_interpolation_points, min_num_intervals, ints_in_interval, negative_gradient_method
        Gradient parameters (openTSNE's defaults).
    random_state : int, RandomState or None
    optimizer : gradient_descent, optional
        An optimizer to continue (keeps gains and momentum); a new one by default.
    **gradient_descent_params
        Defaults for :meth:`optimize`: learning_rate, momentum, exaggeration, min_gain, max_grad_norm,
        max_step_norm, theta, n_jobs, callbacks, callbacks_every_iters, verbose.
    """

    def __new__(cls, embedding, affinities, dof=1, n_interpolation_points=3, min_num_intervals=50,
                ints_in_interval=1, negative_gradient_method="auto", random_state=None, optimizer=None,
                **gradient_descent_params):
        _check_params(gradient_descent_params)
        if affinities is None or getattr(affinities, "P", None) is None:
            raise ValueError("affinities must be an nembed.affinity.Affinities object holding P")
        _check_num_samples(np.shape(embedding)[0], affinities.P.shape[0])
        obj = np.array(as_float64_matrix(embedding), dtype=np.float64, order="C").view(TSNEEmbedding)
        obj.affinities = affinities
        obj.gradient_descent_params = dict(gradient_descent_params)
        obj.gradient_descent_params.update({
            "negative_gradient_method": negative_gradient_method, "n_interpolation_points": n_interpolation_points,
            "min_num_intervals": min_num_intervals, "ints_in_interval": ints_in_interval, "dof": dof})
        obj.random_state = random_state
        if optimizer is None:
            optimizer = gradient_descent()
        elif not isinstance(optimizer, gradient_descent):
            raise TypeError(f"`optimizer` must be an instance of `gradient_descent`, but got `{type(optimizer)}`.")
        obj.optimizer = optimizer
        obj.kl_divergence = None
        return obj

    def __array_finalize__(self, obj):
        if obj is None:
            return
        self.affinities = getattr(obj, "affinities", None)
        self.gradient_descent_params = dict(getattr(obj, "gradient_descent_params", {}))
        self.random_state = getattr(obj, "random_state", None)
        self.kl_divergence = getattr(obj, "kl_divergence", None)
        self.optimizer = gradient_descent()  # views and copies never share the optimizer state

    @property
    def P(self) -> sp.csr_matrix:
        return self.affinities.P

    def optimize(self, n_iter: int, inplace: bool = False, propagate_exception: bool = False,
                 **gradient_descent_params) -> "TSNEEmbedding":
        """Runs `n_iter` gradient-descent iterations, continuing the optimizer state (gains, momentum).

        Parameters
        ----------
        n_iter : int
        inplace : bool
            Update this embedding (and its optimizer) rather than a copy.
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
        _check_params(gradient_descent_params)
        if inplace:
            embedding = self
        else:
            embedding = TSNEEmbedding(np.copy(self), self.affinities, random_state=self.random_state,
                                      optimizer=self.optimizer.copy(), **self.gradient_descent_params)
        optim_params = dict(self.gradient_descent_params)
        optim_params.update(gradient_descent_params)
        optim_params["n_iter"] = n_iter
        _handle_nice_params(embedding, optim_params)
        try:
            error, embedding = embedding.optimizer(embedding=embedding, P=self.affinities.P, **optim_params)
        except OptimizationInterrupt as ex:
            log.info("Optimization was interrupted with callback.")
            if propagate_exception:
                raise ex
            error, embedding = ex.error, ex.final_embedding
        embedding.kl_divergence = error
        return embedding

    # ------------------------------------------------------------------ new points
    def transform(self, X, perplexity: Union[float, Sequence[float]] = 5,
                  initialization: Union[str, np.ndarray] = "median", k: int = 25, learning_rate: float = 0.1,
                  early_exaggeration: float = 4, early_exaggeration_iter: int = 0, exaggeration: float = 1.5,
                  n_iter: int = 250, initial_momentum: float = 0.8, final_momentum: float = 0.8,
                  max_grad_norm: Optional[float] = 0.25, max_step_norm: Optional[float] = None
                  ) -> "PartialTSNEEmbedding":
        """Embeds new points into this embedding (which does not move); openTSNE's defaults.

        Parameters
        ----------
        X : array_like of shape (n_new, n_features)
            (With metric="precomputed": distances of the new points to the reference points.)
        perplexity : float or list of float
            Of the new points' affinities (a list with multiscale affinities).
        initialization : "median", "weighted", "random" or array of shape (n_new, n_components)
        k : int
            Neighbours that place each new point initially (at most the affinity's neighbours).
        learning_rate, early_exaggeration, early_exaggeration_iter, exaggeration, n_iter,
        initial_momentum, final_momentum, max_grad_norm, max_step_norm
            The two optimisation phases (learning_rate must be a number).

        Returns
        -------
        PartialTSNEEmbedding of shape (n_new, n_components)

        Raises
        ------
        TypeError
            When the affinities take no perplexity (use prepare_partial and optimize).
        """
        if isinstance(learning_rate, str):
            raise ValueError("transform: learning_rate must be a number ('auto' is not defined here)")
        import inspect
        signature = inspect.signature(self.affinities.to_new).parameters
        if "perplexity" in signature:
            affinity_params = {"perplexity": perplexity}
        elif "perplexities" in signature:
            affinity_params = {"perplexities": perplexity}
        else:
            raise TypeError(f"`transform` currently does not support {type(self.affinities).__name__} affinities. "
                            "Please use `prepare_partial` and `optimize` to add points to the embedding.")
        embedding = self.prepare_partial(X, initialization=initialization, k=k, **affinity_params)
        common = dict(learning_rate=learning_rate, inplace=True, propagate_exception=True,
                      max_grad_norm=max_grad_norm, max_step_norm=max_step_norm)
        try:
            embedding.optimize(n_iter=early_exaggeration_iter, exaggeration=early_exaggeration,
                               momentum=initial_momentum, **common)
            embedding.optimize(n_iter=n_iter, exaggeration=exaggeration, momentum=final_momentum, **common)
        except OptimizationInterrupt as ex:
            log.info("Optimization was interrupted with callback.")
            embedding = ex.final_embedding
        return embedding

    def prepare_partial(self, X, initialization: Union[str, np.ndarray] = "median", k: int = 25,
                        **affinity_params) -> "PartialTSNEEmbedding":
        """Prepares new points for optimisation against this (fixed) embedding.

        Parameters
        ----------
        X : array_like of shape (n_new, n_features)
        initialization : "median", "weighted", "random" or array of shape (n_new, n_components)
        k : int
            Neighbours that place each new point initially (at most those the affinities query).
        **affinity_params
            Passed to ``self.affinities.to_new`` (e.g. ``perplexity``, default 5 here).

        Returns
        -------
        PartialTSNEEmbedding
        """
        if "perplexity" not in affinity_params and "perplexities" not in affinity_params:
            import inspect
            signature = inspect.signature(self.affinities.to_new).parameters
            if "perplexity" in signature:
                affinity_params["perplexity"] = 5
            elif "perplexities" in signature:
                affinity_params["perplexities"] = 5
        import inspect
        signature = inspect.signature(self.affinities.to_new).parameters
        if "perplexities" in signature and "perplexity" in affinity_params and "perplexities" not in affinity_params:
            affinity_params["perplexities"] = affinity_params.pop("perplexity")
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        P, neighbors, distances = self.affinities.to_new(X, return_distances=True, **affinity_params)
        n_new = P.shape[0]
        if isinstance(initialization, np.ndarray):
            _check_num_samples(initialization.shape[0], n_new)
            _check_num_dimensions(initialization.shape[1], self.shape[1])
            embedding = np.array(initialization)
        elif isinstance(initialization, str) and initialization == "random":
            embedding = initialization_scheme.random(n_new, self.shape[1], self.random_state)
        elif isinstance(initialization, str) and initialization == "weighted":
            embedding = initialization_scheme.weighted_mean(X, self, neighbors[:, :k], distances[:, :k])
        elif isinstance(initialization, str) and initialization == "median":
            embedding = initialization_scheme.median(self, neighbors[:, :k])
        else:
            raise ValueError(f"Unrecognized initialization scheme `{initialization}`.")
        return PartialTSNEEmbedding(embedding, self, P=P, **self.gradient_descent_params)

    # ------------------------------------------------------------------ pickling
    def __reduce__(self):
        state = super().__reduce__()
        return state[0], state[1], state[2] + (self.optimizer, self.affinities, self.gradient_descent_params,
                                               self.random_state, self.kl_divergence)

    def __setstate__(self, state):
        (self.optimizer, self.affinities, self.gradient_descent_params, self.random_state,
         self.kl_divergence) = state[-5:]
        super().__setstate__(state[:-5])

    def __deepcopy__(self, memo):
        import copy
        out = TSNEEmbedding(np.array(self), copy.deepcopy(self.affinities, memo), random_state=self.random_state,
                            optimizer=self.optimizer.copy(), **copy.deepcopy(
                                {k: v for k, v in self.gradient_descent_params.items() if k != "callbacks"}, memo))
        out.gradient_descent_params["callbacks"] = self.gradient_descent_params.get("callbacks")
        out.kl_divergence = self.kl_divergence
        return out


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
        Keyword arguments for the kNN index (see nembed.nearest_neighbors).
    """

    def __init__(self, n_components: int = 2, perplexity: Union[float, Sequence[float]] = 30,
                 learning_rate: Union[str, float] = "auto", early_exaggeration_iter: int = 250,
                 early_exaggeration: Union[str, float] = "auto", n_iter: int = 500,
                 exaggeration: Optional[float] = None, dof: float = 1, theta: float = 0.5,
                 n_interpolation_points: int = 3, min_num_intervals: int = 50, ints_in_interval: float = 1,
                 initialization: Union[str, np.ndarray] = "pca", metric: str = "euclidean",
                 metric_params: Optional[dict] = None, initial_momentum: float = 0.8, final_momentum: float = 0.8,
                 max_grad_norm: Optional[float] = None, max_step_norm: Optional[float] = 5, n_jobs: int = 1,
                 neighbors: str = "auto", knn_kwargs: Optional[dict] = None, negative_gradient_method: str = "auto",
                 callbacks=None, callbacks_every_iters: int = 50, random_state=None, verbose: bool = False):
        if isinstance(initialization, np.ndarray):
            _check_num_dimensions(initialization.shape[1], n_components)
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
        self.knn_kwargs = knn_kwargs
        self.negative_gradient_method = negative_gradient_method
        self.callbacks = callbacks
        self.callbacks_every_iters = callbacks_every_iters
        self.random_state = random_state
        self.verbose = verbose

    def _check(self):
        # pynndescent and annoy (and a user's index) define their own inner-product distance ("dot"): the early
        # check is for nembed's kNN; negative distances from any index are refused when the affinities are built
        if isinstance(self.neighbors, str) and self.neighbors not in ("pynndescent", "annoy"):
            check_affinity_metric(self.metric)
        if not isinstance(self.n_components, (int, np.integer)) or self.n_components < 1:
            raise ValueError(f"n_components must be a positive integer, got {self.n_components!r}")
        for name in ("early_exaggeration_iter", "n_iter", "callbacks_every_iters"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < (1 if name == "callbacks_every_iters" else 0):
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        _check_callbacks(self.callbacks)
        if isinstance(self.learning_rate, str) and self.learning_rate != "auto":
            raise ValueError(f"learning_rate must be a positive number or 'auto', got {self.learning_rate!r}")
        if isinstance(self.negative_gradient_method, str):
            _core.parse_gradient_method(self.negative_gradient_method)
        else:
            _objective_name(self.negative_gradient_method)
        resolve_n_jobs(self.n_jobs)

    def _early_exaggeration(self) -> float:
        """openTSNE's "auto": 12, or max(12, exaggeration) when a late exaggeration is set."""
        if isinstance(self.early_exaggeration, str):
            if self.early_exaggeration != "auto":
                raise ValueError(f"early_exaggeration must be a number or 'auto', got {self.early_exaggeration!r}")
            return 12 if self.exaggeration is None else max(12, self.exaggeration)
        return self.early_exaggeration

    def fit(self, X=None, affinities=None, initialization=None) -> TSNEEmbedding:
        """Fits an embedding: early exaggeration then the main phase (openTSNE's schedule).

        Parameters
        ----------
        X : array_like or sparse matrix of shape (n_samples, n_features), optional
        affinities : nembed.affinity.Affinities, optional
            Precomputed affinities (then the perplexity and kNN parameters are ignored).
        initialization : "pca", "spectral", "random" or array, optional
            Overrides the constructor's.

        Returns
        -------
        TSNEEmbedding
            A callback stop returns the embedding where it stopped.
        """
        if self.verbose:
            print("-" * 80, repr(self), "-" * 80, sep="\n", flush=True)
        early = self._early_exaggeration()
        embedding = self.prepare_initial(X, affinities, initialization)
        try:
            embedding.optimize(n_iter=self.early_exaggeration_iter, exaggeration=early,
                               momentum=self.initial_momentum, inplace=True, propagate_exception=True)
            embedding.optimize(n_iter=self.n_iter, exaggeration=self.exaggeration, momentum=self.final_momentum,
                               inplace=True, propagate_exception=True)
        except OptimizationInterrupt as ex:
            log.info("Optimization was interrupted with callback.")
            if self.verbose:
                print("Optimization was interrupted with callback.", flush=True)
            embedding = ex.final_embedding
        return embedding

    def prepare_initial(self, X=None, affinities=None, initialization=None) -> TSNEEmbedding:
        """Affinities and initial layout, without optimisation.

        Parameters
        ----------
        X : array_like or sparse matrix of shape (n_samples, n_features), optional
            (A square distance matrix with metric="precomputed".)
        affinities : nembed.affinity.Affinities, optional
            Precomputed affinities (then X is only used for PCA initialisation).
        initialization : "pca", "spectral", "random" or array, optional
            Overrides the constructor's. Without X (or with precomputed distances) "pca" becomes "spectral".

        Returns
        -------
        TSNEEmbedding
        """
        if X is None and affinities is None and initialization is None:
            raise ValueError("At least one of the parameters `X` or `affinities` must be specified!")
        if X is None and affinities is None:
            raise ValueError("either X or affinities must be given")
        self._check()
        if affinities is None:
            affinities = _affinity.MultiscaleMixture(
                X, self.perplexity, method=self.neighbors, metric=self.metric, metric_params=self.metric_params,
                n_jobs=self.n_jobs, random_state=self.random_state, verbose=self.verbose, knn_kwargs=self.knn_kwargs)
        else:
            if not isinstance(affinities, _affinity.Affinities):
                raise ValueError("`affinities` must be an instance of `nembed.affinity.Affinities`")
            log.info("Precomputed affinities provided. Ignoring perplexity-related parameters.")
        if initialization is None:
            initialization = self.initialization
        pca_fallback = isinstance(initialization, str) and initialization == "pca"
        if pca_fallback and X is None:
            log.warning("Attempting to use `pca` initalization, but no `X` matrix specified! Using `spectral` "
                        "initilization instead, which doesn't need access to the data matrix")
            initialization = "spectral"
        if pca_fallback and self.metric == "precomputed":
            log.warning("Attempting to use `pca` initalization, but using precomputed distance matrix! Using "
                        "`spectral` initilization instead, which doesn't need access to the data matrix.")
            initialization = "spectral"
        n_samples = X.shape[0] if X is not None and hasattr(X, "shape") else affinities.P.shape[0]
        if X is not None and np.shape(X)[0] != affinities.P.shape[0]:
            raise ValueError(f"X has {np.shape(X)[0]} rows but the affinities describe {affinities.P.shape[0]} points")
        if isinstance(initialization, str) and initialization == "pca" and X is not None \
                and np.shape(X)[1] < self.n_components:
            # PCA cannot give more components than input columns (the CLI does the same)
            warnings.warn(f"initialization='pca' needs at least {self.n_components} input columns, X has "
                          f"{np.shape(X)[1]}; using initialization='random'", UserWarning, stacklevel=2)
            initialization = "random"

        if isinstance(initialization, np.ndarray):
            _check_num_samples(initialization.shape[0], n_samples)
            _check_num_dimensions(initialization.shape[1], self.n_components)
            embedding = np.array(initialization)
            if np.any(np.std(embedding, axis=0) > 0.01):
                log.warning("Standard deviation of embedding is greater than 0.0001. Initial embeddings with high "
                            "variance may have display poor convergence.")
        elif not isinstance(initialization, str):
            embedding = as_float64_matrix(initialization, "initialization")
            _check_num_samples(embedding.shape[0], n_samples)
            _check_num_dimensions(embedding.shape[1], self.n_components)
        elif initialization == "pca":
            embedding = initialization_scheme.pca(X, self.n_components, random_state=self.random_state,
                                                  verbose=self.verbose, n_jobs=self.n_jobs)
        elif initialization == "random":
            embedding = initialization_scheme.random(n_samples, self.n_components, random_state=self.random_state,
                                                     verbose=self.verbose)
        elif initialization == "spectral":
            embedding = initialization_scheme.spectral(affinities.P, self.n_components,
                                                       random_state=self.random_state, verbose=self.verbose)
        else:
            raise ValueError(f"Unrecognized initialization scheme `{initialization}`; expected 'pca', 'spectral', "
                             "'random' or an array.")
        gradient_descent_params = dict(
            dof=self.dof, negative_gradient_method=self.negative_gradient_method, learning_rate=self.learning_rate,
            momentum=self.final_momentum, theta=self.theta, n_interpolation_points=self.n_interpolation_points,
            min_num_intervals=self.min_num_intervals, ints_in_interval=self.ints_in_interval,
            max_grad_norm=self.max_grad_norm, max_step_norm=self.max_step_norm, n_jobs=self.n_jobs,
            verbose=self.verbose, callbacks=self.callbacks, callbacks_every_iters=self.callbacks_every_iters)
        return TSNEEmbedding(embedding, affinities=affinities, random_state=self.random_state,
                             **gradient_descent_params)

    def get_params(self, deep: bool = True) -> dict:
        """The constructor's parameters (scikit-learn's convention)."""
        import inspect
        return {name: getattr(self, name) for name in inspect.signature(TSNE.__init__).parameters if name != "self"}

    def set_params(self, **params) -> "TSNE":
        valid = self.get_params()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for TSNE")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        return f"TSNE(n_components={self.n_components}, perplexity={self.perplexity}, n_jobs={self.n_jobs}, " \
               f"negative_gradient_method={self.negative_gradient_method!r}, random_state={self.random_state!r})"
