"""paraDime's predefined routines (``paradime.routines``) with paraDime's defaults."""
from __future__ import annotations

import math
import numbers
from typing import Optional

from .. import _core
from . import dr
from . import loss as pdloss
from . import relations
from . import transforms


def _full_batch_settings(method, full_batch, iterations, hidden_dims, hidden_activation, initialization):
    """The full-batch preset (C++ ``full_batch_preset``, read through the binding) under what is given; without it
    paraDime's network ((100, 50), Softplus) and no full-batch phase. The preset also sets the start phase."""
    preset = _core._full_batch_preset(method) if full_batch else None
    if iterations is None:
        iterations = preset["iterations"] if full_batch else 0
    iterations = dr._int(iterations, "full_batch_iterations")
    if iterations < 0:
        raise ValueError(f"full_batch_iterations must be >= 0, got {iterations}")
    if hidden_dims is None:
        hidden_dims = preset["hidden_dims"] if full_batch else (100, 50)
    if hidden_activation is None:
        hidden_activation = preset["hidden_activation"] if full_batch else "softplus"
    if full_batch:
        initialization = None if preset["initialization"] == "none" else preset["initialization"]
    return int(iterations), hidden_dims, hidden_activation, initialization


_CONSISTENCY_KEYS = ("samples", "n_neighbors", "size", "perplexity", "through_targets")


def _consistency(weight, options):
    """The full-batch phase's transform-consistency penalty (C++ TransformConsistencyOptions; docs/parametric.md,
    "Transform consistency"): its weight and the other fields by name, as the CLI's --full-batch-consistency-*."""
    if options is not None and not isinstance(options, dict):
        raise TypeError(f"full_batch_consistency_options must be a dict or None, got {options!r}")
    options = dict(options or {})
    unknown = sorted(set(options) - set(_CONSISTENCY_KEYS))
    if unknown:
        raise ValueError(f"full_batch_consistency_options: unknown key(s) {unknown}; expected {list(_CONSISTENCY_KEYS)}")
    if not weight >= 0:
        raise ValueError(f"full_batch_consistency must be >= 0, got {weight}")
    return {"weight": float(weight), **options}


