"""densMAP, ``inverse_transform`` and ``update`` for :class:`nembed.UMAP` (umap-learn 0.5.12's semantics).

The maths runs in the C++ core (``loss/densmap.hpp``, ``methods/umap_inverse.hpp``); this module holds the
Python-side checks and the attributes umap-learn sets, called from small methods of ``nembed.UMAP``.
"""
from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import _core
from ._utils import as_float32_matrix, as_float64_matrix, csr_from_parts, handle_sigint

# umap-learn's metrics with a gradient (named_distances_with_gradients): inverse_transform exists for them there.
_GRADIENT_METRICS = {"euclidean", "l2", "manhattan", "taxicab", "l1", "chebyshev", "linfinity", "linfty", "linf",
                     "minkowski", "seuclidean", "standardised_euclidean", "wminkowski", "weighted_minkowski",
                     "mahalanobis", "canberra", "cosine", "correlation", "haversine", "braycurtis", "spherical_gaussian_energy",
                     "diagonal_gaussian_energy", "gaussian_energy", "hyperboloid", "hellinger", "ll_dirichlet"}


def _real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def check_params(est: Any) -> None:
    """umap-learn's checks of the densMAP parameters (made in fit whether or not densmap is set)."""
    if _real(est.dens_lambda, "dens_lambda") < 0.0:
        raise ValueError("dens_lambda cannot be negative")
    frac = _real(est.dens_frac, "dens_frac")
    if frac < 0.0 or frac > 1.0:
        raise ValueError("dens_frac must be between 0.0 and 1.0")
    if _real(est.dens_var_shift, "dens_var_shift") < 0.0:
        raise ValueError("dens_var_shift cannot be negative")
    if est.densmap and getattr(est, "output_metric", "euclidean") not in ("euclidean", "l2"):
        raise ValueError("Non-Euclidean output metric not supported for densMAP.")


def adjust_params(est: Any, p: dict, n_samples: int) -> None:
    """Before prepare: densMAP's 200 extra default epochs (umap-learn's rule), which also set the pruning."""
    check_params(est)
    est._requested_epochs = p["n_epochs"]
    if est.densmap and p["n_epochs"] is None:
        p["n_epochs"] = (500 if n_samples <= 10000 else 200) + 200


def after_prepare(est: Any, X32: np.ndarray, p: dict) -> None:
    """Installs densMAP's term and computes the data radii (densmap or output_dens)."""
    est._rad_orig = None
    if est.densmap or est.output_dens:
        est._rad_orig = _core.umap_data_radii(est._state, X32, p["metric"], p["n_threads"])
    if est.densmap:
        _core.umap_enable_densmap(est._state, est._rad_orig, float(est.dens_lambda), float(est.dens_frac),
                                  float(est.dens_var_shift))


def after_fit(est: Any, X32: np.ndarray, p: dict, seed: int) -> None:
    """After the layout: output_dens' radii; what update and inverse_transform need."""
    est._layout_data = X32
    sigmas, rhos = getattr(est, "_sigmas", None), getattr(est, "_rhos", None)
    if sigmas is not None and len(sigmas) == est._state.embedding.shape[0]:  # the graph came from our kNN
        _core.umap_set_calibration(est._state, np.ascontiguousarray(sigmas, dtype=np.float64),
                                   np.ascontiguousarray(rhos, dtype=np.float64))
    est._extra_params = dict(p, seed=seed, n_epochs=est._requested_epochs)
    if est.output_dens:
        est.rad_orig_ = np.asarray(est._rad_orig, dtype=np.float32)
        est.rad_emb_ = _core.umap_embedding_radii(np.ascontiguousarray(est._state.embedding, dtype=np.float64),
                                                  p["n_neighbors"], p["n_threads"]).astype(np.float32)


def fit_transform_result(est: Any):
    """umap-learn's fit_transform return: the embedding, or (embedding, rad_orig, rad_emb) with output_dens."""
    if est.output_dens:
        return est.embedding_, est.rad_orig_, est.rad_emb_
    return est.embedding_


def check_transform(est: Any) -> None:
    if est.densmap:
        raise NotImplementedError("Transforming data into an existing embedding not supported for densMAP.")


def _check_fitted(est: Any, what: str) -> None:
    if not hasattr(est, "_state") or not hasattr(est, "_layout_data"):
        raise ValueError(f"this UMAP instance is not fitted yet; call fit before {what}")


# umap-learn's metrics with gradients that nembed evaluates (kernel/output_metric.hpp); the rest of
# _GRADIENT_METRICS are not built.
_BUILT_GRADIENT_METRICS = {"euclidean", "l2", "manhattan", "taxicab", "l1", "chebyshev", "linfinity", "linfty", "linf",
                           "minkowski", "canberra", "braycurtis", "cosine", "correlation", "haversine", "hyperboloid"}


def _returns_gradient(metric: Any, X: np.ndarray, kwds: dict) -> bool:
    out = metric(np.array(X[0], dtype=np.float64), np.array(X[min(1, len(X) - 1)], dtype=np.float64), **kwds)
    return isinstance(out, tuple) and len(out) == 2


