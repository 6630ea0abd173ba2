"""Contrastive neighbour embeddings with cne's API: ``nembed.CNE``.

cne (contrastive-ne) trains in PyTorch; here the same model — binary kNN graph, in-batch negative sampling, the
UMAP / NEG / NCE / InfoNCE losses with the Cauchy or cosine similarity, cne's spectrum parameter ``s`` — runs in
nembed's C++ core with the GIL released and reproducibly for any number of threads. ``parametric=True`` trains
cne's FCNetwork (in → 100 → 100 → 100 → embd_dim, ReLU) instead of a table; ``transform`` is its forward pass.
"""
from __future__ import annotations

import numbers
import warnings
from typing import Any, Callable, List, Optional

import numpy as np

from . import _core
from ._utils import (as_csr, as_float32_matrix, as_float64_matrix, csr_from_parts, csr_parts, handle_sigint,
                     numeric_array, resolve_n_jobs, rows_matrix)

__all__ = ["CNE"]

_DEFAULTS = dict(batch_size=2**15, negative_samples=5, n_epochs=200, learning_rate=None, lr_min_factor=0.0,
                 momentum=0.0, temperature=0.5, noise_in_estimator=None, neg_spec=None, ince_spec=None, Z_bar=None,
                 s=None, eps=1.0, clamp_high="auto", clamp_low="auto", Z=1.0, loss_mode="infonce", metric="euclidean",
                 optimizer="sgd", weight_decay=0.0, clip_grad=True, save_freq=25, callback=None,
                 print_freq_epoch=None, print_freq_in_epoch=None, warmup_epochs=0, warmup_lr=0.0,
                 early_exaggeration=True, loss_aggregation="sum", force_resample=None, device="cpu", n_jobs=1,
                 neighbors="auto", init="pca", hidden=(100, 100, 100), activation="relu",
                 network_init="torch_default", network_precision="float32", normalize_inputs=True)


