"""nembed.mpi: the mpirun command line it builds, its argument checks, and (when mpirun and the nembed CLI are
found: NEMBED_CLI or nembed on the PATH) a 2-rank run equal to the single-process CLI bit for bit, and a refused
allocation (one process, or one rank of two) ending the run with one readable line."""
import os
import shutil
import subprocess

import numpy as np
import pytest

from nembed import mpi


def test_command_line():
    argv = mpi.command("umap", "X.npy", "Y.npy", n_ranks=3, nembed="nb", mpirun="mr", mpirun_args=["--oversubscribe"],
                       seed=1, n_epochs=50, neighbors="hnsw", knn_shards=4, verbose=True, init=None, quiet=False)
    assert argv == ["mr", "--oversubscribe", "-n", "3", "nb", "umap", "X.npy", "-o", "Y.npy", "--seed", "1",
                    "--n-epochs", "50", "--neighbors", "hnsw", "--knn-shards", "4", "--verbose"]


def test_ne_command_line_takes_method_as_an_option():
    # ne's --method (TorchDR's method) is a keyword like any other option: the command is positional.
    argv = mpi.command("ne", "X.npy", "Y.npy", 2, nembed="nb", mpirun="mr", method="infotsne", max_iter=100,
                       knn_shards=2)
    assert argv == ["mr", "-n", "2", "nb", "ne", "X.npy", "-o", "Y.npy", "--method", "infotsne", "--max-iter", "100",
                    "--knn-shards", "2"]
    # t-SNE's --method (the gradient method) the same way.
    assert mpi.command("tsne", "X.npy", "Y.npy", nembed="nb", mpirun="mr", method="fft")[-2:] == ["--method", "fft"]
    # The older keyword form still names the command.
    assert mpi.command(method="umap", input_path="X.npy", output_path="Y.npy", nembed="nb", mpirun="mr")[3:5] == \
        ["nb", "umap"]
    with pytest.raises(TypeError, match="command"):
        mpi.command(input_path="X.npy", output_path="Y.npy", nembed="nb", mpirun="mr")
    with pytest.raises(TypeError, match="X"):
        mpi.run("ne", None, 2, nembed="nb", mpirun="mr", method="tsne")


def test_bad_arguments():
    with pytest.raises(ValueError, match="method"):
        mpi.command("pacmap", "X.npy", "Y.npy", nembed="nb", mpirun="mr")
    for n in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="n_ranks"):
            mpi.command("tsne", "X.npy", "Y.npy", n_ranks=n, nembed="nb", mpirun="mr")
    with pytest.raises(ValueError, match="labels"):
        mpi.command("tsne", "X.npy", "Y.npy", nembed="nb", mpirun="mr", labels="y.npy")
    with pytest.raises(FileNotFoundError, match="nembed"):
        mpi.find_nembed("/nonexistent/nembed")


def _tools():
    launcher = shutil.which("mpirun") or shutil.which("mpiexec")
    exe = os.environ.get("NEMBED_CLI") or shutil.which("nembed")
    if not launcher or not exe or not os.path.isfile(exe):
        pytest.skip("mpirun or the nembed CLI (NEMBED_CLI) not found")
    return launcher, exe


@pytest.fixture
def open_mpi_env(monkeypatch):
    # Open MPI: allow root (CI containers) and more ranks than cores; ignored by other MPI libraries.
    monkeypatch.setenv("OMPI_ALLOW_RUN_AS_ROOT", "1")
    monkeypatch.setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    monkeypatch.setenv("OMPI_MCA_rmaps_base_oversubscribe", "1")


def _clusters(n=3000, d=10, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=6.0, size=(8, d))
    return (centres[rng.integers(0, 8, n)] + rng.normal(size=(n, d))).astype(np.float32)


