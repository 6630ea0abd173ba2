"""paraDime's ParametricDR and TrainingPhase (``paradime.dr``), trained by nembed's one Trainer.

The model is nembed's built-in network (in -> hidden_dims -> out_dim with Softplus, paraDime's default) or a
user's PyTorch module (``model=``): nembed computes the batch loss gradient dL/dY, torch backpropagates it through
the module and steps the phase's torch optimizer (torch is then required; it is imported lazily).
"""
from __future__ import annotations

import math
import numbers
from typing import Optional

import numpy as np

from .. import _core
from .._utils import numeric_array, resolve_n_jobs, to_float32
from . import loss as pdloss
from . import relations as pdrel


def _int(value, name: str) -> int:
    """An integer setting as an int. int() would truncate 1.5 silently, and its errors for NaN, infinity or None
    name no setting (infinity is even an OverflowError); an integral float (1e3) is taken."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if isinstance(value, numbers.Integral):
        return int(value)
    if not (math.isfinite(value) and float(value).is_integer()):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return int(value)


def _float(value, name: str) -> float:
    """A real-valued setting as a float (float("x") would name no setting); the C++ side checks its range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    return float(value)


def _bool(value, name: str) -> bool:
    """bool("no") is True: a flag must be a bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _n_threads(n_jobs: int) -> int:
    """joblib's convention, as every other estimator (resolve_n_jobs): 0 is an error, -1 all the cores this
    process may use; None: 1."""
    if n_jobs is None:
        return 1
    return resolve_n_jobs(_int(n_jobs, "n_jobs"))


class DerivedData:
    """Data computed from the dataset ("pca") or from global relations ("spectral"; sparse, standardised)."""

    def __init__(self, func: str = "pca", rel_key: str = "rel", n_components: Optional[int] = None):
        if func not in ("pca", "spectral"):
            raise ValueError(f"unknown derived data {func!r} (known: pca, spectral)")
        self.func = func
        self.rel_key = rel_key
        self.n_components = n_components

    def _spec(self) -> dict:
        n = 0 if self.n_components is None else _int(self.n_components, f"derived data {self.func!r}: n_components")
        return {"kind": self.func, "rel_key": self.rel_key, "n_components": n}


class TrainingPhase:
    """One phase of training, with paraDime's names and defaults."""

    def __init__(self, name: Optional[str] = None, epochs: int = 5, batch_size: int = 50,
                 batches_per_epoch: int = -1, sampling: str = "standard", edge_rel_key: str = "rel",
                 neg_sampling_rate: int = 5, loss: Optional[pdloss.Loss] = None, loss_keys=None,
                 loss_weights=None, optimizer="adam",
                 learning_rate: float = 0.01, report_interval: int = 5, lr_anneal: str = "none", **kwargs):
        self.name = name if name is not None else "phase"
        self.epochs = epochs
        self.batch_size = batch_size
        self.batches_per_epoch = batches_per_epoch
        if sampling not in ("standard", "negative_edge"):
            raise ValueError(f"sampling must be 'standard' or 'negative_edge', got {sampling!r}")
        self.sampling = sampling
        self.edge_rel_key = edge_rel_key
        self.neg_sampling_rate = neg_sampling_rate
        self.loss = loss
        self.loss_keys = loss_keys
        self.loss_weights = loss_weights
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.report_interval = report_interval
        # Not in paraDime (constant rate): "linear" or "cosine" decay over the phase's epochs.
        self.lr_anneal = lr_anneal
        self.kwargs = kwargs

    def _optimizer_name(self) -> str:
        o = self.optimizer
        if isinstance(o, str):
            return o
        name = getattr(o, "__name__", type(o).__name__)
        if name.lower() not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be Adam or SGD, got {name}")
        return name.lower()

    def _spec(self) -> dict:
        who = f"training phase {self.name!r}: "
        return {"name": self.name, "epochs": _int(self.epochs, who + "epochs"),
                "batch_size": _int(self.batch_size, who + "batch_size"),
                "batches_per_epoch": _int(self.batches_per_epoch, who + "batches_per_epoch"),
                "sampling": self.sampling,
                "neg_sampling_rate": _int(self.neg_sampling_rate, who + "neg_sampling_rate"),
                "edge_rel_key": self.edge_rel_key, "optimizer": self._optimizer_name(),
                "momentum": _float(self.kwargs.get("momentum", 0.0), who + "momentum"),
                "weight_decay": _float(self.kwargs.get("weight_decay", 0.0), who + "weight_decay"),
                "learning_rate": _float(self.learning_rate, who + "learning_rate"),
                "report_interval": _int(self.report_interval, who + "report_interval"),
                "lr_anneal": str(getattr(self, "lr_anneal", "none")), "loss": self.loss._spec()}