class CNE:
    """cne's ``CNE``: contrastive neighbour embeddings, non-parametric or parametric.

    Parameters
    ----------
    model : None
        Must be None (the network is nembed's built-in MLP; a torch module cannot be passed).
    k : int
        Neighbours of the binary, union-symmetrised kNN graph.
    parametric : bool
        If True, a network maps the data to the embedding (cne's FCNetwork; learning rate default 0.001) and
        ``transform`` embeds new points by its forward pass.
    data_on_gpu : str or bool
        Accepted for compatibility; ignored.
    seed : int
        Random seed (shuffles, negative samples, random init).
    anneal_lr : bool or {"none", "linear", "cosine"}
        Learning-rate schedule (True = linear to 0).
    embd_dim : int
        Embedding dimension.
    **kwargs
        cne's ``ContrastiveEmbedding`` parameters: ``loss_mode`` ("umap", "neg", "nce", "infonce", "infonce_alt"),
        ``metric`` ("euclidean" Cauchy 1/(eps + d²) or "cosine" exp(cos/temperature)), ``s`` (spectrum: 0 t-SNE-like,
        1 UMAP-like; for neg and infonce), ``Z_bar``, ``neg_spec`` (alias ``noise_in_estimator``), ``ince_spec``,
        ``negative_samples`` (m; -1 = full batch), ``batch_size``, ``n_epochs``, ``learning_rate`` (default 1.0),
        ``lr_min_factor``, ``warmup_epochs``, ``warmup_lr``, ``optimizer`` ("sgd" or "adam"), ``momentum``,
        ``weight_decay``, ``temperature``, ``eps``, ``clamp_low``, ``clamp_high``, ``Z``, ``clip_grad``,
        ``early_exaggeration``, ``save_freq`` and ``callback`` — called as ``callback(epoch, loss, embedding)``
        at epoch -1 and every ``save_freq`` epochs, returning True stops —, ``print_freq_epoch`` (verbose), and
        nembed's ``n_jobs`` (threads, -1 = all), ``neighbors`` ("auto", "exact", "hnsw") and ``init``
        ("pca" or "random"); for the parametric network nembed's ``hidden`` (hidden widths, default
        (100, 100, 100)), ``activation`` ("relu", "softplus", "tanh", "identity") and ``network_init``
        ("torch_default", "he_normal", "he_uniform", "xavier_normal", "xavier_uniform"), and
        ``network_precision`` ("float32" or "bf16": bfloat16 operands in the network's products, float32 sums and
        weights; needs a build with oneDNN), and ``normalize_inputs`` (default True, not in cne: the network reads
        the rows centred and scaled by the training data's mean and RMS, saved with it, so that the map does not
        depend on where the data sits; False: cne's raw rows).

    Attributes
    ----------
    embedding_ : ndarray (n_samples, embd_dim)
    neighbor_mat : scipy.sparse.csr_matrix
        The binary kNN graph trained on.
    losses : list of float
        Mean per-edge loss of every epoch.
    log_Z : float
        NCE's learned log normaliser.
    spec_ : float
        The resolved ξ (neg) or ρ (infonce) after early exaggeration.
    network_ : dict or None
        Parametric: the trained network (``widths``, ``hidden_activation``, ``output_activation``, ``chunk_rows``,
        ``precision``, float32 ``parameters``: per layer W (out × in, row-major) then b).
    """

    def __init__(self, model: Any = None, k: int = 15, parametric: bool = False, data_on_gpu: Any = "auto",
                 seed: int = 0, anneal_lr: Any = True, embd_dim: int = 2, **kwargs: Any):
        unknown = set(kwargs) - set(_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown CNE parameter(s): {', '.join(sorted(unknown))}")
        self.model = model
        self.k = k
        self.parametric = parametric
        self.data_on_gpu = data_on_gpu
        self.seed = seed
        self.anneal_lr = anneal_lr
        self.embd_dim = embd_dim
        self.kwargs = kwargs

    def _params(self) -> dict:
        if self.model is not None:
            raise ValueError("nembed.CNE takes no model: the parametric mode uses nembed's built-in network "
                             "(parametric=True); a torch module cannot be passed")
        if not isinstance(self.parametric, (bool, np.bool_)):
            raise TypeError(f"parametric must be a bool, got {self.parametric!r}")
        p = dict(_DEFAULTS)
        p.update(self.kwargs)
        if not isinstance(p["normalize_inputs"], (bool, np.bool_)):
            raise TypeError(f"normalize_inputs must be a bool, got {p['normalize_inputs']!r}")
        if p["noise_in_estimator"] is not None and p["neg_spec"] is None:
            p["neg_spec"] = p["noise_in_estimator"]
        for name in ("k", "embd_dim", "batch_size", "n_epochs", "seed", "save_freq", "warmup_epochs"):
            v = self.__dict__.get(name, p.get(name))
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
        m = p["negative_samples"]
        if isinstance(m, str) and m == "full-batch":
            m = -1
        if isinstance(m, bool) or not isinstance(m, numbers.Integral) or (m < 1 and m != -1):
            raise ValueError(f"negative_samples must be a positive integer or -1 / 'full-batch', got {m!r}")
        anneal = self.anneal_lr
        if isinstance(anneal, bool):
            anneal = "linear" if anneal else "none"
        if p["callback"] is not None and not callable(p["callback"]):
            raise ValueError("callback must be callable (epoch, loss, embedding) -> bool")
        for name in ("clamp_low", "clamp_high"):
            if p[name] == "auto":
                p[name] = None
        for name in ("s", "Z_bar", "neg_spec", "ince_spec", "learning_rate", "clamp_low", "clamp_high"):
            if p[name] is not None:
                try:
                    p[name] = float(p[name])
                except (TypeError, ValueError):
                    raise ValueError(f"{name} must be a number or None, got {p[name]!r}") from None
        if p["loss_aggregation"] != "sum":
            raise ValueError("only loss_aggregation='sum' (CNE's choice) is implemented")
        hidden = p["hidden"]
        if isinstance(hidden, numbers.Integral):
            hidden = [hidden]
        try:
            hidden = [int(h) for h in hidden]
        except (TypeError, ValueError):
            raise ValueError(f"hidden must be a list of positive integers, got {p['hidden']!r}") from None
        if any(h <= 0 for h in hidden):
            raise ValueError(f"hidden: every width must be > 0, got {hidden}")
        return dict(k=int(self.k), parametric=bool(self.parametric), hidden=hidden,
                    activation=str(p["activation"]), network_init=str(p["network_init"]),
                    network_precision=str(p["network_precision"]), normalize_inputs=bool(p["normalize_inputs"]),
                    embd_dim=int(self.embd_dim), loss_mode=str(p["loss_mode"]), metric=str(p["metric"]),
                    s=p["s"], Z_bar=p["Z_bar"], neg_spec=p["neg_spec"], ince_spec=p["ince_spec"],
                    negative_samples=int(m), batch_size=int(p["batch_size"]), n_epochs=int(p["n_epochs"]),
                    learning_rate=p["learning_rate"], anneal_lr=str(anneal), lr_min_factor=float(p["lr_min_factor"]),
                    warmup_epochs=int(p["warmup_epochs"]), warmup_lr=float(p["warmup_lr"]),
                    optimizer=str(p["optimizer"]), momentum=float(p["momentum"]),
                    weight_decay=float(p["weight_decay"]), temperature=float(p["temperature"]), eps=float(p["eps"]),
                    clamp_low=p["clamp_low"], clamp_high=p["clamp_high"], Z=float(p["Z"]),
                    clip_grad=bool(p["clip_grad"]), early_exaggeration=bool(p["early_exaggeration"]),
                    seed=int(self.seed), n_jobs=resolve_n_jobs(p["n_jobs"]), neighbors=str(p["neighbors"]),
                    save_freq=int(p["save_freq"]), verbose=p["print_freq_epoch"] is not None, init=str(p["init"]),
                    callback=p["callback"])

    def fit(self, X: Any, init: Optional[Any] = None, graph: Optional[Any] = None) -> "CNE":
        """Trains on X (n_samples, n_features), or on ``graph`` (any sparse matrix whose non-zeros are the edges).

        Raises
        ------
        ValueError
            For bad parameters or input.
        """
        p = self._params()
        X32 = as_float32_matrix(rows_matrix(X))
        n = X32.shape[0]
        if init is not None:
            init_array = as_float64_matrix(init, "init")
            if init_array.shape[0] != n:
                raise ValueError(f"init has {init_array.shape[0]} rows, X has {n}")
            p["embd_dim"] = init_array.shape[1]
        else:
            init_array = np.zeros((0, 0))
        callback = p.pop("callback")
        parts = (None, None, None)
        if graph is not None:
            if isinstance(graph, str):
                raise ValueError("graph must be a sparse matrix (nembed computes its own kNN graph)")
            G = as_csr(graph, n, n, "graph")
            G.data = np.abs(G.data)
            parts = csr_parts(G)
        r = _core.cne_fit(X32, parts[0], parts[1], parts[2], n, p, init_array, callback, handle_sigint())
        self.embedding_ = r["embedding"]
        self.neighbor_mat = csr_from_parts(r["graph"], (n, n))
        self.losses: List[float] = list(r["losses"])
        self.log_Z = float(r["log_Z"])
        self.spec_ = float(r["spec"])
        self.timings_ = r["timings"]
        self.network_ = r.get("network")
        self._n_jobs = p["n_jobs"]
        return self

    def fit_transform(self, X: Any, init: Optional[Any] = None, graph: Optional[Any] = None) -> np.ndarray:
        """``fit`` and return the embedding."""
        return self.fit(X, init=init, graph=graph).embedding_

    def transform(self, X: Any) -> np.ndarray:
        """Parametric: the network's forward pass on X (n_samples, n_features as in fit). Non-parametric, as
        cne: the training embedding (rows for integer indices), with a warning for anything else."""
        if not hasattr(self, "embedding_"):
            raise ValueError("this CNE instance is not fitted yet; call fit first")
        net = getattr(self, "network_", None)
        if net is not None:
            arr = numeric_array(X)
            if arr.ndim < 2:
                raise ValueError(f"X must be a 2-D array (n_samples, n_features), got shape {arr.shape}")
            X32 = as_float32_matrix(rows_matrix(arr))
            if X32.shape[1] != net["widths"][0]:
                raise ValueError(f"X has {X32.shape[1]} features, the network takes {net['widths'][0]}")
            return _core.mlp_apply(net, X32, int(self._n_jobs))
        arr = np.asarray(X)
        if np.issubdtype(arr.dtype, np.integer) and arr.ndim <= 1:
            return self.embedding_[arr]
        warnings.warn("a non-parametric model cannot transform new data; returning the training embedding")
        return self.embedding_
