"""Internal helpers: array conversion, thread counts, seeds and signal handling."""
from __future__ import annotations

import numbers
import threading
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import _core


def as_float32_matrix(X: Any, name: str = "X") -> np.ndarray:
    """C-contiguous float32 2-D view of `X`; copies only when dtype or order require it.

    Raises
    ------
    ValueError
        For sparse, non-numeric, empty or non-2-D input.
    """
    arr = numeric_array(X, name)
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (n_samples x n_features), got {arr.ndim} dimension(s)")
    return to_float32(arr, name)


def numeric_array(X: Any, name: str = "X") -> np.ndarray:
    """`X` as an ndarray of real numbers (bool, integer or float); sparse, object, string and complex input are
    errors naming `name` (numpy's casts would drop the imaginary part, or fail with a message that names nothing)."""
    if sp.issparse(X):
        raise TypeError(f"{name}: sparse input is not supported; pass a dense array")
    arr = np.asarray(X)
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{name}: complex values are not supported (dtype {arr.dtype}); pass real numbers")
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise ValueError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    return arr


def rows_matrix(X: Any, name: str = "X") -> np.ndarray:
    """A numeric `X` of at least one row and one value as rows (n, -1): 1-D input is n points of one value, N-D
    input is flattened per row. Empty input is a ValueError naming its shape (numpy's reshape of it would fail
    with a message that names nothing)."""
    arr = numeric_array(X, name)
    if arr.ndim == 0 or arr.size == 0:
        raise ValueError(f"{name} is empty or not an array of rows (shape {arr.shape})")
    return arr.reshape(len(arr), -1)


def float32_overflow(arr: np.ndarray):
    """(out, bad): the C-contiguous float32 copy of a numeric array (none when it already is one), and the mask of
    finite values that the cast made infinite (beyond float32's range), or None when there are none."""
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(arr, dtype=np.float32)
    if out is not arr and arr.dtype.kind == "f" and arr.dtype.itemsize > 4 and np.isinf(out).any():
        bad = np.isinf(out) & np.isfinite(arr)
        if bad.any():
            return out, bad
    return out, None


def to_float32(arr: np.ndarray, name: str = "X") -> np.ndarray:
    """C-contiguous float32 copy of a numeric array (none when it already is one). A finite value beyond float32's
    range is a ValueError naming it (numpy would make it infinite, and the error would then blame a non-finite
    value the caller never passed)."""
    out, bad = float32_overflow(arr)
    if bad is not None:
        at = np.argwhere(bad)[0]
        where = f" at row {at[0]}, column {at[1]}" if arr.ndim == 2 else f" at index {tuple(at)}"
        raise ValueError(f"{name}: value {arr[tuple(at)]:.3g}{where} overflows float32 (|x| > 3.4e38)")
    return out


def as_float64_matrix(Y: Any, name: str = "embedding") -> np.ndarray:
    """C-contiguous float64 2-D array (no copy when `Y` already is one)."""
    arr = np.asarray(Y)
    if np.iscomplexobj(arr):  # numpy's cast would drop the imaginary part with only a ComplexWarning
        raise TypeError(f"{name}: complex values are not supported, got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array, got {arr.ndim} dimension(s)")
    return np.ascontiguousarray(arr, dtype=np.float64)


def as_csr(P: Any, n_rows: int | None = None, n_cols: int | None = None, name: str = "P") -> sp.csr_matrix:
    """Canonical scipy CSR (sorted, no duplicates) with float64 values."""
    M = sp.csr_matrix(P, dtype=np.float64)
    M.sum_duplicates()
    M.sort_indices()
    if n_rows is not None and M.shape[0] != n_rows:
        raise ValueError(f"{name}: expected {n_rows} rows, got {M.shape[0]}")
    if n_cols is not None and M.shape[1] != n_cols:
        raise ValueError(f"{name}: expected {n_cols} columns, got {M.shape[1]}")
    return M


def csr_parts(M: sp.csr_matrix):
    """(indptr int64, indices int32, data float64) as the C++ core takes them."""
    return (np.ascontiguousarray(M.indptr, dtype=np.int64), np.ascontiguousarray(M.indices, dtype=np.int32),
            np.ascontiguousarray(M.data, dtype=np.float64))


def csr_from_parts(parts, shape) -> sp.csr_matrix:
    indptr, indices, data = parts
    return sp.csr_matrix((data, indices, indptr), shape=shape)


def resolve_n_jobs(n_jobs: int) -> int:
    """joblib convention: positive as is, -1 all cores, -2 all but one, ...; 0 is a ValueError."""
    if not isinstance(n_jobs, numbers.Integral) or isinstance(n_jobs, bool):
        raise ValueError(f"n_jobs must be an integer, got {n_jobs!r}")
    return int(_core.resolve_threads(int(n_jobs)))


def resolve_seed(random_state: Any) -> int:
    """A 64-bit seed from None (drawn from numpy's global RNG), an int, a RandomState or a Generator."""
    if random_state is None:
        return int(np.random.randint(0, 2**31 - 1))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0 or random_state >= 2**64:
            raise ValueError(f"random_state must be between 0 and 2**64 - 1, got {random_state}")
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**31 - 1))
    raise ValueError(f"random_state must be None, an int, a RandomState or a Generator, got {random_state!r}")


def handle_sigint() -> bool:
    """Whether a long C++ call may install its SIGINT handler (only the main thread receives signals)."""
    return threading.current_thread() is threading.main_thread()


def optional_float(value: Any, name: str):
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or None, got {value!r}") from None


def check_affinity_metric(metric: Any) -> None:
    """The inner product is a kNN metric only: 1 - <x, y> can be negative, and affinities need distances >= 0."""
    if isinstance(metric, str) and metric in ("ip", "inner_product", "dot"):
        raise ValueError(f"metric {metric!r}: affinities need non-negative distances, which 1 - <x, y> is not; "
                         "use 'cosine' (the inner product of normalised rows)")