class ParametricTSNE(dr.ParametricDR):
    """Parametric t-SNE: NN distances -> perplexity rescale -> symmetrise -> normalise; batch distances ->
    Student-t -> normalise; a PCA position phase, then KL."""

    def __init__(self, perplexity: float = 30.0, alpha: float = 1.0, model=None, in_dim: Optional[int] = None,
                 out_dim: int = 2, hidden_dims=None, initialization: Optional[str] = "pca", epochs: int = 30,
                 init_epochs: int = 10, batch_size: int = 500, init_batch_size: Optional[int] = None,
                 learning_rate: float = 0.01, init_learning_rate: Optional[float] = None, data_key: str = "main",
                 dataset=None, use_cuda: bool = False, verbose: bool = False, seed: int = 0, n_jobs: int = 1,
                 early_exaggeration_epochs: int = 0, early_exaggeration: float = 12.0, lr_anneal: str = "none",
                 full_batch: bool = False, full_batch_iterations: Optional[int] = None,
                 full_batch_learning_rate: float = 0.003, hidden_activation: Optional[str] = None,
                 full_batch_after_kl: bool = False, full_batch_exaggeration: float = 12.0,
                 full_batch_input_noise: float = 0.0, network_precision: str = "float32",
                 full_batch_consistency: float = 0.0, full_batch_consistency_options: Optional[dict] = None,
                 normalize_inputs: bool = True, input_row_norm: float = 8.0):
        # early_exaggeration_epochs, early_exaggeration, lr_anneal: not in paraDime (its defaults are 0, -, "none");
        # an exaggerated KL phase before the main one and the main phase's rate decay (docs/parametric.md).
        # full_batch (the preset) / full_batch_iterations: not in paraDime; t-SNE's loss over every point at once
        # replaces the KL batch phases (docs/parametric.md, "Full batch"); with full_batch_after_kl it follows them
        # instead (a mixed schedule), its first 250 iterations exaggerated by full_batch_exaggeration (1: none).
        # full_batch_input_noise: Gaussian noise on the full-batch phase's inputs, in mean nearest-neighbour
        # distances (docs/parametric.md, "Input noise"). full_batch_consistency (weight) and
        # full_batch_consistency_options (samples, n_neighbors, size, perplexity, through_targets): the transform-
        # consistency penalty (docs/parametric.md, "Transform consistency"; CLI --full-batch-consistency*).
        # The preset starts from the fresh network (the PCA start scored lower).
        iterations, hidden_dims, hidden_activation, initialization = _full_batch_settings(
            "tsne", full_batch, full_batch_iterations, hidden_dims, hidden_activation, initialization)
        if initialization not in ("pca", None):
            raise ValueError(f"initialization must be 'pca' or None, got {initialization!r}")
        global_rel = relations.NeighborBasedPDist(transform=[
            transforms.PerplexityBasedRescale(perplexity=perplexity), transforms.Symmetrize(),
            transforms.Normalize()])
        batch_rel = relations.DifferentiablePDist(transform=[transforms.StudentTTransform(alpha=alpha),
                                                             transforms.Normalize()])
        derived = {"pca": dr.DerivedData("pca", n_components=out_dim)} if initialization == "pca" else {}
        losses = {"init": pdloss.PositionLoss(position_key="pca", name="init"),
                  "embedding": pdloss.RelationLoss(loss_function=pdloss.kullback_leibler_div, name="embedding")}
        early_exaggeration_epochs = dr._int(early_exaggeration_epochs, "early_exaggeration_epochs")
        if early_exaggeration_epochs < 0:
            raise ValueError(f"early_exaggeration_epochs must be >= 0, got {early_exaggeration_epochs}")
        if early_exaggeration_epochs:
            losses["early_exaggeration"] = pdloss.RelationLoss(loss_function=pdloss.kullback_leibler_div,
                                                               name="early_exaggeration",
                                                               exaggeration=early_exaggeration)
        phases = []
        if initialization == "pca":
            phases.append(dr.TrainingPhase(name="pca_init", loss_keys=["init"],
                                           batch_size=init_batch_size or batch_size, epochs=init_epochs,
                                           learning_rate=init_learning_rate or learning_rate))
        if not full_batch_exaggeration > 0:
            raise ValueError(f"full_batch_exaggeration must be > 0, got {full_batch_exaggeration}")
        if not full_batch_input_noise >= 0:
            raise ValueError(f"full_batch_input_noise must be >= 0, got {full_batch_input_noise}")
        fb = None
        if iterations:
            fb = {"iterations": iterations, "learning_rate": float(full_batch_learning_rate), "method": "tsne",
                  "perplexity": float(perplexity), "early_exaggeration": float(full_batch_exaggeration),
                  "input_noise": float(full_batch_input_noise),
                  "consistency": _consistency(full_batch_consistency, full_batch_consistency_options)}
        kl_phases = not iterations or full_batch_after_kl
        if kl_phases and early_exaggeration_epochs:
            phases.append(dr.TrainingPhase(name="early_exaggeration", loss_keys=["early_exaggeration"],
                                           batch_size=batch_size, epochs=early_exaggeration_epochs,
                                           learning_rate=learning_rate))
        if kl_phases:
            phases.append(dr.TrainingPhase(name="embedding", loss_keys=["embedding"], batch_size=batch_size,
                                           epochs=epochs, learning_rate=learning_rate, lr_anneal=lr_anneal))
        super().__init__(model=model, in_dim=in_dim, out_dim=out_dim, hidden_dims=hidden_dims, dataset=dataset,
                         global_relations=global_rel, batch_relations=batch_rel, derived_data=derived,
                         losses=losses, training_phases=phases, use_cuda=use_cuda, verbose=verbose, seed=seed,
                         n_jobs=n_jobs, hidden_activation=hidden_activation, full_batch=fb,
                         network_precision=network_precision, normalize_inputs=normalize_inputs,
                         input_row_norm=input_row_norm)


