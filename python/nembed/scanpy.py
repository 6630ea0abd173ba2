"""scanpy-style functions on AnnData objects: ``tsne`` and ``umap`` with the signatures, defaults and conventions of
scanpy's ``sc.tl.tsne`` and ``sc.tl.umap``, computed by nembed's core.

>>> import nembed.scanpy as nsc
>>> nsc.tsne(adata)                      # adata.obsm["X_tsne"], adata.uns["tsne"]["params"]   # doctest: +SKIP
>>> sc.pp.neighbors(adata); nsc.umap(adata)   # adata.obsm["X_umap"], adata.uns["umap"]["params"]   # doctest: +SKIP

The representation is chosen as scanpy's ``_choose_representation`` does: ``use_rep`` (an ``obsm`` key or "X")
truncated to ``n_pcs`` columns; else ``X`` itself when it has at most 50 variables; else ``obsm["X_pca"]``; else a
PCA of ``X`` is computed first (with scanpy's warning; ``sc.pp.pca`` when scanpy is installed, nembed's PCA
otherwise). ``umap`` embeds the fuzzy graph ``sc.pp.neighbors`` stored (``obsp["connectivities"]``, or the keys its
``neighbors_key`` entry names) as umap-learn's ``simplicial_set_embedding`` does: no kNN search is repeated.

anndata is needed (imported on first use); scanpy is optional.
"""
from __future__ import annotations

import numbers
import warnings
from typing import Any, Optional

import numpy as np
import scipy.sparse as sp

from . import _core
from ._utils import as_float32_matrix, as_float64_matrix, handle_sigint, resolve_n_jobs, resolve_seed

__all__ = ["tsne", "umap"]

N_PCS = 50  # scanpy's settings.N_PCS: X is used directly up to this many variables


def _anndata():
    try:
        import anndata
    except ImportError as e:
        raise ImportError("nembed.scanpy works on AnnData objects and needs the anndata package: "
                          "pip install anndata") from e
    return anndata


def _check_adata(adata: Any) -> None:
    if not isinstance(adata, _anndata().AnnData):
        raise TypeError(f"adata must be an anndata.AnnData, got {type(adata).__name__}")


def _pca_into(adata: Any, n_comps: int) -> None:
    """sc.pp.pca when scanpy is installed; otherwise nembed's PCA of X into obsm["X_pca"]."""
    try:
        import scanpy
    except ImportError:
        scanpy = None
    if scanpy is not None:
        scanpy.pp.pca(adata, n_comps=n_comps)
        return
    from scipy.sparse.linalg import svds

    if adata.X is None:
        raise ValueError("the AnnData has no X; name a representation with use_rep (an obsm key)")
    X = adata.X.toarray() if sp.issparse(adata.X) else np.asarray(adata.X)
    if np.iscomplexobj(X) or not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_):
        raise TypeError(f"PCA of X: expected real numbers, got dtype {X.dtype}")
    X = np.asarray(X, dtype=np.float64)
    if not np.all(np.isfinite(X)):  # ARPACK would fail with an ArpackError
        raise ValueError("PCA of X: X contains NaN or infinity")
    if min(X.shape) < 2:
        raise ValueError(f"PCA of X needs at least 2 observations and 2 variables, got shape {X.shape}")
    X = X - X.mean(axis=0)
    if not np.any(X):  # ARPACK fails on a zero matrix with an ArpackError and LAPACK noise on stderr
        raise ValueError("PCA of X: the data have zero variance (all observations identical)")
    k = max(1, min(int(n_comps), min(X.shape) - 1))
    # ARPACK, as sc.pp.pca's default solver; a fixed start vector keeps it deterministic.
    U, S, Vt = svds(X, k=k, v0=np.full(min(X.shape), 1.0 / np.sqrt(min(X.shape))))
    order = np.argsort(S)[::-1]
    U, S, Vt = U[:, order], S[order], Vt[order]
    signs = np.sign(Vt[np.arange(k), np.argmax(np.abs(Vt), axis=1)])  # sklearn's svd_flip convention
    adata.obsm["X_pca"] = (U * S * signs).astype(np.float32)


