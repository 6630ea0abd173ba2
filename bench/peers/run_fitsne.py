"""FIt-SNE 1.2.1 (fitsne, FFTW) at its defaults (perplexity 30, 750 iterations, FFT, Annoy), nthreads threads.
Usage: run_fitsne.py X.npy OUT.npy N_JOBS. Prints one JSON line. Per-50-iteration times are in its stdout log."""
import json
import sys
import time

import numpy as np
import fitsne

X = np.load(sys.argv[1]).astype(np.float64)
t0 = time.perf_counter()
Y = fitsne.FItSNE(np.ascontiguousarray(X), nthreads=int(sys.argv[3]), rand_seed=42)
total = time.perf_counter() - t0
np.save(sys.argv[2], Y)
print(json.dumps({"tool": "FIt-SNE", "seconds": total}))