class ParametricUMAP(dr.ParametricDR):
    """Parametric UMAP: NN distances -> connectivity rescale -> fuzzy symmetrise; pair distances -> modified
    Cauchy; a spectral position phase, then negative-edge cross-entropy."""

    def __init__(self, n_neighbors: int = 30, min_dist: float = 0.01, spread: float = 1.0,
                 a: Optional[float] = None, b: Optional[float] = None, model=None, in_dim: Optional[int] = None,
                 out_dim: int = 2, hidden_dims=None, initialization: Optional[str] = "spectral",
                 epochs: int = 30, init_epochs: int = 5, batch_size: int = 10, negative_sampling_rate: int = 5,
                 init_batch_size: int = 100, learning_rate: float = 0.005, init_learning_rate: float = 0.05,
                 data_key: str = "main", dataset=None, use_cuda: bool = False, verbose: bool = False,
                 seed: int = 0, n_jobs: int = 1, batches_per_epoch: int = -1, lr_anneal: str = "none",
                 full_batch: bool = False, full_batch_iterations: Optional[int] = None,
                 full_batch_learning_rate: float = 0.003, hidden_activation: Optional[str] = None,
                 full_batch_input_noise: float = 0.0, network_precision: str = "float32",
                 full_batch_consistency: float = 0.0, full_batch_consistency_options: Optional[dict] = None,
                 normalize_inputs: bool = True, input_row_norm: float = 8.0):
        # full_batch (the preset) / full_batch_iterations: not in paraDime; TorchDR's UMAP loss over every point at
        # once replaces the negative-edge phase (docs/parametric.md, "Full batch").
        # The preset starts from the fresh network (the default spectral phase kills its ReLU units).
        # The full-batch phase takes n_neighbors as an int: check it here, where int(nan) would name nothing.
        if (isinstance(n_neighbors, bool) or not isinstance(n_neighbors, numbers.Real)
                or not (math.isfinite(n_neighbors) and n_neighbors > 1)):
            raise ValueError(f"n_neighbors must be a finite number > 1, got {n_neighbors!r}")
        iterations, hidden_dims, hidden_activation, initialization = _full_batch_settings(
            "umap", full_batch, full_batch_iterations, hidden_dims, hidden_activation, initialization)
        if iterations and (a is not None or b is not None):
            raise ValueError("full_batch fits its kernel to min_dist and spread; a and b are not used there")
        if initialization not in ("spectral", None):
            raise ValueError(f"initialization must be 'spectral' or None, got {initialization!r}")
        global_rel = relations.NeighborBasedPDist(transform=[
            transforms.ConnectivityBasedRescale(n_neighbors=n_neighbors),
            transforms.Symmetrize(subtract_product=True)])
        batch_rel = relations.DistsFromTo(transform=[transforms.ModifiedCauchyTransform(
            min_dist=min_dist, spread=spread, a=a, b=b)])
        derived = ({"spectral": dr.DerivedData("spectral", rel_key="rel", n_components=out_dim)}
                   if initialization == "spectral" else {})
        losses = {"spectral_init": pdloss.PositionLoss(position_key="spectral", name="spectral_init"),
                  "embedding": pdloss.RelationLoss(loss_function=pdloss.cross_entropy_loss, name="embedding")}
        phases = []
        if initialization == "spectral":
            phases.append(dr.TrainingPhase(name="spectral_init", loss_keys=["spectral_init"],
                                           batch_size=init_batch_size, epochs=init_epochs,
                                           learning_rate=init_learning_rate))
        if not full_batch_input_noise >= 0:
            raise ValueError(f"full_batch_input_noise must be >= 0, got {full_batch_input_noise}")
        fb = None
        if iterations:
            fb = {"iterations": iterations, "learning_rate": float(full_batch_learning_rate), "method": "umap",
                  "n_neighbors": int(n_neighbors), "min_dist": float(min_dist), "spread": float(spread),
                  "input_noise": float(full_batch_input_noise),
                  "consistency": _consistency(full_batch_consistency, full_batch_consistency_options)}
        else:
            phases.append(dr.TrainingPhase(name="embedding", loss_keys=["embedding"], sampling="negative_edge",
                                           neg_sampling_rate=negative_sampling_rate, batch_size=batch_size,
                                           batches_per_epoch=batches_per_epoch, epochs=epochs,
                                           learning_rate=learning_rate, lr_anneal=lr_anneal))
        super().__init__(model=model, in_dim=in_dim, out_dim=out_dim, hidden_dims=hidden_dims, dataset=dataset,
                         global_relations=global_rel, batch_relations=batch_rel, derived_data=derived,
                         losses=losses, training_phases=phases, use_cuda=use_cuda, verbose=verbose, seed=seed,
                         n_jobs=n_jobs, hidden_activation=hidden_activation, full_batch=fb,
                         network_precision=network_precision, normalize_inputs=normalize_inputs,
                         input_row_norm=input_row_norm)
