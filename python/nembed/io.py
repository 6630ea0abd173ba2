"""File input/output through nembed's C++ readers (.npy, .npz[:member], .csv/.tsv/.txt, idx[.gz])."""
from __future__ import annotations

import os

import numpy as np

from . import _core
from ._utils import as_float64_matrix

__all__ = ["load_matrix", "load_labels", "save_matrix"]


def load_matrix(spec: "str | os.PathLike") -> np.ndarray:
    """Loads a matrix as float32 rows (idx images are flattened). Raises ValueError naming the file and problem."""
    return _core.load_matrix(os.fspath(spec))


def load_labels(spec: "str | os.PathLike") -> np.ndarray:
    """Loads one label per row as int64."""
    return _core.load_labels(os.fspath(spec))


def save_matrix(path: "str | os.PathLike", matrix) -> None:
    """Writes a matrix as .npy or .csv (by extension)."""
    _core.save_matrix(os.fspath(path), as_float64_matrix(matrix, "matrix"))
