"""The PyTorch plug-in of nembed.paradime: a user's torch.nn.Module as the model of the one Trainer. nembed
draws the batches, evaluates the relation and position losses and gives dL/dY of each batch; torch
backpropagates (dL/dY)·Y plus the losses only the module can evaluate (ClassificationLoss, ReconstructionLoss,
custom Loss subclasses) and steps the phase's torch optimizer."""
from __future__ import annotations

import numpy as np


def _torch():
    try:
        import torch
    except ImportError as e:  # pragma: no cover - exercised without torch
        raise ImportError("nembed.paradime with model=<torch.nn.Module> needs PyTorch: pip install torch") from e
    return torch


class TorchModel:
    def __init__(self, dr, X: np.ndarray):
        torch = _torch()
        self.torch = torch
        self.dr = dr
        self.module = dr.model
        p = next(self.module.parameters(), None)
        if p is None:
            raise ValueError("the PyTorch model has no parameters")
        self.dtype = p.dtype
        self.X = torch.from_numpy(X).to(self.dtype)
        self.embed = getattr(self.module, "embed", None) or self.module.forward
        self.extra = {k: torch.from_numpy(np.asarray(v)) for k, v in dr.dataset.items() if k != "main"}
        self.losses = {}
        for tp in dr.training_phases:
            for l in tp.loss._all():
                self.losses[l.name] = l
        self.out = None
        self.pending = None
        self.optimizer = None

    def _batch(self, idx):
        t = self.torch
        i = t.from_numpy(np.asarray(idx))
        b = {"indices": i, "main": self.X[i]}
        for k, v in self.extra.items():
            b[k] = v[i]
        return b

    def forward(self, idx):
        self.out = self.embed(self.X[self.torch.from_numpy(np.asarray(idx))])
        if getattr(self.out, "ndim", None) != 2:
            raise ValueError(f"the model's {getattr(self.embed, '__name__', 'forward')} must return a (batch, out_dim) "
                             f"tensor, got shape {tuple(getattr(self.out, 'shape', ()))}")
        if self.out.shape[1] != self.dr.out_dim:
            raise ValueError(f"the model embeds in {self.out.shape[1]} dimensions, out_dim is {self.dr.out_dim}")
        return np.ascontiguousarray(self.out.detach().cpu().numpy(), dtype=np.float64)

    def external_loss(self, name, idx, weight):
        loss = self.losses[name]
        value = loss.forward(self.module, self._batch(idx))
        term = weight * value
        self.pending = term if self.pending is None else self.pending + term
        return float(value.detach().cpu().item())

    def backward(self, idx, dY):
        total = (self.out * self.torch.from_numpy(dY).to(self.out.dtype)).sum()
        if self.pending is not None:
            total = total + self.pending
        total.backward()
        self.out = None
        self.pending = None

    def step(self, lr):
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        self.optimizer.step()
        self.optimizer.zero_grad()

    def phase_start(self, i):
        tp = self.dr.training_phases[i]
        o = tp.optimizer
        if isinstance(o, str):
            o = {"adam": self.torch.optim.Adam, "sgd": self.torch.optim.SGD}[o.lower()]
        self.optimizer = o(self.module.parameters(), lr=tp.learning_rate, **tp.kwargs)
        self.optimizer.zero_grad()

    def embedding(self):
        # In eval mode, then back: nembed also calls this at the end of each phase (the collapse check), and a
        # train-mode pass would draw dropout masks and move BatchNorm statistics.
        was_training = self.module.training
        self.module.eval()
        try:
            with self.torch.no_grad():
                return np.ascontiguousarray(self.embed(self.X).cpu().numpy(), dtype=np.float64)
        finally:
            self.module.train(was_training)

    def train(self, routine):
        self.module.train()
        try:
            routine.train_model(self.dr._data(), self.forward, self.backward, self.step, self.embedding,
                                self.external_loss, self.phase_start)
        finally:
            self.module.eval()
