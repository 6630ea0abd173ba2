"""openTSNE 1.0.4 at its defaults (perplexity 30, 250 + 500 iterations, FFT, Annoy), n_jobs threads.
Usage: run_opentsne.py X.npy OUT.npy N_JOBS. Prints one JSON line: total seconds and, with PER50=1, seconds per 50
iterations. PER50=1 adds a callback every 50 iterations, which makes openTSNE evaluate its KL there (not its
default; nembed --quiet does not evaluate it either), so the timed default runs without it."""
import os
import json
import sys
import time

import numpy as np
from openTSNE import TSNE

X = np.load(sys.argv[1])
n_jobs = int(sys.argv[3])
stamps = []


class Clock:
    def __call__(self, iteration, error, embedding):
        stamps.append((time.perf_counter(), float(error)))


t0 = time.perf_counter()
per50_on = os.environ.get("PER50", "0") == "1"
kw = dict(callbacks=Clock(), callbacks_every_iters=50) if per50_on else {}
emb = TSNE(n_jobs=n_jobs, random_state=42, **kw).fit(X)
total = time.perf_counter() - t0
np.save(sys.argv[2], np.asarray(emb))
per50 = [round(b[0] - a[0], 3) for a, b in zip(stamps, stamps[1:])]
print(json.dumps({"tool": "openTSNE", "seconds": total, "kl": float(emb.kl_divergence), "per50": per50}))
