"""TorchDR's neighbour-embedding estimators (``torchdr.SNE``, ``TSNE``, ``InfoTSNE``, ``LargeVis``, ``UMAP``,
``PACMAP``, ``TSNEkhorn``, ``COSNE``) with TorchDR 0.5's names, signatures and defaults, run by nembed's C++ core.

Only the import changes: ``from nembed.torchdr import TSNE`` instead of ``from torchdr import TSNE``. numpy in, numpy
out; scikit-learn estimator conventions (``fit`` returns self, ``fit_transform``, ``get_params``/``set_params``).
Parameters that only steer torch (``device``, ``compile``, ``distributed``) are accepted for compatibility:
``device`` must be "auto" or "cpu" (nembed's CUDA path is separate), ``compile`` has no effect (the loops are compiled
C++), ``distributed=True`` is refused (nembed's multi-process mode is its MPI build). Optimizers and schedulers are
given by name (torch classes cannot drive C++ code). The models and defaults are documented in docs/torchdr.md.
"""
from __future__ import annotations

import numbers
from typing import Any, Dict, Optional, Union

import numpy as np

try:
    from sklearn.base import BaseEstimator, TransformerMixin
    from sklearn.utils.validation import validate_data
except ImportError as exc:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError("nembed.torchdr needs scikit-learn: pip install scikit-learn") from exc

from .. import _core
from .._utils import as_float64_matrix, handle_sigint, resolve_n_jobs, resolve_seed, to_float32

__all__ = ["SNE", "TSNE", "InfoTSNE", "LargeVis", "UMAP", "PACMAP", "TSNEkhorn", "COSNE"]

# Methods with TorchDR 0.5's non-parametric transform(X_new, X_train=...) against the frozen training embedding.
_TRANSFORM_METHODS = ("infotsne", "largevis", "umap")


def _kwargs(value: Any, name: str) -> Any:
    """None, "auto" or a dict of numbers (optimizer_kwargs, scheduler_kwargs)."""
    if value is None or (isinstance(value, str) and value == "auto"):
        return value
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a dict, 'auto' or None, got {value!r}")
    out = {}
    for key, v in value.items():
        if not isinstance(key, str):
            raise ValueError(f"{name} keys must be strings, got {key!r}")
        if isinstance(v, (tuple, list)):  # Adam's betas
            out[key] = [float(x) for x in v]
        elif isinstance(v, bool):
            out[key] = v
        elif isinstance(v, numbers.Real):
            out[key] = float(v)
        else:
            raise ValueError(f"{name}[{key!r}] must be a number, a bool or a pair of numbers, got {v!r}")
    return out


def _plain(value: Any) -> Any:
    """numpy scalars (np.int64 from np.arange grids, np.float32, np.bool_) as the Python numbers the C++ side reads;
    their numeric types are not Python's int/float and would be refused as "not a number"."""
    if isinstance(value, np.generic) and isinstance(value, (np.number, np.bool_)):
        return value.item()
    return value


def _name(value: Any, name: str, allow_none: bool = False) -> Optional[str]:
    if value is None and allow_none:
        return None
    if isinstance(value, type):
        raise TypeError(f"{name} must be given by name (a string such as 'SGD'); nembed's C++ optimizers and "
                        f"schedulers cannot run a torch class, got {value!r}")
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {value!r}")
    return value


def _encoder(value):
    """encoder: None/False (the free table), True (nembed's network with its defaults) or a dict of its settings
    (hidden, activation, network_init, normalize_inputs, batch_size, learning_rate, optimizer); TorchDR's torch module
    is the PyTorch plug-in's business (nembed.paradime.ParametricDR(model=...))."""
    if value is None or value is False:
        return None
    if value is True:
        return {}
    if isinstance(value, dict):
        return dict(value)
    if hasattr(value, "parameters") and hasattr(value, "forward"):
        raise TypeError("encoder: a torch.nn.Module is not trained by nembed's TorchDR estimators (their network is "
                        "nembed's, mini-batched); pass True or a dict of settings, or train your module with "
                        "nembed.paradime.ParametricDR(model=module)")
    raise TypeError(f"encoder must be None, True or a dict of network settings, got {type(value).__name__}")


