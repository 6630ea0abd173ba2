"""Callbacks for ``TSNE(callbacks=...)`` and ``optimize(callbacks=...)`` (openTSNE's ``callbacks`` module).

A callback is any callable ``callback(iteration, error, embedding) -> bool``; a truthy return stops the run.
An optional ``optimization_about_to_start()`` method is called before each optimize call.
"""
from __future__ import annotations

import logging
import time

import numpy as np

__all__ = ["Callback", "ErrorLogger", "StopAfter", "VerifyExaggerationError", "ErrorApproximations"]

log = logging.getLogger(__name__)


class Callback:
    """Base class (any callable works)."""

    def optimization_about_to_start(self) -> None:
        """Called once before every optimize call."""

    def __call__(self, iteration: int, error: float, embedding: np.ndarray) -> bool:
        raise NotImplementedError


class ErrorLogger(Callback):
    """Prints the KL divergence and the time since the previous report."""

    def __init__(self):
        self.iter_count = 0
        self.last_log_time = None

    def optimization_about_to_start(self) -> None:
        self.last_log_time = time.time()
        self.iter_count = 0

    def __call__(self, iteration: int, error: float, embedding: np.ndarray) -> bool:
        now = time.time()
        duration = now - (self.last_log_time or now)
        self.last_log_time = now
        n_iters = iteration - self.iter_count
        self.iter_count = iteration
        print(f"Iteration {iteration:4d}, KL divergence {error:6.4f}, {n_iters} iterations in {duration:.4f} sec")
        return False


class StopAfter(Callback):
    """Stops the run once `max_iterations` iterations of one optimize call have passed."""

    def __init__(self, max_iterations: int):
        self.max_iterations = int(max_iterations)

    def __call__(self, iteration: int, error: float, embedding: np.ndarray) -> bool:
        return iteration >= self.max_iterations


def _kl(P, embedding, method: str, params: dict) -> float:
    from . import tsne as _tsne
    Y = np.asarray(embedding)
    name = _tsne._resolve_method(method, Y.shape[0], Y.shape[1])
    return float(_tsne._objective(Y, P, params.get("dof", 1), name, theta=params.get("theta", 0.5),
                                  n_interpolation_points=params.get("n_interpolation_points", 3),
                                  min_num_intervals=params.get("min_num_intervals", 50),
                                  ints_in_interval=params.get("ints_in_interval", 1),
                                  n_jobs=params.get("n_jobs", 1))[0])


class VerifyExaggerationError(Callback):
    """Checks that the error reported during an exaggerated run is the KL divergence of the un-exaggerated P
    (recomputed with the embedding's own gradient method); RuntimeError when they differ by more than 1e-8.

    Parameters
    ----------
    embedding : TSNEEmbedding
        The embedding being optimised (its P and gradient parameters are used).
    """

    def __init__(self, embedding) -> None:
        self.embedding = embedding
        self.P = self.embedding.affinities.P.copy()

    def __call__(self, iteration: int, corrected_error: float, embedding) -> bool:
        true_error = _kl(self.P, embedding, self.embedding.gradient_descent_params.get("negative_gradient_method",
                                                                                        "auto"),
                         self.embedding.gradient_descent_params)
        if abs(true_error - corrected_error) > 1e-8:
            raise RuntimeError(f"Correction term is wrong: reported KL {corrected_error!r}, recomputed {true_error!r}")
        log.info("Corrected: %.4f - True %.4f [eps %.4f]" % (corrected_error, true_error,
                                                             abs(true_error - corrected_error)))
        return False


class ErrorApproximations(Callback):
    """Records the exact, Barnes-Hut and FFT KL divergences of the embedding at each call (``report`` prints the
    mean differences of the approximations from the exact value)."""

    def __init__(self, P) -> None:
        self.P = P.copy()
        self.exact_errors, self.bh_errors, self.fft_errors = [], [], []

    def __call__(self, iteration: int, error: float, embedding) -> bool:
        self.exact_errors.append(_kl(self.P, embedding, "exact", {}))
        self.bh_errors.append(_kl(self.P, embedding, "bh", {}))
        self.fft_errors.append(_kl(self.P, embedding, "fft", {}))
        return False

    def report(self) -> None:
        exact = np.array(self.exact_errors)
        bh, fft = np.array(self.bh_errors) - exact, np.array(self.fft_errors) - exact
        print("Barnes-Hut: mean difference %.4f (±%.4f)" % (np.mean(bh), np.std(bh)))
        print("Interpolation: mean difference %.4f (±%.4f)" % (np.mean(fft), np.std(fft)))
