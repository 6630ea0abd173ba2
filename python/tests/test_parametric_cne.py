"""cne's parametric mode (nembed.CNE(parametric=True)): the network's transform, reproducibility, pickling,
held-out quality and errors."""
import pickle

import numpy as np
import pytest

import nembed
from conftest import knn_accuracy


def _fit(X, n_jobs=1, **kw):
    args = dict(parametric=True, loss_mode="neg", optimizer="adam", batch_size=1024, n_epochs=8, n_jobs=n_jobs,
                seed=3)
    args.update(kw)
    return nembed.CNE(**args).fit(X)


def test_parametric_transform_is_the_network_and_reproducible(fmnist):
    X = fmnist[0][:1500]
    a = _fit(X, n_jobs=1)
    b = _fit(X, n_jobs=2)
    np.testing.assert_array_equal(a.embedding_, b.embedding_)
    np.testing.assert_array_equal(a.network_["parameters"], b.network_["parameters"])
    np.testing.assert_array_equal(a.transform(X), a.embedding_)
    assert a.network_["widths"] == [50, 100, 100, 100, 2]
    assert a.network_["parameters"].dtype == np.float32
    c = pickle.loads(pickle.dumps(a))
    new = fmnist[0][1500:1700]
    np.testing.assert_array_equal(c.transform(new), a.transform(new))


def test_parametric_held_out_points_classify_like_training_points(fmnist):
    X, y = fmnist
    model = _fit(X[:3000], n_epochs=20, n_jobs=2)
    Ytr, Yte = model.embedding_, model.transform(X[3000:])
    acc_train = knn_accuracy(Ytr, y[:3000])
    # Held-out points classified by their 10 nearest training points in the embedding.
    acc_test = knn_accuracy(Ytr, y[:3000], Yte, y[3000:])
    assert acc_train > 0.65
    assert abs(acc_test - acc_train) < 0.05, (acc_train, acc_test)


def test_parametric_options_and_errors(fmnist):
    X = fmnist[0][:300]
    m = _fit(X, hidden=[16], activation="softplus", network_init="he_normal", n_epochs=2)
    assert m.network_["widths"] == [50, 16, 2]
    assert m.network_["hidden_activation"] == "softplus"
    with pytest.raises(ValueError, match="features"):
        m.transform(X[:, :10])
    with pytest.raises(ValueError, match="2-D"):
        m.transform(X[0])
    with pytest.raises(ValueError, match="width"):
        _fit(X, hidden=[0])
    with pytest.raises(ValueError, match="initialisation"):
        _fit(X, network_init="orthogonal")
    with pytest.raises(TypeError, match="parametric"):
        nembed.CNE(parametric="yes").fit(X)
    # Bad input named as such: empty arrays (numpy's reshape error named nothing), complex values (the cast dropped
    # the imaginary part silently), a flag that is not a bool (bool("no") is True).
    with pytest.raises(ValueError, match=r"X is empty or not an array of rows \(shape \(0, 50\)\)"):
        _fit(X[:0])
    with pytest.raises(ValueError, match=r"X is empty or not an array of rows \(shape \(0, 50\)\)"):
        m.transform(X[:0])
    with pytest.raises(ValueError, match="X: complex values are not supported"):
        _fit(X.astype(np.complex64))
    with pytest.raises(ValueError, match="X: complex values are not supported"):
        m.transform(X.astype(np.complex64))
    with pytest.raises(TypeError, match="normalize_inputs must be a bool, got 'no'"):
        _fit(X, normalize_inputs="no")


def test_parametric_bf16_network_precision(fmnist):
    # network_precision="bf16": bfloat16 operands in the network's products (oneDNN); the trained network records it
    # and applies in it, so transform gives the fit's bits, for any n_jobs and after pickling.
    X = fmnist[0][:800]
    try:
        a = _fit(X, n_jobs=1, n_epochs=3, network_precision="bf16")
    except ValueError as e:
        if "precision bf16 is not available" in str(e):
            pytest.skip(str(e))
        raise
    b = _fit(X, n_jobs=2, n_epochs=3, network_precision="bf16")
    assert a.network_["precision"] == "bf16"
    np.testing.assert_array_equal(a.embedding_, b.embedding_)
    np.testing.assert_array_equal(a.transform(X), a.embedding_)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(a)).transform(X), a.embedding_)
    f = _fit(X, n_jobs=1, n_epochs=3)
    assert f.network_["precision"] == "float32"
    assert not np.array_equal(f.embedding_, a.embedding_)
    with pytest.raises(ValueError, match="unknown precision 'float16'"):
        _fit(X, n_epochs=1, network_precision="float16")
