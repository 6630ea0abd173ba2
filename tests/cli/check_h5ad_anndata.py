"""nembed's CLI against files written and read by anndata: t-SNE of X into obsm/X_tsne in place, UMAP of obsm/X_pca
into a new file, labels from a categorical obs column, an all-or-nothing failure. Exits 77 (ctest: skipped) when
anndata is not installed. Usage: check_h5ad_anndata.py NEMBED_EXE WORK_DIR"""
import os
import subprocess
import sys

try:
    import anndata as ad
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp
except ImportError as e:
    print(f"skipped: {e}")
    sys.exit(77)

exe, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
rng = np.random.default_rng(0)
n = 240
centers = np.repeat(np.eye(3, 30) * 8, n // 3, axis=0)
X = (rng.normal(size=(n, 30)) + centers).astype(np.float32)
kinds = np.repeat(["B cell", "T cell", "NK"], n // 3)
a = ad.AnnData(X=sp.csr_matrix(np.where(X > 0.5, X, 0)), obs=pd.DataFrame({"kind": pd.Categorical(kinds)},
                                                                            index=[f"c{i}" for i in range(n)]))
a.obsm["X_pca"] = X[:, :10].astype(np.float64)
a.uns["note"] = "kept"
path = os.path.join(work, "cells.h5ad")
a.write_h5ad(path)


def run(*args, ok=True):
    r = subprocess.run([exe, *args, "-q", "-j", "2"], capture_output=True, text=True)
    assert (r.returncode == 0) == ok, (args, r.returncode, r.stderr)
    return r


# t-SNE of the sparse X (made dense) written into the input file itself; a metrics file computed against the labels.
metrics = os.path.join(work, "m.json")
run("tsne", path, "-o", path + ":obsm/X_tsne", "-l", path + ":obs/kind", "--metrics", metrics)
b = ad.read_h5ad(path)
assert b.obsm["X_tsne"].shape == (n, 2) and np.isfinite(b.obsm["X_tsne"]).all()
assert np.array_equal(b.obsm["X_pca"], a.obsm["X_pca"]) and b.uns["note"] == "kept"
assert list(b.obs["kind"]) == list(kinds) and (b.X != a.X).nnz == 0
# The same run to .npy gives the same embedding (the .h5ad path changes only where it is written).
npy = os.path.join(work, "t.npy")
run("tsne", path, "-o", npy)
assert np.array_equal(np.load(npy), b.obsm["X_tsne"])
# Three well separated classes: a 5-NN classifier in the embedding is near perfect.
from sklearn.neighbors import KNeighborsClassifier

Y = b.obsm["X_tsne"]
acc = KNeighborsClassifier(5).fit(Y, kinds).score(Y, kinds)
assert acc > 0.95, acc

# UMAP of obsm/X_pca into a new file: a minimal AnnData with the observations and the embedding.
new = os.path.join(work, "new.h5ad")
if os.path.exists(new):
    os.remove(new)
run("umap", path + ":obsm/X_pca", "-o", new + ":obsm/X_umap", "--n-epochs", "50")
c = ad.read_h5ad(new)
assert c.n_obs == n and c.obsm["X_umap"].shape == (n, 2)

# All or nothing: a failing run leaves the file as it was (byte for byte), and no temporary behind.
before = open(path, "rb").read()
run("tsne", path, "-o", path + ":obsm/X_tsne", "--init", os.path.join(work, "missing.npy"), ok=False)
assert open(path, "rb").read() == before
assert not [f for f in os.listdir(work) if f.startswith(".nembed-")]
# A wrong row count is refused before the work.
r = run("tsne", path + ":obsm/X_pca", "-o", new + ":obsm/X_tsne", "-l", path + ":obs/kind", ok=True)
small = os.path.join(work, "small.h5ad")
a[:10].copy().write_h5ad(small)
r = run("tsne", path, "-o", small + ":obsm/X_tsne", ok=False)
assert "10 observations" in r.stderr and "240 points" in r.stderr, r.stderr
print("ok")
