"""One timed run of paraDime's parametric UMAP tutorial (seed 004: 5000 images, hidden [100, 100, 100], spectral
init phase 10 epochs x batch 500 at lr 0.01, main phase 60 epochs x 10 batches of 500 edges, 3 negatives, lr 0.01,
min_dist 0.1, n_neighbors 30) or ParametricTSNE at paraDime's defaults, by nembed.paradime or paraDime 1.1 (CPU).

    python bench/paradime_run.py {nembed,paradime} {umap,tsne} X.npy OUT.npy THREADS

Prints one JSON line: tool, method, seconds (relations, init, training; not imports), n. The model is applied to
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
else:
    from nembed.paradime import dr as pddr, loss as pdloss, relations as pdrel, routines, transforms as pdtf
    data = X

t0 = time.perf_counter()
if method == "umap":
    global_rel = pdrel.NeighborBasedPDist(transform=[pdtf.ConnectivityBasedRescale(n_neighbors=30),
                                                     pdtf.Symmetrize(subtract_product=True)])
    batch_rel = pdrel.DistsFromTo(transform=[pdtf.ModifiedCauchyTransform(min_dist=0.1, spread=1)])
    if tool == "paradime":
        dr = pddr.ParametricDR(dataset=data, hidden_dims=[100, 100, 100], global_relations=global_rel,
                               batch_relations=batch_rel)
        dr.compute_global_relations()
        aff = dr.global_relation_data["rel"].to_square_array().data
        spectral = sklearn.manifold.SpectralEmbedding(affinity="precomputed").fit_transform(aff)
        spectral = (spectral - spectral.mean(axis=0)) / spectral.std(axis=0)
        dr.add_to_dataset({"spectral": spectral})
    else:  # the same spectral embedding as derived data: sparse, standardised
        dr = pddr.ParametricDR(dataset=data, hidden_dims=[100, 100, 100], global_relations=global_rel,
                               batch_relations=batch_rel, derived_data={"spectral": pddr.DerivedData("spectral")},
                               n_jobs=threads)
    dr.add_training_phase(pddr.TrainingPhase(name="spectral_init", epochs=10, batch_size=500,
                                             loss=pdloss.PositionLoss(position_key="spectral"), learning_rate=0.01,
                                             report_interval=2))
    dr.add_training_phase(pddr.TrainingPhase(name="main_embedding", epochs=60, batches_per_epoch=10, batch_size=500,
                                             sampling="negative_edge", neg_sampling_rate=3,
                                             loss=pdloss.RelationLoss(loss_function=pdloss.cross_entropy_loss),
                                             learning_rate=0.01, report_interval=5))
    dr.train()
else:
    kw = {} if tool == "paradime" else {"n_jobs": threads}
    dr = routines.ParametricTSNE(dataset=data, **kw)
    dr.train()
seconds = time.perf_counter() - t0

if tool == "paradime":
    E = dr.apply(data).detach().numpy()
else:
    E = dr.apply(X)
np.save(out, np.asarray(E, dtype=np.float64))
print(json.dumps({"tool": tool, "method": method, "seconds": round(seconds, 3), "n": len(X)}))
