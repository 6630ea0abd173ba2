"""One timed run of paraDime's parametric UMAP tutorial (seed 004: 5000 images, hidden [100, 100, 100], spectral
init phase 10 epochs x batch 500 at lr 0.01, main phase 60 epochs x 10 batches of 500 edges, 3 negatives, lr 0.01,
min_dist 0.1, n_neighbors 30) or ParametricTSNE at paraDime's defaults, by nembed.paradime or paraDime 1.1 (CPU).

    python bench/paradime_run.py {nembed,paradime} {umap,tsne} X.npy OUT.npy THREADS

Environment: PRECISION (nembed only): the network's precision, float32 (default) or bf16 (`network_precision=`).

Prints one JSON line: tool, method, seconds (wall) and cpu_seconds (all threads) of the relations, derived data and
training (not imports or numba compilation), n. The model is applied to
all points afterwards (not timed) and the embedding saved for `nembed evaluate`.
"""
import json
import sys
import time

import numpy as np

tool, method, xpath, out, threads = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
X = np.load(xpath).astype(np.float32)

if tool == "paradime":
    import torch
    torch.set_num_threads(threads)
    import sklearn.manifold
    from paradime import dr as pddr, loss as pdloss, relations as pdrel, routines, transforms as pdtf
    torch.manual_seed(0)
    data = torch.tensor(X)
    # Warm numba (PyNNDescent, paraDime's entropy root search) on a small subset: compile time is not counted.
    warm = [pdtf.ConnectivityBasedRescale(n_neighbors=30)] if method == "umap" else [pdtf.PerplexityBasedRescale(30)]
    pdrel.NeighborBasedPDist(transform=warm).compute_relations(data[:300])
else:
    import os
    from nembed.paradime import dr as pddr, loss as pdloss, relations as pdrel, routines, transforms as pdtf
    data = X
    precision = {"network_precision": os.environ.get("PRECISION", "float32")}

t0 = time.perf_counter()
c0 = time.process_time()
if method == "umap":
    global_rel = pdrel.NeighborBasedPDist(transform=[pdtf.ConnectivityBasedRescale(n_neighbors=30),
                                                     pdtf.Symmetrize(subtract_product=True)])
    batch_rel = pdrel.DistsFromTo(transform=[pdtf.ModifiedCauchyTransform(min_dist=0.1, spread=1)])
    losses = {"spectral": pdloss.PositionLoss(position_key="spectral"),
              "embedding": pdloss.RelationLoss(loss_function=pdloss.cross_entropy_loss)}
    if tool == "paradime":
        dr = pddr.ParametricDR(in_dim=X.shape[1], hidden_dims=[100, 100, 100], global_relations=global_rel,
                               batch_relations=batch_rel, losses=losses)
        dr.add_data({"main": data})
        dr.compute_global_relations()
        aff = dr.global_relation_data["rel"].to_square_array().data
        spectral = sklearn.manifold.SpectralEmbedding(affinity="precomputed").fit_transform(aff)
        spectral = (spectral - spectral.mean(axis=0)) / spectral.std(axis=0)
        dr.add_data({"spectral": torch.tensor(spectral, dtype=torch.float)})
    else:  # the same spectral embedding as derived data: sparse, standardised
        dr = pddr.ParametricDR(in_dim=X.shape[1], hidden_dims=[100, 100, 100], global_relations=global_rel,
                               batch_relations=batch_rel, losses=losses,
                               derived_data={"spectral": pddr.DerivedData("spectral")}, n_jobs=threads,
                               **precision)
        dr.add_data({"main": data})
    dr.add_training_phase(pddr.TrainingPhase(name="spectral_init", epochs=10, batch_size=500,
                                             loss_keys=["spectral"], learning_rate=0.01, report_interval=2))
    dr.add_training_phase(pddr.TrainingPhase(name="main_embedding", epochs=60, batches_per_epoch=10, batch_size=500,
                                             sampling="negative_edge", neg_sampling_rate=3, loss_keys=["embedding"],
                                             learning_rate=0.01, report_interval=5))
    dr.train()
else:
    kw = {} if tool == "paradime" else {"n_jobs": threads, **precision}
    dr = routines.ParametricTSNE(in_dim=X.shape[1], **kw)
    dr.train({"main": data})
seconds = time.perf_counter() - t0
cpu = time.process_time() - c0

if tool == "paradime":
    E = dr.apply(data).detach().numpy()
else:
    E = dr.apply(X)
np.save(out, np.asarray(E, dtype=np.float64))
print(json.dumps({"tool": tool, "method": method, "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
                  "n": len(X)}))
