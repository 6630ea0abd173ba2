"""Shared fixtures: a Fashion-MNIST subset (tests/data) and a small fitted embedding.

The tests import the *installed* package (scripts/test.sh runs `pip install .` first).
"""
import os

# The thread-count tests compare n_jobs = 1 with 2 or more workers; keep them meaningful on 1- and 2-core machines.
os.environ.setdefault("NEMBED_OVERSUBSCRIBE", "1")

import numpy as np
import pytest

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data")


@pytest.fixture(scope="session")
def fmnist():
    """(X float32 4000 x 50 PCA scores, labels uint8) of the first 4000 Fashion-MNIST training images."""
    X = np.load(os.path.join(DATA_DIR, "fmnist_4000_pca50.npy"))
    y = np.load(os.path.join(DATA_DIR, "fmnist_4000_labels.npy"))
    return X, y


@pytest.fixture(scope="session")
def split(fmnist):
    """openTSNE's examples use a train/test split: 1500 training and 300 test points."""
    X, y = fmnist
    return X[:1500], X[3000:3300], y[:1500], y[3000:3300]


@pytest.fixture(scope="session")
def small_embedding(split):
    import nembed
    x_train, _, _, _ = split
    return nembed.TSNE(random_state=0, n_jobs=2, early_exaggeration_iter=100, n_iter=150).fit(x_train[:600])


def knn_accuracy(Y_train, y_train, Y_test=None, y_test=None, k=10):
    """Fraction of points whose k nearest embedded neighbours vote their label (leave-one-out without a test set)."""
    Y_train = np.asarray(Y_train)
    Q = Y_train if Y_test is None else np.asarray(Y_test)
    yq = y_train if y_test is None else y_test
    d = ((Q[:, None, :] - Y_train[None, :, :]) ** 2).sum(-1)
    if Y_test is None:
        np.fill_diagonal(d, np.inf)
    nn = np.argsort(d, axis=1)[:, :k]
    votes = np.array([np.bincount(y_train[row], minlength=10).argmax() for row in nn])
    return float((votes == yq).mean())
