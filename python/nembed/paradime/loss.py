"""paraDime's losses (``paradime.loss``). Relation and position losses are evaluated by nembed, which hands dL/dY
of each batch to the model; ClassificationLoss, ReconstructionLoss and subclasses of ``Loss`` with a torch
``forward`` are evaluated by a PyTorch model (``ParametricDR(model=...)``)."""
from __future__ import annotations

from typing import Optional


def kullback_leibler_div(p=None, q=None, epsilon: float = 1.0e-7):
    """KL divergence sum p (log(p + eps) - log(q + eps)) / len(p) (diagonal zeroed). Pass it to RelationLoss;
    called with tensors it evaluates paraDime's formula in torch."""
    import torch

    eps = torch.tensor(epsilon, dtype=p.dtype)
    kl = p * (torch.log(p + eps) - torch.log(q + eps))
    kl.fill_diagonal_(0.0)
    return kl.sum() / len(p)


def cross_entropy_loss(p=None, q=None, epsilon: float = 1.0e-7):
    """UMAP's cross-entropy with q clamped to [eps, 1], / len(p). Pass it to RelationLoss."""
    import torch

    att = -p * torch.log(torch.clamp(q, min=epsilon, max=1.0))
    rep = -(1.0 - p) * torch.log(torch.clamp(1 - q, min=epsilon, max=1.0))
    return (att + rep).sum() / len(p)


_FUNCTIONS = {kullback_leibler_div: "kullback_leibler_div", cross_entropy_loss: "cross_entropy_loss"}


class Loss:
    """Base class. A user's subclass implements ``forward(model, batch)`` in torch (batch: dict of tensors with
    "indices" and the dataset's entries) and needs a PyTorch model."""

    _prefix = "loss"

    def __init__(self, name: Optional[str] = None):
        self._name = name
        self.history: list = []

    @property
    def name(self) -> str:
        return self._name if self._name is not None else f"{self._prefix}_{id(self)}"

    def _spec(self) -> dict:
        return {"kind": "custom", "name": self.name}

    def _all(self):
        yield self


class RelationLoss(Loss):
    _prefix = "rel_loss"

    def __init__(self, loss_function=kullback_leibler_div, global_relation_key: str = "rel",
                 batch_relation_key: str = "rel", embedding_method: str = "embed", normalize_sub: bool = True,
                 name: Optional[str] = None, exaggeration: float = 1.0):
        super().__init__(name)
        # Not in paraDime: the attraction multiplied, the repulsion through Q's normalisation not (early
        # exaggeration; docs/parametric.md). 1 is paraDime's loss.
        self.exaggeration = exaggeration
        if isinstance(loss_function, str):
            self.loss_function = loss_function
        elif loss_function in _FUNCTIONS:
            self.loss_function = _FUNCTIONS[loss_function]
        else:
            raise ValueError("RelationLoss: loss_function must be kullback_leibler_div or cross_entropy_loss "
                             "(nembed evaluates it and its gradient)")
        self.global_relation_key = global_relation_key
        self.batch_relation_key = batch_relation_key
        self.normalize_sub = normalize_sub

    def _spec(self) -> dict:
        return {"kind": "RelationLoss", "name": self.name, "loss_function": self.loss_function,
                "global_relation_key": self.global_relation_key, "batch_relation_key": self.batch_relation_key,
                "normalize_sub": bool(self.normalize_sub), "exaggeration": float(getattr(self, "exaggeration", 1.0))}


class PositionLoss(Loss):
    _prefix = "pos_loss"

    def __init__(self, loss_function=None, data_key: str = "main", position_key: str = "pos",
                 embedding_method: str = "embed", name: Optional[str] = None):
        super().__init__(name)
        if loss_function is not None and type(loss_function).__name__ != "MSELoss":
            raise ValueError("PositionLoss: only the mean squared error is supported")
        self.position_key = position_key

    def _spec(self) -> dict:
        return {"kind": "PositionLoss", "name": self.name, "position_key": self.position_key}


class ClassificationLoss(Loss):
    """Cross-entropy of ``model.classify(x)`` against the dataset's labels (a PyTorch model only)."""

    _prefix = "class_loss"

    def __init__(self, loss_function=None, data_key: str = "main", label_key: str = "labels",
                 classification_method: str = "classify", name: Optional[str] = None):
        super().__init__(name)
        self.loss_function = loss_function
        self.data_key = data_key
        self.label_key = label_key
        self.classification_method = classification_method

    def _spec(self) -> dict:
        return {"kind": "ClassificationLoss", "name": self.name, "label_key": self.label_key}

    def forward(self, model, batch):
        import torch

        f = self.loss_function if self.loss_function is not None else torch.nn.CrossEntropyLoss()
        return f(getattr(model, self.classification_method)(batch[self.data_key]), batch[self.label_key])


class ReconstructionLoss(Loss):
    """MSE of ``model.decode(model.encode(x))`` against x (a PyTorch model only)."""

    _prefix = "recon_loss"

    def __init__(self, loss_function=None, data_key: str = "main", encoding_method: str = "encode",
                 decoding_method: str = "decode", name: Optional[str] = None):
        super().__init__(name)
        self.loss_function = loss_function
        self.data_key = data_key
        self.encoding_method = encoding_method
        self.decoding_method = decoding_method

    def _spec(self) -> dict:
        return {"kind": "ReconstructionLoss", "name": self.name}

    def forward(self, model, batch):
        import torch

        f = self.loss_function if self.loss_function is not None else torch.nn.MSELoss()
        x = batch[self.data_key]
        return f(x, getattr(model, self.decoding_method)(getattr(model, self.encoding_method)(x)))


class CompoundLoss(Loss):
    _prefix = "comp_loss"

    def __init__(self, losses: list, weights=None, name: Optional[str] = None):
        super().__init__(name)
        self.losses = list(losses)
        if weights is not None and len(weights) != len(self.losses):
            raise ValueError("Size mismatch between losses and weights.")
        self.weights = [1.0] * len(self.losses) if weights is None else [float(w) for w in weights]

    def _spec(self) -> dict:
        return {"kind": "CompoundLoss", "name": self.name, "losses": [l._spec() for l in self.losses],
                "weights": self.weights}

    def _all(self):
        yield self
        for l in self.losses:
            yield from l._all()

    def detailed_history(self):
        import numpy as np

        return np.array([[w * v for v in l.history] for l, w in zip(self.losses, self.weights)]).T
