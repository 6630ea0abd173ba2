"""cne (contrastive-ne) at its defaults on a chosen kNN graph, to separate the graph from the optimisation when
comparing recall: GRAPH = "annoy" (cne's own graph, saved next to OUT as OUT.graph.npz for `nembed cne --graph`) or
the path of a k-NN index file from `nembed knn --method exact` (OUTPUT_indices.npy; symmetrised as cne does).
Usage: run_cne_graph.py X.npy GRAPH OUT.npy [LOSS_MODE=neg] [SEED=42]. 2 threads. Prints one JSON line."""
import json
import sys
import time

import numpy as np
import scipy.sparse as sp
import torch
import cne

X = np.load(sys.argv[1]).astype(np.float32)
torch.set_num_threads(2)
graph_arg, out = sys.argv[2], sys.argv[3]
loss = sys.argv[4] if len(sys.argv) > 4 else "neg"
seed = int(sys.argv[5]) if len(sys.argv) > 5 else 42
n, k = len(X), 15
graph = None
if graph_arg != "annoy":
    idx = np.load(graph_arg)[:, :k]
    A = sp.coo_matrix((np.ones(idx.size), (np.repeat(np.arange(n), k), idx.ravel())), shape=(n, n)).tocsr()
    graph = A.maximum(A.T).tocsr()
    graph.data[:] = 1
t0 = time.perf_counter()
model = cne.CNE(loss_mode=loss, seed=seed)
emb = model.fit_transform(X, graph=graph)
np.save(out, np.asarray(emb, dtype=np.float64))
if graph is None:
    sp.save_npz(out + ".graph.npz", model.neighbor_mat.tocsr())
print(json.dumps({"graph": graph_arg, "loss_mode": loss, "seed": seed, "seconds": time.perf_counter() - t0}))
