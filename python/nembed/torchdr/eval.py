"""TorchDR's evaluation functions (``torchdr.eval``) on nembed's C++ core.

Same names, parameters and defaults as TorchDR 0.5; numpy (or anything ``np.asarray`` takes) in, float or numpy
array out, ``ValueError`` on bad input. Everything runs on the CPU with exact neighbours, so TorchDR's ``device``,
``backend`` and ``distributed`` parameters are accepted for compatibility and have no effect (``distributed=True``
is refused). ``n_jobs`` (joblib convention) is nembed's addition. Differences from TorchDR are listed per function
and in docs/torchdr.md, section "Evaluation".
"""
from __future__ import annotations

import random
import warnings
from typing import Any

import numpy as np

from .. import _core
from .._utils import as_float32_matrix, as_float64_matrix, resolve_n_jobs

__all__ = [
    "silhouette_samples",
    "silhouette_score",
    "admissible_LIST_METRICS",
    "kmeans_ari",
    "neighborhood_preservation",
    "knn_label_accuracy",
]

admissible_LIST_METRICS = ["euclidean", "manhattan", "hyperbolic", "precomputed"]

# Metrics of the k-NN based scores; "sqeuclidean" ranks neighbours as "euclidean" does.
_KNN_METRICS = ("euclidean", "sqeuclidean")


def _labels(labels: Any, n: int, name: str = "labels") -> np.ndarray:
    """Integer codes of any comparable labels (equal labels, equal codes), checked against n samples."""
    arr = np.asarray(labels)
    if arr.ndim > 1:
        arr = arr.squeeze()
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {np.asarray(labels).shape}")
    if arr.shape[0] != n:
        raise ValueError(f"X and {name} must have same number of samples, got {n} and {arr.shape[0]}")
    _, codes = np.unique(arr, return_inverse=True)
    return np.ascontiguousarray(codes.ravel(), dtype=np.int64)


def _check_not_distributed(distributed: Any) -> None:
    if distributed is True:
        raise ValueError("distributed=True: nembed does not run TorchDR's multi-GPU mode; use 'auto' or False")


def _check_knn_metric(metric: str) -> None:
    if metric not in _KNN_METRICS:
        raise ValueError(f"metric = {metric!r}: nembed's k-NN scores support {list(_KNN_METRICS)}")


def _silhouette_inputs(X: Any, labels: Any, weights: Any, metric: str):
    if metric not in admissible_LIST_METRICS:
        raise ValueError(f"metric = {metric} must be in {admissible_LIST_METRICS}")
    Xa = as_float64_matrix(X, "X")
    if metric == "precomputed" and Xa.shape[0] != Xa.shape[1]:
        raise ValueError("X must be a square matrix with metric = 'precomputed'")
    lab = _labels(labels, Xa.shape[0])
    w = None
    if weights is not None:
        w = np.ascontiguousarray(np.asarray(weights, dtype=np.float64).ravel())
        if w.shape[0] != Xa.shape[0]:
            raise ValueError(f"weights: {w.shape[0]} weights for {Xa.shape[0]} samples")
    return Xa, lab, w


def _warn_singletons(lab: np.ndarray, warn: bool) -> None:
    if warn and np.any(np.bincount(lab) == 1):
        warnings.warn("[nembed] WARNING : ill-defined intra-cluster mean distance as one cluster contains only one "
                      "sample.", stacklevel=3)


def silhouette_samples(X: Any, labels: Any, weights: Any = None, metric: str = "euclidean", device: Any = None,
                       backend: Any = None, warn: bool = True, n_jobs: int = 1) -> np.ndarray:
    """Silhouette coefficient of each sample, ``(b - a) / max(a, b)`` (TorchDR's ``silhouette_samples``).

    ``a`` is the mean distance to the sample's own cluster (0 for a sample alone in its cluster, whose coefficient
    is then 1, as in TorchDR), ``b`` the mean distance to the nearest other cluster; NaN becomes 0. Distances in
    float64. ``weights`` weight the other samples in both means (TorchDR 0.5's weighted branch multiplies the rows
    instead and fails for clusters of unequal sizes). ``metric="hyperbolic"`` is the Poincaré-ball geodesic distance
    (listed but rejected by TorchDR 0.5's dense backend). A single cluster raises ValueError (TorchDR returns 0).

    Returns
    -------
    np.ndarray of shape (n_samples,)
    """
    Xa, lab, w = _silhouette_inputs(X, labels, weights, metric)
    _warn_singletons(lab, warn)
    return _core.silhouette_samples(Xa, lab, w, metric, resolve_n_jobs(n_jobs))


def silhouette_score(X: Any, labels: Any, weights: Any = None, metric: str = "euclidean", device: Any = None,
                     backend: Any = None, sample_size: int | None = None, random_state: int | None = None,
                     warn: bool = True, n_jobs: int = 1) -> float:
    """Mean silhouette coefficient (TorchDR's ``silhouette_score``).

    With ``sample_size``, the samples are drawn as TorchDR draws them (Python's ``random.sample`` seeded with
    ``random_state``), so the subset is TorchDR's.
    """
    Xa, lab, w = _silhouette_inputs(X, labels, weights, metric)
    n_threads = resolve_n_jobs(n_jobs)
    if sample_size is None:
        _warn_singletons(lab, warn)
        return float(_core.silhouette_score(Xa, lab, w, metric, 0, 0, n_threads))
    sample_size = int(sample_size)
    if not 1 <= sample_size <= Xa.shape[0]:
        raise ValueError(f"sample_size = {sample_size} must be in [1, n_samples = {Xa.shape[0]}]")
    idx = np.asarray(random.Random(random_state).sample(range(Xa.shape[0]), sample_size), dtype=np.int64)
    sub_X = Xa[np.ix_(idx, idx)] if metric == "precomputed" else Xa[idx]
    sub_lab = np.ascontiguousarray(lab[idx])
    _warn_singletons(np.unique(sub_lab, return_inverse=True)[1], warn)
    sub_w = None if w is None else np.ascontiguousarray(w[idx])
    s = _core.silhouette_samples(np.ascontiguousarray(sub_X), sub_lab, sub_w, metric, n_threads)
    return float(np.mean(s))


