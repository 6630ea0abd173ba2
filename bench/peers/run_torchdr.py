"""One TorchDR 0.5 neighbour-embedding method at its defaults on the CPU, timed.

BACKEND: "default" = the method's own default (faiss for InfoTSNE, LargeVis, UMAP, PACMAP: needs PyPI's faiss-cpu,
which bench/setup installs; None = TorchDR's dense torch code for the others), "none" = TorchDR's dense backend for
every method (O(N^2) memory: an N x N float32 matrix is 19.6 GB at N = 70 000), "keops" = KeOps' lazy tensors.
random_state is fixed (42) for reproducibility; every other parameter is TorchDR's default.

EXTRAP "a,b" (optional) times two short runs, max_iter = a and b with min_grad_norm = 0 (so that neither stops
early), and extrapolates linearly to the method's default max_iter: seconds = fixed + per_iter x max_iter, with
per_iter = (t_b - t_a)/(b - a) and fixed = t_a - a x per_iter (the affinity, the initialisation and the set-up).
For the dense methods, whose full runs take about an hour at 10 000 points on 2 threads, this is how the table gets
TorchDR's time; the saved embedding is then the max_iter = b one (not for the quality columns).
Usage: run_torchdr.py METHOD X.npy OUT.npy THREADS [BACKEND] [MAX_ITER] [EXTRAP]. Prints one JSON line."""
import json
import sys
import time

import numpy as np
import torch
import torchdr

method, x_path, out_path, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
backend = sys.argv[5] if len(sys.argv) > 5 else "none"
max_iter = int(sys.argv[6]) if len(sys.argv) > 6 else 0  # 0 = the method's default (smoke runs lower it)
extrap = [int(v) for v in sys.argv[7].split(",")] if len(sys.argv) > 7 and sys.argv[7] else []
torch.set_num_threads(threads)
classes = {"sne": torchdr.SNE, "tsne": torchdr.TSNE, "infotsne": torchdr.InfoTSNE, "largevis": torchdr.LargeVis,
           "umap": torchdr.UMAP, "pacmap": torchdr.PACMAP, "tsnekhorn": torchdr.TSNEkhorn, "cosne": torchdr.COSNE}
kwargs = {"random_state": 42}
if backend != "default":
    kwargs["backend"] = None if backend == "none" else backend
if max_iter > 0:
    kwargs["max_iter"] = max_iter
X = np.load(x_path).astype(np.float32)
extra = {}
if extrap:
    import inspect
    default_iter = inspect.signature(classes[method]).parameters["max_iter"].default
    times = {}
    for it in extrap:
        t0 = time.perf_counter()
        emb = classes[method](**{**kwargs, "max_iter": it, "min_grad_norm": 0.0}).fit_transform(X)
        times[it] = time.perf_counter() - t0
    a, b = extrap[0], extrap[-1]
    per_iter = (times[b] - times[a]) / (b - a)
    fixed = times[a] - a * per_iter
    total = fixed + per_iter * default_iter
    extra = {"extrapolated": {"times": times, "per_iter": per_iter, "fixed": fixed, "max_iter": default_iter}}
else:
    t0 = time.perf_counter()
    emb = classes[method](**kwargs).fit_transform(X)
    total = time.perf_counter() - t0
emb = emb.detach().cpu().numpy() if isinstance(emb, torch.Tensor) else np.asarray(emb)
np.save(out_path, emb.astype(np.float64))
print(json.dumps({"tool": "torchdr", "version": torchdr.__version__, "method": method, "backend": backend,
                  "n": int(X.shape[0]), "seconds": total, "threads": threads, **({"max_iter": max_iter} if max_iter else {}), **extra}))
