# cne's own held-out gap on the split of ParametricCne.HeldOutPointsLikeTrainingPoints (first 12 000 Fashion-MNIST
# training images, PCA-50, fit on 10 000, the last 2 000 embedded by transform); NEG, batch 1024, 20 epochs, Adam.
# Run with the bench environment: $VENV/bin/python bench/cne_heldout_gap.py SEED (about 15 min or more on
# a loaded 2-core machine: cne's CPU epochs of the parametric model take ~45 s there).
# Env N_TRAIN (10000), N_TEST (2000), EPOCHS (20) change the split and the budget. With SCORE=Ytr.npy,Yte.npy (an
# embedding of the same PCA-50 rows, e.g. nembed's fit and transform of XTR_OUT / XTE_OUT) cne is not run and that
# embedding is scored the same way. NONPARAM=1: cne's non-parametric mode (its SGD), same batch and epochs, training points only
# (scored among themselves; the held-out columns are then nan). XTR_OUT / XTE_OUT (optional): where to save the PCA-50 rows for nembed.
import gzip, os, sys, time
import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors
import cne

torch.set_num_threads(2)
d = "/usr/share/datasets/fashion-mnist/"
with gzip.open(d + "train-images-idx3-ubyte.gz") as f:
    X = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784).astype(np.float32)
with gzip.open(d + "train-labels-idx1-ubyte.gz") as f:
    y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
NTR, NTE = int(os.environ.get("N_TRAIN", 10000)), int(os.environ.get("N_TEST", 2000))
X, y = X[:NTR + NTE], y[:NTR + NTE]
X = PCA(50, random_state=0).fit_transform(X).astype(np.float32)
Xtr, Xte = X[:NTR], X[NTR:]
if os.environ.get("XTR_OUT"):
    np.save(os.environ["XTR_OUT"], Xtr)
    np.save(os.environ["XTE_OUT"], Xte)
seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(seed)
fit_s = 0.0
if os.environ.get("SCORE"):
    a, b = os.environ["SCORE"].split(",")
    Ytr, Yte = np.load(a), np.load(b)
elif os.environ.get("NONPARAM"):  # cne's non-parametric mode (its SGD, rate 1), same batch and epochs
    emb = cne.CNE(parametric=False, loss_mode="neg", n_epochs=int(os.environ.get("EPOCHS", 20)), batch_size=1024,
                  seed=seed)
    t = time.time()
    Ytr = emb.fit_transform(Xtr)
    fit_s = time.time() - t
    Yte = np.full((len(Xte), 2), np.nan, np.float32)
else:
    emb = cne.CNE(parametric=True, loss_mode="neg", n_epochs=int(os.environ.get("EPOCHS", 20)), batch_size=1024,
                  optimizer="adam", seed=seed)
    t = time.time()
    Ytr = emb.fit_transform(Xtr, init=np.zeros((len(Xtr), 2), np.float32))  # cne 0.4 parametric: len(init) of None
    fit_s = time.time() - t
    Yte = emb.transform(Xte)
if os.environ.get("NONPARAM"):  # scored on the training points among themselves
    X, y, Y, NTE = X[:NTR], y[:NTR], Ytr, 0
else:
    Y = np.vstack([Ytr, Yte])
k = 10
hi = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X, return_distance=False)[:, 1:]
lo = NearestNeighbors(n_neighbors=k + 1).fit(Y).kneighbors(Y, return_distance=False)[:, 1:]
rec = np.array([len(set(a) & set(b)) / k for a, b in zip(hi, lo)])
votes = np.array([np.bincount(y[row], minlength=10).argmax() for row in lo])
acc = (votes == y).astype(float)
who = "scored " + os.environ["SCORE"] if os.environ.get("SCORE") else f"cne{' non-parametric' if os.environ.get('NONPARAM') else ''} seed {seed}"
if NTE == 0:
    print(f"{who}: fit {fit_s:.1f} s; training recall {rec.mean():.4f} acc {acc.mean():.4f}")
    sys.exit(0)
print(f"{who}: fit {fit_s:.1f} s; held-out recall {rec[NTR:].mean():.4f} acc {acc[NTR:].mean():.4f}; "
      f"training recall {rec[:NTR].mean():.4f} acc {acc[:NTR].mean():.4f}; gaps {rec[NTR:].mean() - rec[:NTR].mean():+.4f} "
      f"{acc[NTR:].mean() - acc[:NTR].mean():+.4f}")
