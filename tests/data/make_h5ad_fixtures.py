"""Writes the AnnData fixtures of tests/io/test_io_h5ad.cpp (needs anndata, pandas and h5py):

h5ad_tiny.h5ad  anndata's own writer: X a 6 x 3 CSR matrix, obsm/X_pca dense float64, layers/dense (float64) and
                layers/csc (CSC), obs columns: categorical cell_type (categories c, a, b and an unused one),
                integer batch, string name, bool flag, float score (not integer-valued), categorical with_na (a
                missing value) and a nullable integer column.
h5ad_old.h5ad   the layout of anndata < 0.8, written with h5py: X an h5sparse_format csr group, obs/louvain codes
                with obs/__categories/louvain.

Both are repacked into HDF5 1.8's compact object format (readable by Debian's HDF5 1.10) so that they stay small."""
import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

X = np.array([[0, 1, 0], [2, 0, 3], [0, 0, 4], [5, 6, 0], [0, 7, 0], [8, 0, 9]], dtype=np.float32)
obs = pd.DataFrame(
    {
        "cell_type": pd.Categorical(["a", "b", "a", "c", "b", "a"], categories=["c", "a", "b", "unused"]),
        "batch": np.array([1, 2, 1, 2, 3, 3], dtype=np.int64),
        "name": ["x", "y", "x", "z", "y", "x"],
        "flag": np.array([True, False, True, False, True, False]),
        "score": np.array([1.0, 2.5, 3.0, 4.0, 5.0, 6.0]),
        "with_na": pd.Categorical(["a", None, "a", "b", "b", "a"]),
        "nullable": pd.array([1, 2, None, 4, 5, 6], dtype="Int64"),
    },
    index=[f"cell{i}" for i in range(6)],
)
a = ad.AnnData(X=sp.csr_matrix(X), obs=obs)
a.obsm["X_pca"] = X[:, :2].astype(np.float64) * 0.5
a.layers["dense"] = X.astype(np.float64) + 0.25
a.layers["csc"] = sp.csc_matrix(X * 2)
a.write_h5ad("/tmp/h5ad_tiny_full.h5ad")


def compact(src, dst):
    """Copies every group, dataset and attribute into a file of HDF5 1.8's format, datasets unchunked."""
    def copy(gi, go):
        for k, v in gi.attrs.items():
            go.attrs[k] = v
        for k, obj in gi.items():
            if isinstance(obj, h5py.Group):
                copy(obj, go.create_group(k))
            else:
                d = go.create_dataset(k, data=obj[()], dtype=obj.dtype)
                for a, v in obj.attrs.items():
                    d.attrs[a] = v

    with h5py.File(src, "r") as fi, h5py.File(dst, "w", libver=("v108", "v110")) as fo:
        copy(fi, fo)


compact("/tmp/h5ad_tiny_full.h5ad", "h5ad_tiny.h5ad")

with h5py.File("/tmp/h5ad_old_full.h5ad", "w") as f:
    csr = sp.csr_matrix(X)
    g = f.create_group("X")
    g.attrs["h5sparse_format"] = "csr"
    g.attrs["h5sparse_shape"] = np.array(X.shape)
    g["data"], g["indices"], g["indptr"] = csr.data, csr.indices, csr.indptr
    f["obs/louvain"] = np.array([1, 0, 1, 0, 0, 1], dtype=np.int8)
    f["obs/__categories/louvain"] = np.array([b"first", b"second"])
compact("/tmp/h5ad_old_full.h5ad", "h5ad_old.h5ad")