def inverse_transform(est: Any, X: Any) -> np.ndarray:
    """umap-learn's inverse_transform: points of the embedding space mapped back into data space."""
    _check_fitted(est, "inverse_transform")
    if getattr(est, "_sparse_data", False):
        raise ValueError("Inverse transform not available for sparse input.")
    kwds = dict(est.metric_kwds or {})
    if callable(est.metric):
        if not _returns_gradient(est.metric, est._layout_data, kwds):
            raise ValueError("Inverse transform not available for given metric.")
    elif est.metric == "precomputed" or est.metric not in _GRADIENT_METRICS:
        raise ValueError("Inverse transform not available for given metric.")
    if est.densmap:
        raise ValueError("Inverse transform not available for densMAP.")
    if est.n_components >= 8:
        warnings.warn("Inverse transform works best with low dimensional embeddings. Results may be poor, or this "
                      "approach to inverse transform may fail altogether! If you need a high dimensional latent space "
                      "and inverse transform operations consider using an autoencoder.", UserWarning, stacklevel=3)
    elif getattr(est, "transform_mode", "embedding") == "graph":
        raise ValueError("Inverse transform not available for transform_mode = 'graph'")
    if isinstance(est.metric, str) and est.metric not in _BUILT_GRADIENT_METRICS:
        raise NotImplementedError(f"inverse_transform with metric={est.metric!r} is not implemented by nembed "
                                  f"(built: {', '.join(sorted(_BUILT_GRADIENT_METRICS))}, or a callable metric "
                                  "returning (distance, gradient))")
    if est.output_metric not in ("euclidean", "l2"):
        raise NotImplementedError("inverse_transform after a non-Euclidean output_metric is not implemented by nembed")
    Y = as_float64_matrix(np.asarray(X, dtype=np.float32), "X")
    if Y.shape[1] != est._state.embedding.shape[1]:
        raise ValueError(f"X has {Y.shape[1]} columns, the embedding has {est._state.embedding.shape[1]}")
    if not np.all(np.isfinite(Y)):
        raise ValueError("X contains NaN or infinity")
    if callable(est.metric):
        fn = est.metric
        grad = (lambda x, y: fn(x, y, **kwds)) if kwds else fn
        name, p = "euclidean", 2.0
    else:
        if set(kwds) - ({"p"} if est.metric == "minkowski" else set()):
            raise NotImplementedError(f"inverse_transform with metric_kwds {sorted(kwds)} is not implemented by "
                                      "nembed")
        grad, name, p = None, est.metric, float(kwds.get("p", 2.0))
    return _core.umap_inverse_transform(est._state, est._layout_data, name, p, grad, Y,
                                        est._extra_params["n_threads"], handle_sigint())


def update(est: Any, X: Any, ensure_all_finite: Any = True) -> None:
    """umap-learn's update: appends X to the data, rebuilds the graph over the union and places the new points.
    The kNN of all the points comes from the estimator's own search (any metric it fits with, callables too), whose
    index then serves transform."""
    from .umap import _check_data, _data_key
    _check_fitted(est, "update")
    if est.metric == "precomputed":
        raise ValueError("Update does not currently support precomputed metrics")
    if getattr(est, "_supervised", False):
        raise ValueError("Updating supervised models is not currently supported")
    if sp.issparse(X):
        raise TypeError("update: sparse input is not supported by nembed; pass a dense array")
    X32 = _check_data(X, ensure_all_finite)
    if X32.shape[1] != est._layout_data.shape[1]:
        raise ValueError(f"X has {X32.shape[1]} features, the model was fitted with {est._layout_data.shape[1]}")
    X_all = np.ascontiguousarray(np.vstack([est._layout_data, X32]), dtype=np.float32)
    p = dict(est._extra_params, densmap=bool(est.densmap), dens_lambda=float(est.dens_lambda),
             dens_frac=float(est.dens_frac), dens_var_shift=float(est.dens_var_shift),
             output_dens=bool(est.output_dens), knn_metric=est._extra_params["metric"])
    idx, dst, index = est._neighbors(X_all, p["n_neighbors"] - 1, p["seed"], p["n_threads"], use_precomputed=False)
    idx = np.ascontiguousarray(idx, dtype=np.int32)
    dst = np.ascontiguousarray(dst, dtype=np.float32)
    state = _core.umap_update(est._state, idx, dst, X_all, p, handle_sigint())
    est._state = state
    est._layout_data = X_all
    est._raw_data = X_all
    est._knn_indices, est._knn_dists, est._knn_search_index = idx, dst, index
    est._input_hash = _data_key(X_all)
    est.embedding_ = state.embedding
    n = est._layout_data.shape[0]
    # graph_ is the union's fuzzy set before the layout's pruning, as after umap-learn's update (and fit)
    parts, est._sigmas, est._rhos = _core.fuzzy_simplicial_set(
        idx, dst, local_connectivity=float(est.local_connectivity), set_op_mix_ratio=float(est.set_op_mix_ratio),
        n_threads=p["n_threads"])
    est.graph_ = csr_from_parts(parts, (n, n))
    if est.output_dens:
        rad_orig, rad_emb = _core.umap_state_radii(state)
        est.rad_orig_ = rad_orig.astype(np.float32)
        est.rad_emb_ = rad_emb.astype(np.float32)
    if hasattr(est, "_raw_shape"):
        est._raw_shape = est._layout_data.shape
