"""Run ``nembed tsne|umap|cne|ne`` on several MPI ranks from Python (docs/mpi.md, "From Python").

The Python extension is built without MPI (the wheel does not depend on an MPI library) and takes no mpi4py
communicator; a distributed fit runs the command-line tool under ``mpirun`` instead. :func:`run` writes X to a
C-order float32 ``.npy``, starts ``mpirun -n R nembed METHOD X.npy -o Y.npy ...``, and returns Y. The result has the
same bits for any number of ranks, equal to the single-process ``nembed`` run with the same options (docs/mpi.md).

The first argument, the nembed command, is positional: every keyword is an option of that command, ``method=``
included, so ``run("ne", X, 2, method="tsne")`` runs ``nembed ne --method tsne`` (TorchDR's methods) and
``run("tsne", X, 2, method="fft")`` passes t-SNE's gradient method. The older keyword form ``run(method="umap",
X=X)`` (no positional command) still names the command.

>>> from nembed import mpi
>>> Y = mpi.run("umap", X, n_ranks=4, seed=1, n_epochs=200)            # doctest: +SKIP
>>> Y = mpi.run("ne", X, 2, method="infotsne", max_iter=500)          # doctest: +SKIP
>>> mpi.command("tsne", "X.npy", "Y.npy", n_ranks=2, seed=1)          # doctest: +SKIP
['mpirun', '-n', '2', 'nembed', 'tsne', 'X.npy', '-o', 'Y.npy', '--seed', '1']

Options are given as keywords: ``n_iter=500`` becomes ``--n-iter 500``, ``True`` a bare flag, ``None`` or
``False`` nothing (``nembed METHOD --help`` lists them). The ``nembed`` executable is ``nembed=`` or the
``NEMBED_CLI`` environment variable or ``nembed`` on the PATH; ``mpirun=`` or ``NEMBED_MPIRUN`` or ``mpirun`` /
``mpiexec`` on the PATH.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from typing import Any, Sequence

import numpy as np

__all__ = ["run", "command", "find_nembed", "find_mpirun"]

METHODS = ("tsne", "umap", "cne", "ne")  # the nembed commands that run distributed


def find_nembed(nembed: str | None = None) -> str:
    """The nembed executable: ``nembed``, else $NEMBED_CLI, else ``nembed`` on the PATH (FileNotFoundError if none)."""
    path = nembed or os.environ.get("NEMBED_CLI") or shutil.which("nembed")
    if not path or not (os.path.isfile(path) or shutil.which(path)):
        raise FileNotFoundError("nembed.mpi: the nembed command-line tool was not found (pass nembed=PATH or set "
                                "NEMBED_CLI; the Python wheel does not install it)")
    return path


def find_mpirun(mpirun: str | None = None) -> str:
    """The MPI launcher: ``mpirun``, else $NEMBED_MPIRUN, else mpirun or mpiexec on the PATH."""
    path = mpirun or os.environ.get("NEMBED_MPIRUN") or shutil.which("mpirun") or shutil.which("mpiexec")
    if not path:
        raise FileNotFoundError("nembed.mpi: no MPI launcher found (mpirun or mpiexec; Debian: openmpi-bin)")
    return path


def _option_args(options: dict[str, Any]) -> list[str]:
    args: list[str] = []
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            args.append(flag)
        elif isinstance(value, (list, tuple)):
            args.append(flag)
            args.extend(str(v) for v in value)
        else:
            args.extend([flag, str(value)])
    return args


def _command_name(cmd: str | None, options: dict[str, Any]) -> str:
    # The command is the positional argument; without one, the older keyword form method="tsne|umap|cne" names it.
    if cmd is None:
        cmd = options.pop("method", None)
        if cmd is None:
            raise TypeError("nembed.mpi: give the nembed command first, e.g. run('ne', X, 2, method='tsne')")
    return cmd


def command(cmd: str | None = None, /, input_path: str | None = None, output_path: str | None = None,
            n_ranks: int = 2, *, nembed: str | None = None, mpirun: str | None = None,
            mpirun_args: Sequence[str] = (), **options: Any) -> list[str]:
    """The mpirun command line :func:`run` starts (nothing is run; executables are not looked up unless given
    or found). ``cmd``: tsne, umap, cne or ne; every keyword, ``method=`` included, is an option of that command."""
    method = _command_name(cmd, options)
    if input_path is None or output_path is None:
        raise TypeError("nembed.mpi: command() needs input_path and output_path")
    if method not in METHODS:
        raise ValueError(f"nembed.mpi: method must be one of {', '.join(METHODS)}, got {method!r}")
    if isinstance(n_ranks, bool) or not isinstance(n_ranks, (int, np.integer)) or n_ranks < 1:
        raise ValueError(f"nembed.mpi: n_ranks must be an integer >= 1, got {n_ranks!r}")
    for bad in ("output", "o", "labels", "plot", "metrics", "pca"):
        if options.get(bad) not in (None, False):
            raise ValueError(f"nembed.mpi: {bad}= is not available under mpirun (docs/mpi.md)")
    launcher = mpirun or os.environ.get("NEMBED_MPIRUN") or shutil.which("mpirun") or shutil.which("mpiexec") \
        or "mpirun"
    exe = nembed or os.environ.get("NEMBED_CLI") or shutil.which("nembed") or "nembed"
    return [launcher, *mpirun_args, "-n", str(int(n_ranks)), exe, method, str(input_path), "-o", str(output_path),
            *_option_args(options)]


def run(cmd: str | None = None, /, X: Any = None, n_ranks: int = 2, *, nembed: str | None = None,
        mpirun: str | None = None, mpirun_args: Sequence[str] = (), timeout: float | None = None,
        workdir: str | None = None, **options: Any) -> np.ndarray:
    """Fits with ``nembed cmd`` (tsne, umap, cne, or ne with ``method=`` one of sne, tsne, infotsne, largevis, umap)
    on X with ``n_ranks`` MPI ranks and returns the embedding (float64).

    X: a 2-D array (written as C-order float32 to ``workdir``, a temporary folder by default) or the path of a
    C-order 2-D ``.npy`` file (used as it is). ``mpirun_args``: launcher options before ``-n`` (e.g.
    ``["--oversubscribe"]``, or a host file). Raises ValueError for bad arguments, FileNotFoundError when nembed or
    mpirun is missing, RuntimeError with nembed's error line when the run fails, subprocess.TimeoutExpired past
    ``timeout`` seconds.
    """
    method = _command_name(cmd, options)
    if X is None:
        raise TypeError("nembed.mpi: run() needs X (an array or an .npy path)")
    exe = find_nembed(nembed)
    launcher = find_mpirun(mpirun)
    with tempfile.TemporaryDirectory(dir=workdir, prefix="nembed-mpi-") as tmp:
        if isinstance(X, (str, os.PathLike)):
            input_path = os.fspath(X)
            if not input_path.endswith(".npy"):
                raise ValueError(f"nembed.mpi: the input file must be an .npy, got {input_path!r}")
        else:
            A = np.asarray(X)
            if A.ndim != 2 or A.shape[0] < 2 or A.shape[1] < 1:
                raise ValueError(f"nembed.mpi: X must be a 2-D array with at least 2 rows, got shape {A.shape}")
            if not np.issubdtype(A.dtype, np.number) or np.issubdtype(A.dtype, np.complexfloating):
                raise TypeError(f"nembed.mpi: X must hold real numbers, got dtype {A.dtype}")
            A = np.ascontiguousarray(A, dtype=np.float32)
            if not np.isfinite(A).all():
                raise ValueError("nembed.mpi: X contains NaN or infinite values")
            input_path = os.path.join(tmp, "X.npy")
            np.save(input_path, A)
        output_path = os.path.join(tmp, "Y.npy")
        argv = command(method, input_path, output_path, n_ranks, nembed=exe, mpirun=launcher,
                       mpirun_args=mpirun_args, **options)  # options keep method= (ne's --method)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
            errors = [line for line in lines if "nembed: error:" in line]
            message = errors[-1] if errors else (lines[-1] if lines else f"exit code {done.returncode}")
            raise RuntimeError(f"nembed.mpi: mpirun -n {n_ranks} nembed {method} failed: {message}")
        return np.load(output_path).astype(np.float64, copy=False)
