"""The ``annoy`` package's AnnoyIndex, which ``nembed.nearest_neighbors.Annoy`` runs (optional: pip install annoy)."""
try:
    from annoy import AnnoyIndex
except ImportError:  # pragma: no cover - depends on the environment
    raise ImportError("nembed.nearest_neighbors.Annoy runs the `annoy` package, which is not installed: "
                      "pip install annoy (or use nembed's HNSW or Exact index)") from None

__all__ = ["AnnoyIndex"]
