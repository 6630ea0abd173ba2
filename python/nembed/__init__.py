"""nembed: neighbour embeddings on a C++20 core: t-SNE (openTSNE's API), UMAP (umap-learn's), CNE (cne's).

>>> from nembed import TSNE
>>> embedding = TSNE(random_state=0).fit(X)        # doctest: +SKIP
>>> new = embedding.transform(X_new)               # doctest: +SKIP
"""
from . import _core
from . import affinity, callbacks, initialization, nearest_neighbors, utils
from .tsne import TSNE, OptimizationInterrupt, PartialTSNEEmbedding, TSNEEmbedding
from .umap import UMAP, find_ab_params
from .cne import CNE

__version__: str = _core.__version__

__all__ = ["TSNE", "UMAP", "CNE", "find_ab_params", "TSNEEmbedding", "PartialTSNEEmbedding", "OptimizationInterrupt", "affinity", "initialization",
           "nearest_neighbors", "callbacks", "utils", "sklearn", "plot", "io", "scanpy", "mpi", "__version__"]


def __getattr__(name):
    # sklearn, plot and scanpy import optional dependencies: load them on first use.
    if name in ("sklearn", "plot", "io", "metrics", "scanpy", "mpi"):
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'nembed' has no attribute {name!r}")
