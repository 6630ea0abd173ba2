"""Embedding quality measures computed by nembed's C++ core."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import _core
from ._utils import as_csr, as_float32_matrix, as_float64_matrix, csr_parts, resolve_n_jobs

__all__ = ["kl_divergence", "trustworthiness", "knn_recall", "knn_accuracy", "reference_scores"]


def kl_divergence(P: Any, embedding: Any, dof: float = 1.0, n_jobs: int = 1) -> float:
    """Exact KL(P || Q) of an embedding, Q_ij proportional to (1 + |y_i - y_j|^2 / dof)^-dof (O(N^2)).

    Parameters
    ----------
    P : sparse or dense (n, n) matrix summing to 1
    embedding : array_like of shape (n, d)
    dof : float
    n_jobs : int

    Returns
    -------
    float
    """
    Y = as_float64_matrix(embedding)
    M = as_csr(P, Y.shape[0], Y.shape[0])
    return float(_core.kl_divergence_exact(*csr_parts(M), Y, float(dof), resolve_n_jobs(n_jobs)))


def trustworthiness(X: Any, embedding: Any, k: int = 10, n_jobs: int = 1) -> float:
    """Trustworthiness (Venna & Kaski) of the k-neighbourhoods, as scikit-learn's."""
    return float(_core.trustworthiness(as_float32_matrix(X), as_float64_matrix(embedding), int(k),
                                       resolve_n_jobs(n_jobs)))


def knn_recall(X: Any, embedding: Any, k: int = 10, n_jobs: int = 1) -> float:
    """Mean fraction of each point's k nearest neighbours in X that are among its k nearest in the embedding."""
    return float(_core.knn_recall(as_float32_matrix(X), as_float64_matrix(embedding), int(k), resolve_n_jobs(n_jobs)))


def knn_accuracy(embedding: Any, labels: Any, k: int = 10, n_jobs: int = 1) -> float:
    """Leave-one-out k-nearest-neighbour classification accuracy of `labels` in the embedding."""
    lab = np.ascontiguousarray(labels, dtype=np.int64).ravel()
    return float(_core.knn_accuracy(as_float64_matrix(embedding), lab, int(k), resolve_n_jobs(n_jobs)))


def reference_scores(X_ref: Any, embedding_ref: Any, X: Any, embedding: Any, k: int = 10, labels_ref: Any = None,
                     labels: Any = None, n_jobs: int = 1) -> dict:
    """Held-out points (X, embedding) scored against a reference map (X_ref, embedding_ref), as `nembed evaluate
    --reference`: "knn_recall" = overlap of each point's k nearest reference points in X and in the embedding / k;
    "knn_accuracy" (with both label sets) = the reference embedding's k-NN classifier predicting `labels`."""
    def lab(v: Any) -> Any:
        return None if v is None else np.ascontiguousarray(v, dtype=np.int64).ravel()
    recall, acc = _core.evaluate_against_reference(as_float32_matrix(X_ref), as_float64_matrix(embedding_ref),
                                                   as_float32_matrix(X), as_float64_matrix(embedding), int(k),
                                                   lab(labels_ref), lab(labels), resolve_n_jobs(n_jobs))
    out = {"knn_recall": float(recall)}
    if acc is not None:
        out["knn_accuracy"] = float(acc)
    return out
