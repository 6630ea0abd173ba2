"""cne (contrastive-ne) on CPU PyTorch at CNE's defaults (k 15, Annoy kNN, batch 2^15, 5 negatives, 200 epochs,
SGD lr 1 annealed linearly), with loss_mode and s from the command line (S = none: s not given, cne's default spectrum position).
Usage: run_cne.py X.npy OUT.npy N_THREADS LOSS_MODE S [SEED (42)]. Prints one JSON line with the total seconds (kNN
graph included, PyTorch import excluded)."""
import json
import sys
import time

import numpy as np
import torch
import cne

X = np.load(sys.argv[1]).astype(np.float32)
torch.set_num_threads(int(sys.argv[3]))
loss_mode = sys.argv[4]
s = None if sys.argv[5] == "none" else float(sys.argv[5])
t0 = time.perf_counter()
kwargs = {} if s is None else {"s": s}
seed = int(sys.argv[6]) if len(sys.argv) > 6 else 42
emb = cne.CNE(loss_mode=loss_mode, seed=seed, **kwargs).fit_transform(X)
total = time.perf_counter() - t0
np.save(sys.argv[2], np.asarray(emb, dtype=np.float64))
print(json.dumps({"tool": "cne", "loss_mode": loss_mode, "s": s, "seed": seed, "seconds": total,
                  "threads": int(sys.argv[3])}))
