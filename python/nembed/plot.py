"""Scatter plots of embeddings on matplotlib (optional dependency: ``pip install nembed[plot]``)."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

__all__ = ["scatter"]


def _marker_size(n: int) -> float:
    """Marker area in points^2 that keeps 70 000 points readable (about 1) and small sets visible."""
    return float(np.clip(2000.0 / max(n, 1) ** 0.75, 0.5, 36.0))


def scatter(embedding: Any, labels: Optional[Sequence] = None, ax: Any = None, s: Optional[float] = None,
            alpha: Optional[float] = None, colors: Optional[Sequence] = None, legend: bool = True,
            legend_kwargs: Optional[dict] = None, title: Optional[str] = None, rasterized: bool = True,
            **kwargs: Any):
    """Scatter plot of a 2-D embedding, coloured by categorical labels.

    Parameters
    ----------
    embedding : array_like of shape (n_samples, 2)
    labels : sequence of length n_samples, optional
        Categories (any hashable values); each gets a colour and a legend entry.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new square figure when None.
    s : float, optional
        Marker area; by default it shrinks with N (about 1 for 70 000 points).
    alpha : float, optional
        Opacity; by default 0.6 above 10 000 points, else 0.9.
    colors : sequence of colours, optional
        One per category, in sorted category order; tab10/tab20 by default.
    legend : bool
        Draw a legend of the categories (markers enlarged so they are visible).
    legend_kwargs : dict, optional
        Passed to ``ax.legend``.
    title : str, optional
    rasterized : bool
        Rasterise the points (keeps vector output small for large N).
    **kwargs
        Passed to ``ax.scatter``.

    Returns
    -------
    matplotlib.axes.Axes
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("nembed.plot needs matplotlib: pip install matplotlib") from exc
    Y = np.asarray(embedding, dtype=np.float64)
    if Y.ndim != 2 or Y.shape[1] != 2:
        raise ValueError(f"scatter: expected an (n_samples, 2) embedding, got shape {Y.shape}")
    n = Y.shape[0]
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 8))
    s = _marker_size(n) if s is None else s
    alpha = (0.6 if n > 10000 else 0.9) if alpha is None else alpha
    kwargs.setdefault("linewidths", 0)
    if labels is None:
        ax.scatter(Y[:, 0], Y[:, 1], s=s, alpha=alpha, c=kwargs.pop("c", "#1f77b4"), rasterized=rasterized,
                   **kwargs)
    else:
        labels = np.asarray(labels)
        if labels.shape[0] != n:
            raise ValueError(f"scatter: {labels.shape[0]} labels for {n} points")
        categories = np.unique(labels)
        if colors is None:
            cmap = plt.get_cmap("tab10" if len(categories) <= 10 else "tab20")
            colors = [cmap(i % cmap.N) for i in range(len(categories))]
        elif len(colors) < len(categories):
            raise ValueError(f"scatter: {len(colors)} colours for {len(categories)} categories")
        for category, color in zip(categories, colors):
            mask = labels == category
            ax.scatter(Y[mask, 0], Y[mask, 1], s=s, alpha=alpha, color=color, label=str(category),
                       rasterized=rasterized, **kwargs)
        if legend:
            opts = dict(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, markerscale=max(1.0, 6 / s ** 0.5))
            opts.update(legend_kwargs or {})
            leg = ax.legend(**opts)
            for handle in getattr(leg, "legend_handles", getattr(leg, "legendHandles", [])):
                handle.set_alpha(1.0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_aspect("equal", adjustable="datalim")
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title)
    return ax
