"""umap-learn at its defaults (n_neighbors 15, min_dist 0.1, spectral init, 200 epochs above 10 000 points).
numba's JIT is warmed up on a 2 000-point subset first and not timed. random_state is left unset so umap-learn runs
its parallel (Hogwild) layout with n_jobs threads, as users run it; NUMBA_NUM_THREADS is set to n_jobs.
Usage: run_umap.py X.npy OUT.npy N_JOBS. Prints one JSON line with the total seconds."""
import json
import os
import sys
import time

os.environ.setdefault("NUMBA_NUM_THREADS", sys.argv[3])
import numpy as np  # noqa: E402
import umap  # noqa: E402

X = np.load(sys.argv[1]).astype(np.float32)
n_jobs = int(sys.argv[3])
umap.UMAP(n_jobs=n_jobs, n_epochs=5).fit(X[:2000])  # JIT warm-up (not timed)
t0 = time.perf_counter()
emb = umap.UMAP(n_jobs=n_jobs).fit_transform(X)
total = time.perf_counter() - t0
np.save(sys.argv[2], emb.astype(np.float64))
print(json.dumps({"tool": "umap-learn", "version": umap.__version__, "seconds": total, "n_jobs": n_jobs}))