def _choose_representation(adata: Any, use_rep: Optional[str] = None, n_pcs: Optional[int] = None):
    """scanpy's ``_choose_representation`` (same choices, messages and exception types)."""
    if n_pcs is not None and (isinstance(n_pcs, bool) or not isinstance(n_pcs, numbers.Integral) or n_pcs < 0):
        # a negative n_pcs would slice columns off the end, a float would be truncated
        raise ValueError(f"n_pcs must be None or an integer >= 0, got {n_pcs!r}")
    if use_rep is None and n_pcs == 0:  # scanpy: n_pcs=0 means X
        use_rep = "X"
    if use_rep is None:
        if adata.n_vars <= N_PCS:
            return adata.X
        if "X_pca" in adata.obsm:
            if n_pcs is not None and n_pcs > adata.obsm["X_pca"].shape[1]:
                raise ValueError("`X_pca` does not have enough PCs. Rerun `sc.pp.pca` with adjusted `n_comps`.")
            return adata.obsm["X_pca"][:, :n_pcs]
        warnings.warn(f"You’re trying to run this on {adata.n_vars} dimensions of `.X`, if you really want this, "
                      "set `use_rep='X'`.\n         Falling back to preprocessing with `sc.pp.pca` and default "
                      "params.", UserWarning, stacklevel=3)
        _pca_into(adata, n_pcs if n_pcs is not None else N_PCS)
        return adata.obsm["X_pca"]
    if use_rep in adata.obsm and n_pcs is not None:
        if n_pcs > adata.obsm[use_rep].shape[1]:
            raise ValueError(f"{use_rep} does not have enough Dimensions. Provide a Representation with equal or "
                             "more dimensions than`n_pcs` or lower `n_pcs` ")
        return adata.obsm[use_rep][:, :n_pcs]
    if use_rep in adata.obsm:
        return adata.obsm[use_rep]
    if use_rep == "X":
        return adata.X
    raise ValueError(f"Did not find {use_rep} in `.obsm.keys()`. You need to compute it first.")


def _dense32(X: Any) -> np.ndarray:
    if X is None:
        raise ValueError("the AnnData has no X; name a representation with use_rep (an obsm key)")
    if sp.issparse(X):
        X = X.toarray()
    return as_float32_matrix(np.asarray(X))


def _n_jobs(n_jobs: Optional[int]) -> int:
    if n_jobs is None:  # scanpy's settings.n_jobs when scanpy is there, else 1
        try:
            import scanpy
            n_jobs = int(scanpy.settings.n_jobs)
        except ImportError:
            n_jobs = 1
    return resolve_n_jobs(n_jobs)


def tsne(adata: Any, n_pcs: Optional[int] = None, *, use_rep: Optional[str] = None, perplexity: float = 30,
         metric: str = "euclidean", early_exaggeration: float = 12, learning_rate: float = 1000,
         random_state: Any = 0, use_fast_tsne: bool = False, n_jobs: Optional[int] = None,
         key_added: Optional[str] = None, copy: bool = False):
    """t-SNE as ``scanpy.tl.tsne``, computed by nembed's TSNE (openTSNE's optimiser: 250 iterations of early
    exaggeration then 500; scanpy's scikit-learn run has 1000 in all).

    Sets ``adata.obsm["X_tsne"]`` and ``adata.uns["tsne"]["params"]`` (both named ``key_added`` when given).
    Returns the changed copy when ``copy=True``, else None.

    Raises
    ------
    TypeError
        When adata is not an AnnData.
    ValueError
        As scanpy for a missing or too small representation, and for bad t-SNE parameters.
    """
    _check_adata(adata)
    if key_added is not None and (not isinstance(key_added, str) or not key_added):
        raise ValueError(f"key_added must be None or a non-empty string, got {key_added!r}")
    if use_fast_tsne:
        warnings.warn("Argument `use_fast_tsne` is deprecated, and support for MulticoreTSNE will be dropped in a "
                      "future version of scanpy. (nembed computes the t-SNE either way.)", FutureWarning,
                      stacklevel=2)
    adata = adata.copy() if copy else adata
    X = _dense32(_choose_representation(adata, use_rep=use_rep, n_pcs=n_pcs))
    from .tsne import TSNE

    emb = TSNE(perplexity=perplexity, metric=metric, early_exaggeration=early_exaggeration,
               learning_rate=learning_rate, random_state=random_state, n_jobs=_n_jobs(n_jobs)).fit(X)
    key_uns, key_obsm = ("tsne", "X_tsne") if key_added is None else (key_added, key_added)
    adata.obsm[key_obsm] = np.array(emb, dtype=np.float64)
    params = dict(perplexity=perplexity, early_exaggeration=early_exaggeration, learning_rate=learning_rate,
                  n_jobs=n_jobs, metric=metric, use_rep=use_rep)
    adata.uns[key_uns] = dict(params={k: v for k, v in params.items() if v is not None})
    return adata if copy else None


