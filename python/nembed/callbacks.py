"""Callbacks for ``TSNE(callbacks=...)`` and ``optimize(callbacks=...)`` (openTSNE's ``callbacks`` module).

A callback is any callable ``callback(iteration, error, embedding) -> bool``; a truthy return stops the run.
An optional ``optimization_about_to_start()`` method is called before each optimize call.
"""
from __future__ import annotations

import time

import numpy as np

__all__ = ["Callback", "ErrorLogger", "StopAfter"]


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