# auto_wrap_output_keys=None: no set_output wrapper, whose signature would make X required (TorchDR's transform()
# without X returns the training embedding).
class _NeighborEmbedding(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Shared fit/transform of the TorchDR-family estimators; subclasses only declare their parameters."""

    _method: str = ""

    # ----- parameter checks shared by every method -----
    def _common_params(self):
        """The parameters for _core.torchdr_fit (TorchDR's names; the C++ side refuses unknown or unsupported
        values) and the init array (None unless init is an array)."""
        p = self.get_params(deep=False)
        if p.get("device", "auto") not in ("auto", "cpu"):
            raise ValueError(f"device must be 'auto' or 'cpu' (this is nembed's CPU engine), got {p['device']!r}")
        if p.get("distributed", False) is True:
            raise ValueError("distributed=True is torchrun's multi-GPU mode; use nembed's MPI build instead")
        lr = p.get("lr")
        if isinstance(lr, str):
            if lr != "auto":
                raise ValueError(f"lr must be a positive number or 'auto', got {lr!r}")
        elif isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr > 0:
            raise ValueError(f"lr must be a positive number or 'auto', got {lr!r}")
        out: Dict[str, Any] = {}
        for key, value in p.items():
            if key in ("init", "device", "compile", "distributed", "n_jobs", "random_state", "verbose"):
                continue
            if key in ("optimizer",):
                out[key] = _name(value, key)
            elif key in ("scheduler", "backend"):
                out[key] = _name(value, key, allow_none=True)
            elif key in ("optimizer_kwargs", "scheduler_kwargs"):
                out[key] = _kwargs(value, key)
            elif key == "encoder":
                out[key] = _encoder(value)
            else:
                out[key] = _plain(value)
        init = p.get("init", "pca")
        if isinstance(init, str):
            out["init"] = init
            init_array = None
        else:
            out["init"] = "array"
            init_array = as_float64_matrix(init, "init")
        seed = p.get("random_state")
        if isinstance(seed, float) and seed.is_integer():  # TorchDR types random_state as a float
            seed = int(seed)
        out["seed"] = resolve_seed(seed)
        out["n_jobs"] = resolve_n_jobs(p.get("n_jobs", -1))
        out["verbose"] = bool(p.get("verbose", False))
        return out, init_array

    def fit(self, X, y=None) -> "_NeighborEmbedding":
        """Fits the embedding of X (n_samples, n_features); returns self."""
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X, y=None) -> np.ndarray:
        """Fits and returns the embedding (n_samples, n_components) as a float64 ndarray."""
        params, init_array = self._common_params()
        X = validate_data(self, X, dtype=[np.float32, np.float64], ensure_min_samples=2)
        X32 = to_float32(X, "X")
        if init_array is not None and init_array.shape[0] != X32.shape[0]:
            raise ValueError(f"init has {init_array.shape[0]} rows, X has {X32.shape[0]}")
        result = _core.torchdr_fit(X32, self._method, params,
                                   init_array if init_array is not None else np.zeros((0, 0)), handle_sigint())
        self.embedding_ = np.asarray(result["embedding"])
        self.n_iter_ = int(result["n_iter"])
        self.loss_ = float(result["loss"])
        self.timings_ = result.get("timings", {})
        self.encoder_ = result.get("network")  # encoder: the trained network (widths, activations, parameters)
        self.is_fitted_ = True
        if self._method in _TRANSFORM_METHODS:
            self.embedding_train_ = self.embedding_.copy()
        return self.embedding_

    def transform(self, X=None, X_train=None, **kwargs) -> np.ndarray:
        """TorchDR's transform: the training embedding when X is None; for UMAP, LargeVis and InfoTSNE, new points
        embedded against the frozen training embedding (``X_train`` = the training data is required)."""
        if not getattr(self, "is_fitted_", False):
            raise ValueError("This estimator is not fitted yet. Call 'fit' or 'fit_transform' with some data first.")
        if X is None:
            return self.embedding_
        # TorchDR validates the input before dispatching to the method's transform.
        X = validate_data(self, X, dtype=[np.float32, np.float64], reset=False)
        net = getattr(self, "encoder_", None)
        if net is not None:  # parametric: the network's forward pass (X_train is not needed)
            return _core.mlp_apply(net, to_float32(X, "X"),
                                   resolve_n_jobs(self.get_params(deep=False).get("n_jobs", -1)))
        if self._method not in _TRANSFORM_METHODS:
            raise NotImplementedError(
                f"{type(self).__name__} cannot transform new data (TorchDR 0.5 has a non-parametric transform for "
                "UMAP, LargeVis and InfoTSNE only)")
        if X_train is None:
            raise ValueError("X_train is required for non-parametric transform. Pass the training data: "
                             "model.transform(X_new, X_train=X_train)")
        X_train = np.ascontiguousarray(np.asarray(X_train, dtype=np.float32))
        if X_train.ndim != 2 or X_train.shape[1] != self.n_features_in_:
            raise ValueError(f"X_train must have {self.n_features_in_} features, got shape {X_train.shape}")
        if X_train.shape[0] != self.embedding_train_.shape[0]:
            raise ValueError(f"X_train has {X_train.shape[0]} samples, but the fitted reference embedding has "
                             f"{self.embedding_train_.shape[0]}")
        params, _ = self._common_params()
        params.update({k: _plain(v) for k, v in kwargs.items()})
        return np.asarray(_core.torchdr_transform(to_float32(X, "X"), X_train,
                                                  np.ascontiguousarray(self.embedding_train_), self._method, params,
                                                  handle_sigint()))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # transform(X) of the training rows is an out-of-sample placement, not their fitted positions.
        tags.non_deterministic = True
        return tags


def _store(obj: Any, values: Dict[str, Any]) -> None:
    """Stores __init__'s arguments unchanged (scikit-learn's rule: validation happens in fit)."""
    for key, value in values.items():
        if key != "self":
            setattr(obj, key, value)


class SNE(_NeighborEmbedding):
    """Stochastic Neighbor Embedding (TorchDR's ``SNE``): entropic P, Gaussian Q = exp(−d²) normalised per row."""

    _method = "sne"

    def __init__(self, perplexity: float = 30, n_components: int = 2, lr: Union[float, str] = "auto",
                 optimizer: str = "SGD", optimizer_kwargs: Union[Dict, str] = "auto", scheduler: Optional[str] = None,
                 scheduler_kwargs: Optional[Dict] = None, init: Any = "pca", init_scaling: float = 1e-4,
                 min_grad_norm: float = 1e-7, max_iter: int = 2000, device: str = "auto", backend: Optional[str] = None,
                 verbose: bool = False, random_state: Optional[float] = None, max_iter_affinity: int = 100,
                 metric: str = "sqeuclidean", sparsity: bool = True, early_exaggeration_coeff: Optional[float] = None,
                 early_exaggeration_iter: Optional[int] = None, check_interval: int = 50, compile: bool = False,
                 distributed: Union[bool, str] = "auto", process_duplicates: bool = True,
                 repulsion_strength: float = 1.0, n_jobs: int = -1, encoder: Union[bool, Dict, None] = None):
        _store(self, locals())


class TSNE(_NeighborEmbedding):
    """t-SNE as TorchDR's ``TSNE`` (SGD, auto learning rate, momentum 0.5 → 0.8). ``backend`` takes TorchDR's values
    (None, "keops", "faiss": exact repulsion, as TorchDR) and, beyond TorchDR, "bh" (Barnes–Hut) and "fft"
    (FFT interpolation) for the repulsion."""

    _method = "tsne"

    def __init__(self, perplexity: float = 30, n_components: int = 2, lr: Union[float, str] = "auto",
                 optimizer: str = "SGD", optimizer_kwargs: Union[Dict, str] = "auto", scheduler: Optional[str] = None,
                 scheduler_kwargs: Optional[Dict] = None, init: Any = "pca", init_scaling: float = 1e-4,
                 min_grad_norm: float = 1e-7, max_iter: int = 2000, device: str = "auto", backend: Optional[str] = None,
                 verbose: bool = False, random_state: Optional[float] = None, early_exaggeration_coeff: float = 12.0,
                 early_exaggeration_iter: int = 250, max_iter_affinity: int = 100, metric: str = "sqeuclidean",
                 sparsity: bool = True, check_interval: int = 50, compile: bool = False,
                 distributed: Union[bool, str] = "auto", process_duplicates: bool = True,
                 repulsion_strength: float = 1.0, n_jobs: int = -1, encoder: Union[bool, Dict, None] = None):
        _store(self, locals())


class InfoTSNE(_NeighborEmbedding):
    """InfoTSNE (TorchDR's ``InfoTSNE``): t-SNE with the repulsion estimated from n_negatives uniform negatives."""

    _method = "infotsne"

    def __init__(self, perplexity: float = 30, n_components: int = 2, lr: Union[float, str] = "auto",
                 optimizer: str = "SGD", optimizer_kwargs: Union[Dict, str] = "auto",
                 scheduler: Optional[str] = "LinearLR", scheduler_kwargs: Optional[Dict] = None, init: Any = "pca",
                 init_scaling: float = 1e-4, min_grad_norm: float = 1e-7, max_iter: int = 1000, device: str = "auto",
                 backend: Optional[str] = "faiss", verbose: bool = False, random_state: Optional[float] = None,
                 early_exaggeration_coeff: Optional[float] = 12, early_exaggeration_iter: Optional[int] = 250,
                 max_iter_affinity: int = 100, metric: str = "sqeuclidean", n_negatives: int = 300,
                 sparsity: bool = True, check_interval: int = 50,
                 exclude_neighbors_from_negative_sampling: Optional[bool] = None, discard_NNs: Optional[bool] = None,
                 compile: bool = False, distributed: Union[bool, str] = "auto", process_duplicates: bool = True,
                 repulsion_strength: float = 1.0, n_jobs: int = -1, encoder: Union[bool, Dict, None] = None):
        _store(self, locals())


class LargeVis(_NeighborEmbedding):
    """LargeVis (TorchDR's ``LargeVis``): entropic P, Student Q, n_negatives uniform negatives per point."""

    _method = "largevis"

    def __init__(self, perplexity: float = 30, n_components: int = 2, lr: Union[float, str] = "auto",
                 optimizer: str = "SGD", optimizer_kwargs: Union[Dict, str] = "auto",
                 scheduler: Optional[str] = "LinearLR", scheduler_kwargs: Optional[Dict] = None, init: Any = "pca",
                 init_scaling: float = 1e-4, min_grad_norm: float = 1e-7, max_iter: int = 1000, device: str = "auto",
                 backend: Optional[str] = "faiss", verbose: bool = False, random_state: Optional[float] = None,
                 max_iter_affinity: int = 100, metric: str = "sqeuclidean", n_negatives: int = 5,
                 sparsity: bool = True, early_exaggeration_coeff: Optional[float] = None,
                 early_exaggeration_iter: Optional[int] = None, check_interval: int = 50,
                 exclude_neighbors_from_negative_sampling: Optional[bool] = None, discard_NNs: Optional[bool] = None,
                 compile: bool = False, distributed: Union[bool, str] = "auto", process_duplicates: bool = True,
                 repulsion_strength: float = 1.0, n_jobs: int = -1, encoder: Union[bool, Dict, None] = None):
        _store(self, locals())


class UMAP(_NeighborEmbedding):
    """TorchDR's ``UMAP`` (its own defaults: k 30, squared-Euclidean affinity, SGD lr 1 decayed linearly, PCA init);
    for umap-learn's model use ``nembed.UMAP``."""

    _method = "umap"

    def __init__(self, n_neighbors: int = 30, n_components: int = 2, min_dist: float = 0.1, spread: float = 1.0,
                 a: Optional[float] = None, b: Optional[float] = None, lr: float = 1.0, optimizer: str = "SGD",
                 optimizer_kwargs: Union[Dict, str, None] = None, scheduler: Optional[str] = "LinearLR",
                 scheduler_kwargs: Union[Dict, str, None] = "auto", init: Any = "pca", init_scaling: float = 1e-4,
                 min_grad_norm: float = 1e-7, max_iter: int = 1000, device: str = "auto",
                 backend: Optional[str] = "faiss", verbose: bool = False, random_state: Optional[float] = None,
                 max_iter_affinity: int = 100, metric: str = "sqeuclidean", negative_sample_rate: int = 5,
                 check_interval: int = 50, exclude_neighbors_from_negative_sampling: Optional[bool] = None,
                 discard_NNs: Optional[bool] = None, compile: bool = False, distributed: Union[bool, str] = "auto",
                 input_layout: str = "replicated", process_duplicates: bool = True, n_jobs: int = -1, encoder: Union[bool, Dict, None] = None):
        _store(self, locals())


class PACMAP(_NeighborEmbedding):
    """PaCMAP (TorchDR's ``PACMAP``): neighbour, mid-near and further pairs with the three-phase weights, Adam."""

    _method = "pacmap"

    def __init__(self, n_neighbors: float = 10, n_components: int = 2, lr: Union[float, str] = 1.0,
                 optimizer: str = "Adam", optimizer_kwargs: Union[Dict, str, None] = None,
                 scheduler: Optional[str] = None, scheduler_kwargs: Optional[Dict] = None, init: Any = "pca",
                 init_scaling: float = 1e-4, min_grad_norm: float = 1e-7, max_iter: int = 450, device: str = "auto",
                 backend: Optional[str] = "faiss", verbose: bool = False, random_state: Optional[float] = None,
                 metric: str = "sqeuclidean", MN_ratio: float = 0.5, FP_ratio: float = 2, check_interval: int = 50,
                 iter_per_phase: int = 100, exclude_neighbors_from_negative_sampling: Optional[bool] = None,
                 discard_NNs: Optional[bool] = None, compile: bool = False, distributed: Union[bool, str] = False,
                 process_duplicates: bool = True, n_jobs: int = -1):
        _store(self, locals())


class TSNEkhorn(_NeighborEmbedding):
    """TSNEkhorn (TorchDR's ``TSNEkhorn``): symmetric entropic P, Sinkhorn-normalised Student Q."""

    _method = "tsnekhorn"

    def __init__(self, perplexity: float = 30, n_components: int = 2, lr: Union[float, str] = "auto",
                 optimizer: str = "SGD", optimizer_kwargs: Union[Dict, str] = "auto", scheduler: Optional[str] = None,
                 scheduler_kwargs: Optional[Dict] = None, init: Any = "pca", init_scaling: float = 1e-4,
                 min_grad_norm: float = 1e-4, max_iter: int = 2000, device: str = "auto", backend: Optional[str] = None,
                 verbose: bool = False, random_state: Optional[float] = None, lr_affinity_in: float = 0.1,
                 eps_square_affinity_in: bool = True, tol_affinity_in: float = 1e-3, max_iter_affinity_in: int = 100,
                 metric: str = "sqeuclidean", unrolling: bool = False, symmetric_affinity: bool = True,
                 check_interval: int = 50, compile: bool = False, distributed: Union[bool, str] = False,
                 process_duplicates: bool = True, n_jobs: int = -1):
        _store(self, locals())


class COSNE(_NeighborEmbedding):
    """CO-SNE (TorchDR's ``COSNE``): t-SNE in the Poincaré ball with the norm-matching term, Riemannian Adam."""

    _method = "cosne"

    def __init__(self, perplexity: float = 30, learning_rate_for_h_loss: float = 1, gamma: float = 2,
                 n_components: int = 2, lr: Union[float, str] = "auto",
                 optimizer_kwargs: Union[Dict, str, None] = None, scheduler: Optional[str] = None,
                 scheduler_kwargs: Optional[Dict] = None, init: Any = "hyperbolic", init_scaling: float = 0.5,
                 min_grad_norm: float = 1e-7, max_iter: int = 2000, device: str = "auto",
                 backend: Optional[str] = None, verbose: bool = False, random_state: Optional[float] = None,
                 max_iter_affinity: int = 100, metric: str = "sqeuclidean", sparsity: bool = True,
                 check_interval: int = 50, compile: bool = False, distributed: Union[bool, str] = "auto",
                 process_duplicates: bool = True, n_jobs: int = -1):
        _store(self, locals())
