"""Regenerates tests/data/fmnist_4000_pca50.npy and fmnist_4000_labels.npy (committed; re-run only to change them).

The first 4000 Fashion-MNIST training images (Debian package dataset-fashion-mnist), scaled to [0, 1], centred,
projected on their top 50 principal components (float32), with their labels (uint8).
"""
import gzip
from pathlib import Path

import numpy as np

SRC = Path("/usr/share/datasets/fashion-mnist")
N = 4000


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


x = read_idx(SRC / "train-images-idx3-ubyte.gz")[:N].reshape(N, -1).astype(np.float64) / 255.0
y = read_idx(SRC / "train-labels-idx1-ubyte.gz")[:N]
x -= x.mean(axis=0)
_, _, vt = np.linalg.svd(x, full_matrices=False)
pcs = (x @ vt[:50].T).astype(np.float32)
out = Path(__file__).parent
np.save(out / "fmnist_4000_pca50.npy", pcs)
np.save(out / "fmnist_4000_labels.npy", y.astype(np.uint8))
