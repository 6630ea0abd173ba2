"""paraDime's relations (``paradime.relations``), computed by nembed.

Global relations are computed once and kept sparse (``PDist`` is never stored: batches read the distances they
need); batch relations are the differentiable distances of an embedded batch.
"""
from __future__ import annotations

from . import transforms as _tf


class Relations:
    kind = ""

    def __init__(self, transform=None, data_key: str = "main"):
        self.transform = _tf._as_list(transform)
        self.data_key = data_key

    def _spec(self) -> dict:
        return {"kind": self.kind, "transform": [t._spec() for t in self.transform]}

    def __repr__(self):
        return f"{type(self).__name__}(transform={self.transform!r})"


class PDist(Relations):
    """All pairwise distances (lazy: only elementwise transforms and Normalize)."""

    kind = "PDist"

    def __init__(self, transform=None, metric=None, data_key: str = "main"):
        super().__init__(transform, data_key)
        if metric is not None and metric != "euclidean":
            raise ValueError("PDist: only the euclidean metric is supported")


class NeighborBasedPDist(Relations):
    """Distances to the nearest neighbours (nembed's kNN); n_neighbors from the transforms by paraDime's rule."""

    kind = "NeighborBasedPDist"

    def __init__(self, n_neighbors=None, transform=None, metric: str = "euclidean", data_key: str = "main",
                 knn_method: str = "auto"):
        super().__init__(transform, data_key)
        if n_neighbors is not None and int(n_neighbors) < 1:
            raise ValueError("NeighborBasedPDist: n_neighbors must be >= 1")
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.knn_method = knn_method

    def _spec(self) -> dict:
        d = super()._spec()
        d.update(n_neighbors=int(self.n_neighbors or 0), metric=self.metric, knn_method=self.knn_method)
        return d


class Precomputed(Relations):
    """Given relations: a square numpy array or scipy sparse matrix (rows: each point's relations)."""

    kind = "Precomputed"

    def __init__(self, X, transform=None, data_key: str = "main"):
        super().__init__(transform, data_key)
        import numpy as np
        import scipy.sparse as sp

        m = sp.csr_matrix(X, dtype=np.float64)
        if m.shape[0] != m.shape[1]:
            raise ValueError(f"Precomputed: relations must be square, got {m.shape}")
        m.sum_duplicates()
        m.sort_indices()
        self._csr = m

    def _spec(self) -> dict:
        import numpy as np

        d = super()._spec()
        m = self._csr
        d["relations"] = (m.indptr.astype(np.int64), m.indices.astype(np.int32), m.data.astype(np.float64),
                          m.shape[0])
        return d


class DifferentiablePDist(Relations):
    """Distances between all pairs of an embedded batch."""

    kind = "DifferentiablePDist"

    def __init__(self, transform=None, p: float = 2, metric=None, data_key: str = "main"):
        super().__init__(transform, data_key)
        if p != 2 or metric is not None:
            raise ValueError("DifferentiablePDist: only Euclidean distances (p=2, metric=None) are supported")


class DistsFromTo(Relations):
    """Distances along sampled edges (negative-edge sampling)."""

    kind = "DistsFromTo"

    def __init__(self, transform=None, metric=None, data_key: str = "main"):
        super().__init__(transform, data_key)
        if metric is not None:
            raise ValueError("DistsFromTo: only Euclidean distances are supported")
