"""Writes the shared benchmark input: all 70 000 Fashion-MNIST images (train + test), scaled to [0, 1], PCA to 50
(numpy SVD, float32), and the labels. Every peer and nembed start from this same matrix."""
import gzip
import sys
from pathlib import Path

import numpy as np

SRC = Path("/usr/share/datasets/fashion-mnist")
out = Path(sys.argv[1] if len(sys.argv) > 1 else "out")
out.mkdir(parents=True, exist_ok=True)


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


x = np.concatenate([read_idx(SRC / "train-images-idx3-ubyte.gz"), read_idx(SRC / "t10k-images-idx3-ubyte.gz")])
y = np.concatenate([read_idx(SRC / "train-labels-idx1-ubyte.gz"), read_idx(SRC / "t10k-labels-idx1-ubyte.gz")])
x = x.reshape(len(x), -1).astype(np.float32) / 255.0
x -= x.mean(axis=0)
# Covariance eigen-decomposition (784 x 784) in float64: exact and fast.
cov = (x.astype(np.float64).T @ x.astype(np.float64)) / (len(x) - 1)
w, v = np.linalg.eigh(cov)
v = v[:, ::-1][:, :50]
np.save(out / "fmnist_pca50.npy", (x @ v.astype(np.float32)).astype(np.float32))
np.save(out / "fmnist_labels.npy", y.astype(np.int64))
print(f"wrote {out}/fmnist_pca50.npy and fmnist_labels.npy")
