"""TorchDR's generic ``AffinityMatcher`` (TorchDR 0.5's names, signature and defaults) run by nembed's C++ core:
min_Z loss_fn(P, affinity_out(Z)), P = ``affinity_in(X)`` (an ``nembed.torchdr`` affinity object) or X itself with
``affinity_in="precomputed"``; ``affinity_out`` one of ``NormalizedGaussianAffinity``, ``NormalizedStudentAffinity``,
``SinkhornAffinity`` (sqeuclidean); ``loss_fn`` "square_loss" or "cross_entropy_loss". The model and its gradient
are documented in docs/torchdr.md ("AffinityMatcher").

TorchDR's ``NeighborEmbedding`` base class is not provided: in TorchDR 0.5 it cannot be fitted on its own (its
``_compute_attractive_loss`` and ``_compute_repulsive_loss`` raise NotImplementedError); its methods are the classes
of ``nembed.torchdr`` (SNE, TSNE, ...).
"""
from __future__ import annotations

import numbers
from typing import Any, Dict, Optional, Union

import numpy as np
import scipy.sparse as sp

try:
    from sklearn.base import BaseEstimator, TransformerMixin
except ImportError as exc:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError("nembed.torchdr needs scikit-learn: pip install scikit-learn") from exc

from .. import _core
from .._utils import as_csr, as_float64_matrix, csr_parts, handle_sigint, resolve_n_jobs, resolve_seed
from .affinity import (NormalizedGaussianAffinity, NormalizedStudentAffinity, SinkhornAffinity, _Affinity,
                       _as_float32)

__all__ = ["AffinityMatcher"]

_LOSSES = ("square_loss", "cross_entropy_loss")
_OUTPUTS = (NormalizedGaussianAffinity, NormalizedStudentAffinity, SinkhornAffinity)


def _check_affinity_in(affinity_in: Any) -> None:
    if not isinstance(affinity_in, _Affinity) and not (isinstance(affinity_in, str) and affinity_in == "precomputed"):
        raise ValueError('[TorchDR] affinity_in must be an Affinity instance or "precomputed".')


def _check_affinity_out(affinity_out: Any) -> None:
    if affinity_out is None:
        return  # TorchDR accepts None here and fails when the loss is computed
    if not isinstance(affinity_out, _Affinity):
        raise ValueError("[TorchDR] ERROR : affinity_out must be an Affinity instance when not None.")
    if not isinstance(affinity_out, _OUTPUTS):
        raise ValueError(f"affinity_out: {type(affinity_out).__name__} is not supported as an output affinity "
                         "(supported: NormalizedGaussianAffinity, NormalizedStudentAffinity, SinkhornAffinity)")


def _check_loss_fn(loss_fn: Any) -> None:
    if not isinstance(loss_fn, str) or loss_fn not in _LOSSES:
        raise ValueError(f"[TorchDR] ERROR : Loss function {loss_fn} not supported.")


def _kwargs_dict(value: Any, name: str) -> Dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a dict or None, got {value!r}")
    return dict(value)