def umap(adata: Any, *, min_dist: float = 0.5, spread: float = 1.0, n_components: int = 2,
         maxiter: Optional[int] = None, alpha: float = 1.0, gamma: float = 1.0, negative_sample_rate: int = 5,
         init_pos: Any = "spectral", random_state: Any = 0, a: Optional[float] = None, b: Optional[float] = None,
         method: str = "umap", key_added: Optional[str] = None, neighbors_key: Optional[str] = "neighbors",
         copy: bool = False, n_jobs: Optional[int] = None):
    """UMAP as ``scanpy.tl.umap``: the fuzzy graph of ``sc.pp.neighbors`` (``obsp["connectivities"]``) embedded as
    umap-learn's ``simplicial_set_embedding`` does (graph pruned by n_epochs, spectral / random / given start
    rescaled to [0, 10], ``maxiter`` epochs, default 500 up to 10 000 cells else 200), on nembed's UMAP layout.

    ``init_pos``: "spectral", "random", "pca", an ``obsm`` key or an array. ``n_jobs`` (not scanpy's) sets the
    threads (None: scanpy's settings.n_jobs, or 1); results do not depend on it. Sets ``adata.obsm["X_umap"]`` and
    ``adata.uns["umap"]["params"]`` (``key_added`` names both). Returns the copy when ``copy=True``, else None.

    Raises
    ------
    ValueError
        When ``sc.pp.neighbors`` has not been run (``.uns[neighbors_key]`` missing) and for bad parameters.
    KeyError
        When the connectivities named by the neighbors entry are missing (scanpy's NeighborsView).
    NotImplementedError
        For ``method="rapids"`` and ``init_pos="paga"``.
    """
    _check_adata(adata)
    if method == "rapids":
        raise NotImplementedError("method='rapids' (cuML on a GPU) is not available in nembed; use method='umap'")
    if method != "umap":
        raise ValueError(f"method must be 'umap' or 'rapids', got {method!r}")
    adata = adata.copy() if copy else adata
    key_obsm, key_uns = ("X_umap", "umap") if key_added is None else (key_added, key_added)
    if neighbors_key is None:
        neighbors_key = "neighbors"
    if neighbors_key not in adata.uns:
        raise ValueError(f"Did not find .uns[{neighbors_key!r}]. Run `sc.pp.neighbors` first.")
    neighbors = adata.uns[neighbors_key]
    conns_key = "connectivities" if neighbors_key == "neighbors" else neighbors["connectivities_key"]
    if conns_key in adata.obsp:
        graph = adata.obsp[conns_key]
    elif "connectivities" in neighbors:  # anndata < 0.7 kept the graph in uns
        graph = neighbors["connectivities"]
    else:
        raise KeyError(f"No {conns_key!r} in .obsp")
    params = neighbors.get("params", {})
    if params.get("method", "umap") != "umap":
        warnings.warn(f'.obsp["{conns_key}"] have not been computed using umap', UserWarning, stacklevel=2)

    if a is None or b is None:
        from .umap import find_ab_params
        a, b = find_ab_params(spread, min_dist)
    adata.uns[key_uns] = dict(params=dict(a=a, b=b))
    if random_state != 0:
        adata.uns[key_uns]["params"]["random_state"] = random_state

    n = adata.n_obs
    if isinstance(init_pos, str) and init_pos in adata.obsm:
        init, init_array = "user", as_float64_matrix(np.asarray(adata.obsm[init_pos], dtype=np.float32), "init_pos")
    elif isinstance(init_pos, str) and init_pos == "paga":
        raise NotImplementedError("init_pos='paga' needs scanpy's PAGA layout; run sc.tl.paga and sc.pl.paga, then "
                                  "pass the positions it gives as init_pos (an array or an obsm key)")
    elif isinstance(init_pos, str):
        if init_pos not in ("spectral", "random", "pca"):
            raise ValueError(f"init_pos must be 'spectral', 'random', 'pca', 'paga', an obsm key or an array, "
                             f"got {init_pos!r}")
        init, init_array = init_pos, np.zeros((0, 0))
    else:
        init, init_array = "user", as_float64_matrix(np.asarray(init_pos, dtype=np.float32), "init_pos")
    if init == "user" and init_array.shape != (n, n_components):
        raise ValueError(f"init_pos has shape {init_array.shape}, expected {(n, n_components)}")

    # The data only serve the start (pca, and the spectral layout of a disconnected graph), as in scanpy.
    X = _dense32(_choose_representation(adata, use_rep=params.get("use_rep"), n_pcs=params.get("n_pcs")))
    G = sp.csr_matrix(graph, dtype=np.float64)
    if G.shape != (n, n):
        raise ValueError(f"the connectivities have shape {G.shape}; the AnnData has {n} observations")
    G.sum_duplicates()
    G.eliminate_zeros()
    G.sort_indices()
    if G.nnz == 0:
        raise ValueError(f'.obsp["{conns_key}"] has no edges')

    from .umap import UMAP

    if maxiter is not None and (isinstance(maxiter, bool) or not isinstance(maxiter, numbers.Integral)):
        raise ValueError(f"maxiter must be an integer or None, got {maxiter!r}")
    # n_neighbors and the metric belong to the kNN search, which sc.pp.neighbors has done: not used here.
    est = UMAP(n_neighbors=2, n_components=n_components, n_epochs=maxiter, learning_rate=alpha, min_dist=min_dist,
               spread=spread, a=a, b=b, repulsion_strength=gamma, negative_sample_rate=negative_sample_rate,
               n_jobs=_n_jobs(n_jobs))
    checked = est._validate_params()
    p = est._layout_params(2, checked["n_components"], checked["n_threads"], resolve_seed(random_state))
    sig = handle_sigint()
    state = _core.UmapState.prepare_graph(G.indptr.astype(np.int64), G.indices.astype(np.int32), G.data, n, X, p,
                                          init, init_array, sig)
    state.optimize(-1, None, 0, sig)
    adata.obsm[key_obsm] = np.asarray(state.embedding, dtype=np.float64)
    return adata if copy else None
