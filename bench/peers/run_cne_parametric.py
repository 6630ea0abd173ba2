"""cne (contrastive-ne) in its parametric mode on CPU PyTorch: CNE(parametric=True, loss_mode=LOSS) at cne's
defaults otherwise (FCNetwork in -> 100 -> 100 -> 100 -> 2 with ReLU, k 15 Annoy kNN, batch 2^15, 5 negatives, SGD
lr 0.001 annealed linearly), for N_EPOCHS epochs; then the trained network applied to all points (cne's
transform). Usage: run_cne_parametric.py X.npy OUT.npy N_THREADS LOSS N_EPOCHS [SEED (0)]. Prints one JSON line:
fit seconds (kNN graph included, PyTorch import excluded) and transform seconds."""
import json
import sys
import time

import numpy as np
import torch
import cne

X = np.load(sys.argv[1]).astype(np.float32)
torch.set_num_threads(int(sys.argv[3]))
loss_mode, n_epochs = sys.argv[4], int(sys.argv[5])
seed = int(sys.argv[6]) if len(sys.argv) > 6 else 0
t0 = time.perf_counter()
model = cne.CNE(parametric=True, loss_mode=loss_mode, n_epochs=n_epochs, seed=seed)
# cne 0.4's fit calls len(init) for the number of points even when parametric (init is otherwise unused there):
# pass the data so that it runs.
model.fit(X, init=X)
fit = time.perf_counter() - t0
t1 = time.perf_counter()
emb = model.transform(X)
transform = time.perf_counter() - t1
np.save(sys.argv[2], np.asarray(emb, dtype=np.float64))
print(json.dumps({"tool": "cne", "parametric": True, "loss_mode": loss_mode, "n_epochs": n_epochs, "seed": seed,
                  "fit_seconds": fit, "transform_seconds": transform, "threads": int(sys.argv[3])}))
