"""umap-learn at its defaults (n_neighbors 15, min_dist 0.1, spectral init, 200 epochs above 10 000 points).
random_state is left unset so umap-learn runs its parallel (Hogwild) layout with n_jobs threads, as users run it;
NUMBA_NUM_THREADS is set to n_jobs.
Usage: run_umap.py X.npy OUT.npy N_JOBS [MODE]. MODE "warm" (the default): the same fit is run twice in this
process; the first ("cold_seconds": numba compiles umap-learn's and, above 4 096 points, pynndescent's kernels) is
not saved, the second ("seconds") is timed and saved. MODE "subset": the older protocol, a JIT warm-up on a
2 000-point subset (which leaves pynndescent uncompiled), then the timed fit. Prints one JSON line."""
import json
import os
import resource
import sys
import time

os.environ.setdefault("NUMBA_NUM_THREADS", sys.argv[3])
import numpy as np  # noqa: E402
import umap  # noqa: E402

X = np.load(sys.argv[1]).astype(np.float32)


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


n_jobs = int(sys.argv[3])
mode = sys.argv[4] if len(sys.argv) > 4 else "warm"
out = {"tool": "umap-learn", "version": umap.__version__, "n_jobs": n_jobs, "mode": mode}
if mode == "warm":
    t0 = time.perf_counter()
    umap.UMAP(n_jobs=n_jobs).fit_transform(X)
    out["cold_seconds"] = time.perf_counter() - t0
else:
    umap.UMAP(n_jobs=n_jobs, n_epochs=5).fit(X[:2000])  # JIT warm-up (not timed)
t0, c0 = time.perf_counter(), cpu()
emb = umap.UMAP(n_jobs=n_jobs).fit_transform(X)
out["seconds"] = time.perf_counter() - t0
out["cpu_seconds"] = cpu() - c0  # all threads of the process: a figure that a loaded machine inflates far less
np.save(sys.argv[2], emb.astype(np.float64))
print(json.dumps(out))