class AffinityMatcher(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Dimensionality reduction by matching two affinity matrices (TorchDR's ``AffinityMatcher``).

    ``fit_transform(X)`` computes P = affinity_in(X) (or takes X as P with ``affinity_in="precomputed"``) and
    minimises loss_fn(P, affinity_out(Z)) over the embedding Z with the named torch optimizer ("SGD", "Adam") and
    scheduler. ``encoder`` (a torch module) and ``input_layout="sharded"`` are not supported; ``device``,
    ``backend`` and ``compile`` are accepted for compatibility (nembed computes on the CPU, exactly).
    ``kwargs_affinity_out`` and ``kwargs_loss`` may only hold ``log`` with TorchDR's own choice (True for the
    cross-entropy on these log-affinities). ``n_jobs`` (nembed's) sets the threads.
    """

    def __init__(self, affinity_in: Any, affinity_out: Any = None, kwargs_affinity_out: Optional[Dict] = None,
                 n_components: int = 2, loss_fn: str = "square_loss", kwargs_loss: Optional[Dict] = None,
                 optimizer: str = "Adam", optimizer_kwargs: Optional[Dict] = None, lr: Union[float, str] = 1e0,
                 scheduler: Optional[str] = None, scheduler_kwargs: Optional[Dict] = None,
                 min_grad_norm: float = 1e-7, max_iter: int = 1000, init: Any = "pca", init_scaling: float = 1e-4,
                 device: str = "auto", backend: Any = None, verbose: bool = False,
                 random_state: Optional[float] = None, check_interval: int = 50, compile: bool = False,
                 encoder: Any = None, input_layout: str = "replicated", process_duplicates: bool = True,
                 n_jobs: int = -1):
        # TorchDR checks these three in __init__ (ValueError); fit checks them again after set_params.
        _check_loss_fn(loss_fn)
        _check_affinity_in(affinity_in)
        _check_affinity_out(affinity_out)
        for key, value in locals().items():
            if key != "self":
                setattr(self, key, value)

    # ----- the parameters for _core.affinity_matcher_fit -----
    def _output_params(self):
        out = self.affinity_out
        if out is None:
            raise ValueError("[TorchDR] ERROR : affinity_out is not set. Set it or implement _compute_loss method.")
        _check_affinity_out(out)
        p: Dict[str, Any] = {"metric": out.metric, "zero_diag": bool(out.zero_diag)}
        if isinstance(out, NormalizedGaussianAffinity):
            p.update(sigma=float(out.sigma), normalization_dim=out._dim)
        elif isinstance(out, NormalizedStudentAffinity):
            p.update(degrees_of_freedom=float(out.degrees_of_freedom), normalization_dim=out._dim)
        else:
            if getattr(out, "with_grad", False):
                raise ValueError("affinity_out: SinkhornAffinity(with_grad=True) is not supported")
            p.update(eps=float(out.eps), tol=float(out.tol), max_iter=int(out.max_iter), base_kernel=out.base_kernel)
        # TorchDR's _compute_loss: the cross-entropy takes log Q of these LogAffinities (log=True on both sides).
        log_default = self.loss_fn == "cross_entropy_loss"
        for name, kw in (("kwargs_affinity_out", self.kwargs_affinity_out), ("kwargs_loss", self.kwargs_loss)):
            kw = _kwargs_dict(kw, name)
            extra = set(kw) - {"log"}
            if extra:
                raise ValueError(f"{name}: unsupported keys {sorted(extra)} (only 'log')")
            if name == "kwargs_loss" and self.loss_fn == "square_loss" and kw:
                raise ValueError("kwargs_loss: square_loss takes no keyword arguments")
            if "log" in kw and bool(kw["log"]) != log_default:
                raise ValueError(f"{name}['log']={kw['log']!r} is not supported: TorchDR's {self.loss_fn} on "
                                 f"{type(out).__name__} uses log={log_default}")
        return type(out).__name__, p

    def _params(self) -> Dict[str, Any]:
        if self.device not in ("auto", "cpu", None):
            raise ValueError(f"device must be 'auto' or 'cpu' (this is nembed's CPU engine), got {self.device!r}")
        if self.encoder is not None:
            raise ValueError("encoder: nembed's AffinityMatcher optimises the embedding itself (no torch encoder)")
        if self.input_layout != "replicated":
            raise ValueError(f"input_layout must be 'replicated', got {self.input_layout!r}")
        lr = self.lr
        if isinstance(lr, str):
            if lr != "auto":
                raise ValueError(f"lr must be a positive number or 'auto', got {lr!r}")
            lr = 1.0  # TorchDR's AffinityMatcher: 'auto' has no rule and means 1
        elif isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr > 0:
            raise ValueError(f"lr must be a positive number or 'auto', got {lr!r}")
        if not isinstance(self.optimizer, str):
            raise TypeError(f"optimizer must be given by name (e.g. 'Adam'), got {self.optimizer!r}")
        if self.scheduler is not None and not isinstance(self.scheduler, str):
            raise TypeError(f"scheduler must be given by name or None, got {self.scheduler!r}")
        ok = _kwargs_dict(self.optimizer_kwargs, "optimizer_kwargs")
        sk = _kwargs_dict(self.scheduler_kwargs, "scheduler_kwargs")
        bad = set(ok) - {"momentum", "weight_decay", "betas", "eps"}
        if bad:
            raise ValueError(f"optimizer_kwargs: unsupported keys {sorted(bad)} (momentum, weight_decay, betas, eps)")
        bad = set(sk) - {"start_factor", "end_factor", "total_iters", "T_max", "eta_min", "gamma"}
        if bad:
            raise ValueError(f"scheduler_kwargs: unsupported keys {sorted(bad)}")
        betas = ok.get("betas", (0.9, 0.999))
        seed = self.random_state
        if isinstance(seed, float) and seed.is_integer():  # TorchDR types random_state as a float
            seed = int(seed)
        params: Dict[str, Any] = {
            "n_components": self.n_components, "optimizer": self.optimizer, "lr": float(lr),
            "momentum": ok.get("momentum", 0.0), "weight_decay": ok.get("weight_decay", 0.0),
            "beta1": float(betas[0]), "beta2": float(betas[1]), "adam_eps": ok.get("eps", 1e-8),
            "scheduler": "none" if self.scheduler is None else self.scheduler,
            "start_factor": sk.get("start_factor", 1.0 / 3.0), "end_factor": sk.get("end_factor", 1.0),
            "total_iters": sk.get("total_iters", 5), "eta_min": sk.get("eta_min", 0.0),
            "min_grad_norm": self.min_grad_norm, "max_iter": self.max_iter, "check_interval": self.check_interval,
            "init_scaling": self.init_scaling, "seed": resolve_seed(seed), "n_jobs": resolve_n_jobs(self.n_jobs),
            "verbose": bool(self.verbose)}
        for key in ("T_max", "gamma"):
            if key in sk:
                params[key] = sk[key]
        return params

    def fit(self, X, y=None) -> "AffinityMatcher":
        """Fits the embedding; returns self."""
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X, y=None) -> np.ndarray:
        """P from X (affinity_in), then the embedding (n_samples, n_components) as a float64 ndarray."""
        _check_loss_fn(self.loss_fn)
        _check_affinity_in(self.affinity_in)
        out_name, out_params = self._output_params()
        params = self._params()
        init = self.init
        init_array = None
        if isinstance(init, str):
            params["init"] = init
        else:
            params["init"] = "array"
            init_array = as_float64_matrix(init, "init")
        if isinstance(self.affinity_in, str):  # "precomputed": X is P
            P = as_csr(X, name="X")
            if P.shape[0] != P.shape[1]:
                raise ValueError('[TorchDR] ERROR : When affinity_in="precomputed" the input X in fit must be a '
                                 "tensor of lazy tensor of shape (n_samples, n_samples).")
            if P.nnz and (P.data.min() < 0 or not np.all(np.isfinite(P.data))):
                raise ValueError("X: the precomputed affinity must be non-negative and finite")
            if params["init"] == "pca":
                Xp = np.asarray(P.todense() if sp.issparse(X) else X, dtype=np.float32)
                Xpca = np.ascontiguousarray(Xp)
            else:
                Xpca = np.zeros((0, 0), dtype=np.float32)
            emb = self._run(P, Xpca, out_name, out_params, params, init_array)
        else:
            X32 = _as_float32(X)
            inverse = None
            if self.process_duplicates:
                uniq, first, inv = np.unique(X32, axis=0, return_index=True, return_inverse=True)
                if uniq.shape[0] < X32.shape[0]:
                    X32, inverse = np.ascontiguousarray(uniq), inv.ravel()
                    if init_array is not None:
                        init_array = np.ascontiguousarray(init_array[first])
            P = as_csr(self.affinity_in(X32), name="affinity_in(X)")
            emb = self._run(P, X32 if params["init"] == "pca" else np.zeros((0, 0), dtype=np.float32), out_name,
                            out_params, params, init_array)
            if inverse is not None:
                emb = emb[inverse]
        self.embedding_ = emb
        self.is_fitted_ = True
        return self.embedding_

    def _run(self, P, X32, out_name, out_params, params, init_array) -> np.ndarray:
        n = P.shape[0]
        if init_array is not None and init_array.shape[0] != n:
            raise ValueError(f"init has {init_array.shape[0]} rows, the affinity has {n}")
        self.affinity_in_ = P
        indptr, indices, data = csr_parts(P)
        result = _core.affinity_matcher_fit(indptr, indices, data, n, X32, out_name, out_params, self.loss_fn, params,
                                            init_array if init_array is not None else np.zeros((0, 0)),
                                            handle_sigint())
        self.n_iter_ = int(result["n_iter"])
        self.loss_ = float(result["loss"])
        self.timings_ = result.get("timings", {})
        return np.asarray(result["embedding"])

    def transform(self, X=None) -> np.ndarray:
        """TorchDR's transform without an encoder: the training embedding (X must be None)."""
        if not getattr(self, "is_fitted_", False):
            raise ValueError("This estimator is not fitted yet. Call 'fit' or 'fit_transform' with some data first.")
        if X is not None:
            raise NotImplementedError("AffinityMatcher without an encoder cannot transform new data")
        return self.embedding_