def test_run_equals_single_process(tmp_path, open_mpi_env):
    launcher, exe = _tools()
    X = _clusters()
    opts = dict(seed=3, n_epochs=30, init="pca", neighbors="hnsw", knn_shards=2)
    Y2 = mpi.run("umap", X, 2, nembed=exe, mpirun=launcher, timeout=300, workdir=str(tmp_path), **opts)
    np.save(tmp_path / "X.npy", X)
    subprocess.run([exe, "umap", str(tmp_path / "X.npy"), "-o", str(tmp_path / "Y1.npy"), "--quiet",
                    *mpi._option_args(opts)], check=True, timeout=300)
    Y1 = np.load(tmp_path / "Y1.npy")
    assert Y2.shape == (3000, 2)
    assert np.array_equal(Y1, Y2)


def test_run_ne_equals_single_process(tmp_path, open_mpi_env):
    # nembed ne --method largevis (the optimisation split by rows) under 2 ranks: one process's bytes.
    launcher, exe = _tools()
    X = _clusters()
    opts = dict(method="largevis", seed=2, max_iter=40)
    Y2 = mpi.run("ne", X, 2, nembed=exe, mpirun=launcher, timeout=300, workdir=str(tmp_path), **opts)
    np.save(tmp_path / "X.npy", X)
    subprocess.run([exe, "ne", str(tmp_path / "X.npy"), "-o", str(tmp_path / "Y1.npy"), "--quiet",
                    *mpi._option_args(opts)], check=True, timeout=300)
    Y1 = np.load(tmp_path / "Y1.npy")
    assert Y2.shape == (3000, 2)
    assert np.array_equal(Y1, Y2)


def test_run_reports_the_error_line(tmp_path, open_mpi_env):
    launcher, exe = _tools()
    with pytest.raises(RuntimeError, match="n_neighbors"):
        mpi.run("umap", _clusters(n=200), 2, nembed=exe, mpirun=launcher, timeout=120, workdir=str(tmp_path),
                n_neighbors=1)
    with pytest.raises(ValueError, match="2-D"):
        mpi.run("umap", np.zeros(10), 2, nembed=exe, mpirun=launcher)
    with pytest.raises(ValueError, match="NaN"):
        mpi.run("umap", np.full((5, 2), np.nan), 2, nembed=exe, mpirun=launcher)


def _big_neighbourhoods(tmp_path):
    # 20 000 points at perplexity 6 000 ask for 18 000 neighbours a point: gigabytes, refused under a 1.5 GB limit.
    X = np.random.default_rng(0).normal(size=(20000, 3))
    np.save(tmp_path / "X.npy", X)
    return ["tsne", str(tmp_path / "X.npy"), "--perplexity", "6000", "-o", str(tmp_path / "Y.npy"), "-j", "1",
            "--quiet"]


def test_out_of_memory_is_one_readable_line(tmp_path):
    resource = pytest.importorskip("resource")
    exe = os.environ.get("NEMBED_CLI") or shutil.which("nembed")
    if not exe or not os.path.isfile(exe):
        pytest.skip("the nembed CLI (NEMBED_CLI) not found")
    args = _big_neighbourhoods(tmp_path)
    limit = 1500 * 2**20

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    r = subprocess.run([exe, *args], capture_output=True, text=True, timeout=120, preexec_fn=cap)
    assert r.returncode == 1
    assert r.stderr.count("nembed: error:") == 1 and "out of memory" in r.stderr
    assert "std::bad_alloc" not in r.stderr
    assert not (tmp_path / "Y.npy").exists()


def test_a_rank_out_of_memory_ends_every_rank(tmp_path, open_mpi_env):
    # Rank 1 alone runs under a 1.5 GB address-space limit (Open MPI's rank variable; MPICH's PMI_RANK): its refused
    # allocation must end both ranks with its message, and no output, within the timeout (no hang).
    launcher, exe = _tools()
    args = _big_neighbourhoods(tmp_path)
    wrapper = tmp_path / "cap_rank1.sh"
    wrapper.write_text('#!/bin/sh\nif [ "${OMPI_COMM_WORLD_RANK:-$PMI_RANK}" = "1" ]; then ulimit -v 1536000; fi\n'
                       'exec "$@"\n')
    wrapper.chmod(0o755)
    r = subprocess.run([launcher, "-n", "2", str(wrapper), exe, *args], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    assert "rank 1 of 2: out of memory" in r.stderr
    assert not (tmp_path / "Y.npy").exists()
