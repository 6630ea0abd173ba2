"""openTSNE's public helpers (``openTSNE.utils``): ``Timer``, ``deprecate_parameter``, ``is_package_installed``,
``clip_point_to_disc``."""
from __future__ import annotations

import importlib
import time
import warnings
from functools import wraps
from typing import Tuple

import numpy as np

__all__ = ["Timer", "deprecate_parameter", "is_package_installed", "clip_point_to_disc"]


class Timer:
    """Context manager printing ``===> message`` on entry and the elapsed seconds on exit when `verbose`."""

    def __init__(self, message: str, verbose: bool = False):
        self.message = message
        self.start_time = time.time()
        self.verbose = verbose

    def __enter__(self):
        self.start_time = time.time()
        if self.verbose:
            print("===>", self.message)
        return self

    def __exit__(self, *args):
        if self.verbose:
            print("   --> Time elapsed: %.2f seconds" % (time.time() - self.start_time))


def deprecate_parameter(parameter: str):
    """Decorator: a FutureWarning whenever the keyword `parameter` is passed."""

    def wrapper(f):
        @wraps(f)
        def func(*args, **kwargs):
            if parameter in kwargs:
                warnings.warn(f"The parameter `{parameter}` has been deprecated and will be removed in future "
                              "versions", category=FutureWarning)
            return f(*args, **kwargs)
        return func
    return wrapper


def is_package_installed(libname: str) -> bool:
    """Whether `libname` can be imported."""
    try:
        importlib.import_module(libname)
        return True
    except ImportError:
        return False


def clip_point_to_disc(points: np.ndarray, radius: float, inplace: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """Projects 2-D points farther than `radius` from the origin onto the circle of that radius.

    Parameters
    ----------
    points : ndarray of shape (n, 2), float
    radius : float
    inplace : bool
        Write into `points` (a float array) instead of a copy.

    Returns
    -------
    (clipped points, boolean mask of the points that were clipped)
    """
    points = np.asarray(points) if inplace else np.array(points, dtype=np.float64, copy=True)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"clip_point_to_disc: points must have shape (n, 2), got {points.shape}")
    r = np.linalg.norm(points, axis=1)
    mask = r > radius
    # Only the clipped rows are rescaled, so points inside the disc keep their exact values.
    points[mask] *= (radius / r[mask])[:, None]
    return points, mask
