"""paraDime's relation transforms (``paradime.transforms``), computed by nembed.

Global transforms act on the sparse global relations once; batch transforms act on the relations of each embedded
batch and are differentiated by nembed (``learnable=True`` trains Student-t's alpha or the modified Cauchy's a, b
with the model, paraDime's ``alpha=model.alpha``).
"""
from __future__ import annotations

from typing import Optional


class RelationTransform:
    """Base class: a transform is a spec nembed's core evaluates."""

    kind = ""

    def _spec(self) -> dict:
        d = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        d["kind"] = self.kind
        return d

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class PerplexityBasedRescale(RelationTransform):
    """Gaussian rescale with each point's width set by its perplexity (t-SNE)."""

    kind = "PerplexityBasedRescale"

    def __init__(self, perplexity: float = 30, verbose: bool = False):
        self.perplexity = float(perplexity)


class ConnectivityBasedRescale(RelationTransform):
    """exp(-(d - d_min)/sigma) with sum log2(n_neighbors) per point (UMAP)."""

    kind = "ConnectivityBasedRescale"

    def __init__(self, n_neighbors: float = 15, verbose: bool = False):
        self.n_neighbors = float(n_neighbors)


class Symmetrize(RelationTransform):
    """(M + M^T)/2, or M + M^T - M*M^T with ``subtract_product`` (UMAP)."""

    kind = "Symmetrize"

    def __init__(self, subtract_product: bool = False):
        self.subtract_product = bool(subtract_product)


class Normalize(RelationTransform):
    """Divides all relations by their sum."""

    kind = "Normalize"


class NormalizeRows(RelationTransform):
    """Divides each row by its sum."""

    kind = "NormalizeRows"


class ZeroDiagonal(RelationTransform):
    """Removes self relations."""

    kind = "ZeroDiagonal"


class StudentTTransform(RelationTransform):
    """(1 + d^2/alpha)^(-(alpha+1)/2); ``learnable=True`` (or a torch Parameter as alpha) trains alpha."""

    kind = "StudentTTransform"

    def __init__(self, alpha=1.0, learnable: bool = False):
        if hasattr(alpha, "requires_grad"):  # paraDime's alpha=model.alpha
            learnable = learnable or bool(alpha.requires_grad)
            alpha = float(alpha.detach().cpu().item())
        self.alpha = float(alpha)
        self.learnable = bool(learnable)


class ModifiedCauchyTransform(RelationTransform):
    """1/(1 + a d^(2b)), a and b fitted to min_dist and spread unless given; ``learnable=True`` trains them."""

    kind = "ModifiedCauchyTransform"

    def __init__(self, min_dist: float = 0.1, spread: float = 1.0, a: Optional[float] = None,
                 b: Optional[float] = None, learnable: bool = False):
        self.min_dist = float(min_dist)
        self.spread = float(spread)
        self.a = None if a is None else float(a)
        self.b = None if b is None else float(b)
        self.learnable = bool(learnable)


_BY_NAME = {c.kind: c for c in (PerplexityBasedRescale, ConnectivityBasedRescale, Symmetrize, Normalize,
                                NormalizeRows, ZeroDiagonal, StudentTTransform, ModifiedCauchyTransform)}


def _as_list(transform) -> list:
    if transform is None:
        return []
    items = transform if isinstance(transform, (list, tuple)) else [transform]
    out = []
    for t in items:
        if isinstance(t, RelationTransform):
            out.append(t)
        elif type(t).__name__ in ("ToSquareTensor", "ToSquareArray", "ToTriangularTensor", "ToFlatTensor",
                                  "ToSparseArray", "ToNeighborTuple", "Identity"):
            continue  # paraDime's format conversions: nembed keeps one form per relation
        elif isinstance(t, str):
            if t not in _BY_NAME:
                raise ValueError(f"unknown transform {t!r} (known: {', '.join(_BY_NAME)})")
            out.append(_BY_NAME[t]())
        else:
            raise TypeError(f"expected a nembed.paradime.transforms transform, got {type(t).__name__}")
    return out
