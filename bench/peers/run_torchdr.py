"""One TorchDR 0.5 neighbour-embedding method at its defaults on the CPU, timed.

TorchDR's faiss backend is not installed here (pip's `faiss` package is a stub TorchDR cannot use), so the methods
whose default backend is "faiss" (InfoTSNE, LargeVis, UMAP, PACMAP) fail at their default. BACKEND picks what runs
instead: "none" (the default here) = TorchDR's dense torch backend, O(N^2) memory (an N x N float32 matrix is
19.6 GB at N = 70 000, so the harness gives the dense methods the 10 000-point subset), "keops" = KeOps' lazy
tensors (O(N) memory, compiled on first use), "default" = the method's own default (fails without faiss).
random_state is fixed (42) for reproducibility; every other parameter is TorchDR's default.
Usage: run_torchdr.py METHOD X.npy OUT.npy THREADS [BACKEND] [MAX_ITER]. Prints one JSON line with the seconds."""
import json
import sys
import time

import numpy as np
import torch
import torchdr

method, x_path, out_path, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
backend = sys.argv[5] if len(sys.argv) > 5 else "none"
max_iter = int(sys.argv[6]) if len(sys.argv) > 6 else 0  # 0 = the method's default (smoke runs lower it)
torch.set_num_threads(threads)
classes = {"sne": torchdr.SNE, "tsne": torchdr.TSNE, "infotsne": torchdr.InfoTSNE, "largevis": torchdr.LargeVis,
           "umap": torchdr.UMAP, "pacmap": torchdr.PACMAP, "tsnekhorn": torchdr.TSNEkhorn, "cosne": torchdr.COSNE}
kwargs = {"random_state": 42}
if backend != "default":
    kwargs["backend"] = None if backend == "none" else backend
if max_iter > 0:
    kwargs["max_iter"] = max_iter
X = np.load(x_path).astype(np.float32)
t0 = time.perf_counter()
emb = classes[method](**kwargs).fit_transform(X)
total = time.perf_counter() - t0
emb = emb.detach().cpu().numpy() if isinstance(emb, torch.Tensor) else np.asarray(emb)
np.save(out_path, emb.astype(np.float64))
print(json.dumps({"tool": "torchdr", "version": torchdr.__version__, "method": method, "backend": backend,
                  "n": int(X.shape[0]), "seconds": total, "threads": threads, **({"max_iter": max_iter} if max_iter else {})}))