def knn_label_accuracy(X: Any, labels: Any, k: int = 10, metric: str = "euclidean", backend: Any = "faiss",
                       exclude_self: bool = True, distributed: Any = "auto", return_per_sample: bool = False,
                       device: Any = None, n_jobs: int = 1):
    """Fraction of each sample's k nearest neighbours that share its label, averaged (TorchDR's
    ``knn_label_accuracy``). Exact Euclidean neighbours, ties to the smaller index; ``exclude_self=False`` counts
    the sample as its own nearest neighbour. Not nembed's ``metrics.knn_accuracy`` (majority vote).

    Returns
    -------
    float, or np.ndarray of shape (n_samples,) when return_per_sample
    """
    _check_not_distributed(distributed)
    _check_knn_metric(metric)
    Xa = as_float64_matrix(X, "X")
    lab = _labels(labels, Xa.shape[0])
    k = int(k)
    if k < 1 or k >= Xa.shape[0]:
        raise ValueError(f"k ({k}) must be at least 1 and less than number of samples ({Xa.shape[0]})")
    per = _core.knn_label_accuracy(Xa, lab, k, bool(exclude_self), resolve_n_jobs(n_jobs))
    if return_per_sample:
        return per
    # The C++ mean: matching neighbours / (N k), exact.
    return float(np.rint(per * k).sum() / (per.shape[0] * k))


def neighborhood_preservation(X: Any, Z: Any, K: int, metric: str = "euclidean", backend: Any = None,
                              device: Any = None, distributed: Any = "auto", return_per_sample: bool = False,
                              n_jobs: int = 1):
    """K-ary neighbourhood preservation (TorchDR's ``neighborhood_preservation``): the overlap of each sample's K
    nearest neighbours in X and in Z, divided by K, averaged. Exact; X is read in float32 (nembed's data type),
    Z in float64. It equals ``nembed.metrics.knn_recall(X, Z, K)``.

    Returns
    -------
    float, or np.ndarray of shape (n_samples,) when return_per_sample
    """
    K = int(K)
    if K < 1:
        raise ValueError(f"K must be at least 1, got {K}")
    _check_not_distributed(distributed)
    _check_knn_metric(metric)
    Xa = as_float32_matrix(X, "X")
    Za = as_float64_matrix(Z, "Z")
    if Xa.shape[0] != Za.shape[0]:
        raise ValueError(f"X and Z must have same number of samples, got {Xa.shape[0]} and {Za.shape[0]}")
    if K >= Xa.shape[0]:
        raise ValueError(f"K ({K}) must be less than number of samples ({Xa.shape[0]})")
    per = _core.neighborhood_preservation(Xa, Za, K, resolve_n_jobs(n_jobs))
    if return_per_sample:
        return per
    return float(np.rint(per * K).sum() / (per.shape[0] * K))


def kmeans_ari(X: Any, labels: Any, n_clusters: int | None = None, niter: int = 20, nredo: int = 1,
               device: Any = None, random_state: int | None = None, verbose: bool = False, n_jobs: int = 1):
    """k-means of X, then the adjusted Rand index of its clusters against ``labels`` (TorchDR's ``kmeans_ari``).

    TorchDR runs faiss's k-means; nembed runs its own deterministic k-means++ seeding and Lloyd iterations in
    float64 (same parameters: at most ``niter`` iterations, ``nredo`` restarts keeping the lowest objective), so
    scores are comparable but not identical. ``random_state=None`` draws a seed, as TorchDR does.

    Returns
    -------
    (float, np.ndarray of shape (n_samples,)): the ARI and the predicted clusters.
    """
    Xa = as_float64_matrix(X, "X")
    lab = _labels(labels, Xa.shape[0])
    k = 0 if n_clusters is None else int(n_clusters)
    if n_clusters is not None and k < 1:
        raise ValueError(f"n_clusters must be at least 1, got {n_clusters}")
    if k > Xa.shape[0]:
        raise ValueError(f"n_clusters ({k}) cannot be greater than n_samples ({Xa.shape[0]})")
    if int(niter) < 1 or int(nredo) < 1:
        raise ValueError(f"niter and nredo must be at least 1, got {niter} and {nredo}")
    seed = int(np.random.default_rng().integers(2**31)) if random_state is None else int(random_state)
    if seed < 0:
        raise ValueError(f"random_state must be non-negative, got {random_state}")
    ari, predicted = _core.kmeans_ari(Xa, lab, k, int(niter), int(nredo), seed, resolve_n_jobs(n_jobs))
    if verbose:
        print(f"[nembed] k-means: {len(np.unique(predicted))} clusters, ARI {ari:.4f}")
    return float(ari), predicted
