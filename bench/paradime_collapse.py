"""paraDime 1.1's own ParametricUMAP at the settings of python/tests/test_paradime.py's
test_parametric_umap_close_to_umap (3 000 Fashion-MNIST PCA-50 points, n_neighbors 15, min_dist 0.1, hidden
[100, 100, 100]; spectral phase 5 epochs x batch 100 at lr 0.05 — the routine's defaults —; main phase 60 epochs x
10 batches x 500 edges, 5 negatives, lr 0.01), per seed: the loss and the embedding's spread after every epoch, then
kNN recall@10 and 10-NN accuracy (scikit-learn neighbours). docs/parametric.md, "Collapse".

    python bench/paradime_collapse.py SEED...   (bench venv: paradime, torch)

Environment: THREADS (torch threads, 1), INIT_EPOCHS / INIT_BATCH / INIT_LR (the spectral phase: 5, 100, 0.05; the
tutorial's: 10, 500, 0.01), INIT_ONLY=1 (stop after the spectral phase).
"""
import json
import os
import sys

import numpy as np
import sklearn.manifold
import torch
from paradime import dr as pddr, loss as pdloss, relations as pdrel, transforms as pdtf

here = os.path.dirname(os.path.abspath(__file__))
X = np.load(os.path.join(here, "..", "tests", "data", "fmnist_4000_pca50.npy"))[:3000].astype(np.float32)
y = np.load(os.path.join(here, "..", "tests", "data", "fmnist_4000_labels.npy"))[:3000]
torch.set_num_threads(int(os.environ.get("THREADS", "1")))
data = torch.tensor(X)
INIT_LR = float(os.environ.get("INIT_LR", "0.05"))
INIT_EPOCHS = int(os.environ.get("INIT_EPOCHS", "5"))
INIT_BATCH = int(os.environ.get("INIT_BATCH", "100"))
INIT_ONLY = os.environ.get("INIT_ONLY") == "1"


def spread(model):
    with torch.no_grad():
        E = model(data).numpy().astype(np.float64)
    c = E - E.mean(0)
    return E, c.std(0), float(np.median(np.linalg.norm(c, axis=1)))


def scores(E, k=10):
    """kNN recall@10 (exact neighbours in X among those in E) and leave-one-out 10-NN accuracy (majority vote)."""
    from sklearn.neighbors import NearestNeighbors
    hi = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X, return_distance=False)[:, 1:]
    lo = NearestNeighbors(n_neighbors=k + 1).fit(E).kneighbors(E, return_distance=False)[:, 1:]
    rec = np.mean([len(set(a) & set(b)) / k for a, b in zip(hi, lo)])
    acc = np.mean([np.bincount(y[n], minlength=10).argmax() == y[i] for i, n in enumerate(lo)])
    return float(rec), float(acc)


for seed in map(int, sys.argv[1:]):
    torch.manual_seed(seed)
    np.random.seed(seed)
    global_rel = pdrel.NeighborBasedPDist(transform=[pdtf.ConnectivityBasedRescale(n_neighbors=15),
                                                     pdtf.Symmetrize(subtract_product=True)])
    batch_rel = pdrel.DistsFromTo(transform=[pdtf.ModifiedCauchyTransform(min_dist=0.1, spread=1)])
    losses = {"spectral": pdloss.PositionLoss(position_key="spectral"),
              "embedding": pdloss.RelationLoss(loss_function=pdloss.cross_entropy_loss)}
    d = pddr.ParametricDR(in_dim=X.shape[1], hidden_dims=[100, 100, 100], global_relations=global_rel,
                          batch_relations=batch_rel, losses=losses)
    d.add_data({"main": data})
    d.compute_global_relations()
    aff = d.global_relation_data["rel"].to_square_array().data
    spec = sklearn.manifold.SpectralEmbedding(affinity="precomputed", random_state=seed).fit_transform(aff)
    spec = (spec - spec.mean(axis=0)) / spec.std(axis=0, ddof=1)
    d.add_data({"spectral": torch.tensor(spec, dtype=torch.float)})
    phases = [pddr.TrainingPhase(name="spectral_init", epochs=INIT_EPOCHS, batch_size=INIT_BATCH, loss_keys=["spectral"],
                                 learning_rate=INIT_LR),
              pddr.TrainingPhase(name="embedding", epochs=60, batches_per_epoch=10, batch_size=500,
                                 sampling="negative_edge", neg_sampling_rate=5, loss_keys=["embedding"],
                                 learning_rate=0.01)]
    for ph in phases:
        d.add_training_phase(ph)
    trace = []
    for ph in phases:
        orig = ph.loss.checkpoint

        def checkpoint(orig=orig, ph=ph):
            orig()
            _, sd, med = spread(d.model)
            trace.append((ph.name, len(ph.loss.history), float(ph.loss.history[-1]), sd.tolist(), med))
            print(f"seed {seed} {ph.name:14s} epoch {len(ph.loss.history):3d} loss {ph.loss.history[-1]:12.6g} "
                  f"std {sd[0]:10.4g} {sd[1]:10.4g} med_r {med:10.4g}", flush=True)
        ph.loss.checkpoint = checkpoint
    d.model.train()
    for ph in phases[:1] if INIT_ONLY else phases:
        d.run_training_phase(ph)
    if INIT_ONLY:
        print(json.dumps({"seed": seed, "init_loss": trace[-1][2], "init_std": trace[-1][3]}), flush=True)
        continue
    d.model.eval()
    E, _, _ = spread(d.model)
    rec, acc = scores(E)
    print(json.dumps({"seed": seed, "recall": round(rec, 4), "accuracy": round(acc, 4),
                      "init_loss": [t[2] for t in trace[:INIT_EPOCHS]],
                      "init_std": trace[INIT_EPOCHS - 1][3]}), flush=True)