def _keyed(rel, what):
    if rel is None:
        return {}
    if isinstance(rel, pdrel.Relations):
        return {"rel": rel}
    if isinstance(rel, dict):
        for v in rel.values():
            if not isinstance(v, pdrel.Relations):
                raise TypeError(f"{what}: expected nembed.paradime.relations objects, got {type(v).__name__}")
        return dict(rel)
    raise TypeError(f"{what}: expected relations or a dict of them, got {type(rel).__name__}")


class ParametricDR:
    """A parametric dimensionality-reduction routine (paraDime's ParametricDR).

    Parameters as paraDime's; in addition ``seed`` and ``n_jobs``. ``model``: None (nembed's network) or a
    ``torch.nn.Module`` with ``embed`` (else its ``forward``) and, for the other losses, ``classify`` / ``encode`` /
    ``decode``.
    """

    def __init__(self, model=None, in_dim: Optional[int] = None, out_dim: int = 2, hidden_dims=(100, 50),
                 dataset=None, global_relations=None, batch_relations=None, derived_data=None, losses=None,
                 training_phases=None, use_cuda: bool = False, verbose: bool = False, seed: int = 0,
                 n_jobs: int = 1, hidden_activation: str = "softplus", full_batch: Optional[dict] = None,
                 network_precision: str = "float32", normalize_inputs: bool = True, input_row_norm: float = 8.0):
        # normalize_inputs (not in paraDime): the built-in network reads the rows centred and scaled by the
        # training data's mean and RMS (saved with it), so that the map does not depend on where the data sits;
        # False: paraDime's raw rows. input_row_norm: the map's target RMS row norm with training phases (0: unit RMS
        # per entry; docs/parametric.md §1).
        # hidden_activation, full_batch, network_precision ("float32" or "bf16": bfloat16 operands in the built-in
        # network's products, float32 sums and weights; needs a build with oneDNN): not in paraDime. full_batch (a dict of FullBatchOptions: iterations,
        # learning_rate, method "tsne"/"umap", perplexity, n_neighbors, min_dist, ...) trains the built-in network
        # after the phases by the method's loss over every point at once (docs/parametric.md, "Full batch").
        if use_cuda:
            raise ValueError("use_cuda: nembed trains on the CPU")
        if model is not None and not (callable(getattr(model, "parameters", None))
                                      and callable(getattr(model, "embed", getattr(model, "forward", None)))):
            raise TypeError(f"model must be None (nembed's network) or a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self.in_dim = None if in_dim is None else _int(in_dim, "in_dim")
        self.out_dim = _int(out_dim, "out_dim")
        if isinstance(hidden_dims, (str, bytes)) or not hasattr(hidden_dims, "__iter__"):
            raise TypeError(f"hidden_dims must be a sequence of integers, got {hidden_dims!r}")
        self.hidden_dims = [_int(h, "hidden_dims") for h in hidden_dims]
        self.verbose = verbose
        self.global_relations = _keyed(global_relations, "global_relations")
        self.batch_relations = _keyed(batch_relations, "batch_relations")
        self.derived_data = dict(derived_data or {})
        self.losses = dict(losses or {})
        self.training_phases: list = []
        self.dataset: dict = {}
        self.trained = False
        if full_batch and model is not None:
            raise ValueError("full_batch trains nembed's built-in network only (model=None)")
        if full_batch is not None and not isinstance(full_batch, dict):
            raise TypeError(f"full_batch must be a dict of full-batch settings or None, got {full_batch!r}")
        self._options = {"out_dim": self.out_dim, "hidden_dims": self.hidden_dims, "seed": _int(seed, "seed"),
                         "n_threads": _n_threads(n_jobs), "verbose": bool(verbose),
                         "hidden_activation": str(hidden_activation), "full_batch": dict(full_batch or {}),
                         "network_precision": str(network_precision),
                         "normalize_inputs": _bool(normalize_inputs, "normalize_inputs"),
                         "input_row_norm": _float(input_row_norm, "input_row_norm")}
        self._routine = self._new_routine()
        for tp in training_phases or []:
            self.add_training_phase(tp)
        if dataset is not None:
            self.add_data(dataset)

    def _new_routine(self):
        return _core._ParadimeRoutine(self._options, {k: r._spec() for k, r in self.global_relations.items()},
                                      {k: r._spec() for k, r in self.batch_relations.items()},
                                      {k: d._spec() for k, d in self.derived_data.items()})

    # -- pickling, save and load
    # The C++ routine is rebuilt from the Python description (relations, derived data, phases, user dataset
    # entries); the trained network travels as its double master copy, whose float32 rounding is what the network
    # computes with, so a reloaded routine applies to the same bits. The learnable transform parameters (alpha, a,
    # b) travel too. Global relations are recomputed by the next train() (they are a function of the data).
    def __getstate__(self):
        state = self.__dict__.copy()
        del state["_routine"]
        state["_network_state"] = self._routine.network_state() if self.model is None else None
        state["_transform_params"] = {k: self._routine.transform_params(k) for k in self.batch_relations}
        return state

    def __setstate__(self, state):
        network = state.pop("_network_state", None)
        params = state.pop("_transform_params", {})
        self.__dict__.update(state)
        self._routine = self._new_routine()
        for tp in self.training_phases:
            self._routine.add_training_phase(tp._spec())
        for k, a in self.dataset.items():
            if k != "main" and k not in self.derived_data and a.ndim == 2 and a.dtype.kind == "f":
                self._routine.add_to_dataset(k, np.ascontiguousarray(a, dtype=np.float64))
        for k, p in params.items():
            self._routine.set_transform_params(k, [tuple(float(v) for v in t) for t in p])
        if network is not None:
            self._routine.set_network_state(network)

    def save(self, path) -> None:
        """Pickles the routine to ``path`` (its relations, phases, loss histories, dataset and the trained network;
        a PyTorch model is pickled by torch's rules). ``ParametricDR.load(path)`` restores it: ``apply`` gives the same
        bits."""
        import pickle

        with open(path, "wb") as f:
            pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def load(path) -> "ParametricDR":
        """A routine saved by ``save`` (any routine class; only load files you trust, as with any pickle)."""
        import pickle

        with open(path, "rb") as f:
            try:
                obj = pickle.load(f)
            except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError) as e:
                # A truncated or foreign file: name the file and the problem, not the unpickler's internals only.
                raise ValueError(f"{path}: not a readable saved nembed.paradime routine (truncated or corrupted "
                                 f"file?): {type(e).__name__}: {e}") from e
        if not isinstance(obj, ParametricDR):
            raise TypeError(f"{path}: not a saved nembed.paradime routine (got {type(obj).__name__})")
        return obj

    # -- data
    def add_data(self, data) -> None:
        if not isinstance(data, dict):
            data = {"main": data}
        self.add_to_dataset(data)

    register_dataset = add_data

    def add_to_dataset(self, data: dict) -> None:
        for k, v in data.items():
            a = v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)
            if k == "main":
                a = numeric_array(a, "data")
                if a.ndim == 0 or len(a) < 2:
                    raise ValueError("ParametricDR needs at least 2 points with at least 1 feature, got data of "
                                     f"shape {a.shape}")
                a = to_float32(a.reshape(len(a), -1), "data")
                if self.in_dim is not None and a.shape[1] != self.in_dim:
                    raise ValueError(f"data has {a.shape[1]} features, in_dim is {self.in_dim}")
            elif a.ndim == 2 and a.dtype.kind == "f":
                self._routine.add_to_dataset(k, np.ascontiguousarray(a, dtype=np.float64))
            self.dataset[k] = a

    def _data(self) -> np.ndarray:
        if "main" not in self.dataset:
            raise ValueError("no dataset: pass data to train() or register it first")
        return self.dataset["main"]

    # -- phases
    def add_training_phase(self, training_phase: Optional[TrainingPhase] = None, **kwargs) -> None:
        tp = training_phase if training_phase is not None else TrainingPhase(**kwargs)
        if tp.loss is None:
            if not tp.loss_keys:
                raise ValueError(f"training phase {tp.name!r}: no loss (loss= or loss_keys=)")
            missing = [k for k in tp.loss_keys if k not in self.losses]
            if missing:
                raise ValueError(f"training phase {tp.name!r}: unknown loss keys {missing}")
            ls = [self.losses[k] for k in tp.loss_keys]
            tp.loss = (ls[0] if len(ls) == 1 and tp.loss_weights is None
                       else pdloss.CompoundLoss(ls, weights=tp.loss_weights))
        if not isinstance(tp.loss, pdloss.Loss):
            raise TypeError(f"training phase {tp.name!r}: loss must be a nembed.paradime.loss.Loss")
        self._routine.add_training_phase(tp._spec())
        self.training_phases.append(tp)

    # -- relations and derived data
    def compute_global_relations(self, force: bool = False) -> None:
        self._routine.compute_global_relations(self._data())

    @property
    def global_relation_data(self) -> dict:
        import scipy.sparse as sp

        out = {}
        for k, r in self.global_relations.items():
            if isinstance(r, pdrel.PDist):
                continue
            indptr, indices, data = self._routine.global_relation(k)
            n = len(indptr) - 1
            out[k] = sp.csr_matrix((data, indices, indptr), shape=(n, n))
        return out

    # -- training
    def train(self, data=None) -> None:
        if data is not None:
            self.add_data(data)
        X = self._data()
        self._routine.compute_global_relations(X)
        self._routine.compute_derived_data(X)
        for k in self.derived_data:
            self.dataset[k] = self._routine.dataset_entry(k)
        start = len(self._routine.histories())
        if self.model is None:
            self._routine.train(X)
        else:
            from ._torch import TorchModel

            TorchModel(self, X).train(self._routine)
        self._record_histories(start)
        self.trained = True

    def _record_histories(self, start: int) -> None:
        hist = self._routine.histories()[start:]
        for tp, (name, losses) in zip(self.training_phases, hist):
            for l in tp.loss._all():
                l.history.extend(losses.get(l.name, []))

    # -- application
    def apply(self, X, method: Optional[str] = None):
        a = numeric_array(X.detach().cpu().numpy() if hasattr(X, "detach") else X, "X")
        if a.ndim == 0 or len(a) == 0:
            raise ValueError(f"ParametricDR.apply: X has no rows (shape {a.shape})")
        if a.ndim == 1:
            # As paraDime's torch models read it: a 1-D input of the model's feature count is one point, and gives
            # one embedding vector. A model of one feature reads it as that many points (one value each).
            d = self._n_features()
            if d is not None and d > 1:
                if len(a) != d:
                    raise ValueError(f"ParametricDR.apply: X is 1-D with {len(a)} values; the model takes {d} "
                                     "features (pass one point as a 1-D array of that length, or points as the rows "
                                     "of a 2-D array)")
                return self.apply(a.reshape(1, d), method)[0]
        a = to_float32(a.reshape(len(a), -1), "X")
        if self.model is None:
            if method not in (None, "embed"):
                raise ValueError(f"the built-in network has no method {method!r} (only 'embed')")
            if not self.trained:
                raise ValueError("ParametricDR.apply: train the routine first")
            return self._routine.apply(a)
        # The built-in network checks these in C++; a torch module would give NaN rows for NaN input, and a
        # shape error of its own for the wrong feature count.
        d = self._n_features()
        if d is not None and a.shape[1] != d:
            raise ValueError(f"ParametricDR.apply: the data has {a.shape[1]} features, the model was trained on {d}")
        if not np.isfinite(a).all():
            at = np.argwhere(~np.isfinite(a))[0]
            raise ValueError(f"ParametricDR.apply: X has a non-finite value at row {at[0]}, column {at[1]}")
        import torch

        f = getattr(self.model, method or ("embed" if hasattr(self.model, "embed") else "forward"))
        with torch.no_grad():
            p = next(self.model.parameters(), None)
            t = torch.from_numpy(a).to(p.dtype if p is not None else torch.float32)
            return f(t).detach().cpu().numpy()

    def _n_features(self) -> Optional[int]:
        """The feature count the model reads: the trained built-in network's, else the data's or in_dim."""
        if self.model is None and self.trained:
            return int(self._routine.n_inputs())
        if "main" in self.dataset:
            return int(np.shape(self.dataset["main"])[1])
        return self.in_dim

    def embed(self, X):
        return self.apply(X, "embed")

    def classify(self, X):
        return self.apply(X, "classify")

    @property
    def transform_parameters(self) -> dict:
        """The batch transforms' parameters (alpha, a, b) after training."""
        return {k: self._routine.transform_params(k) for k in self.batch_relations}
