"""The networks' input map (normalize_inputs, not in paraDime, cne or TorchDR; docs/parametric.md, "Input
normalisation"): paraDime's routines, parametric CNE and TorchDR's encoder give maps of the same quality wherever the
data sits (moved by 10^4, scaled by 10^30 or 10^-30), finite, and transform new rows through the same map; False
keeps the peers' raw rows (and, at an offset, their collapse)."""
import pickle

import numpy as np
import pytest

import nembed
from nembed.paradime import routines
from nembed.torchdr import UMAP as TorchdrUMAP


def _blobs(n=300, D=10, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4, size=(k, D))
    y = np.arange(n) % k
    return (centres[y] + rng.normal(size=(n, D))).astype(np.float32), y


def _accuracy(Y, y, k=10):
    d = ((Y[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nn = np.argsort(d, axis=1)[:, :k]
    return float((y[nn] == y[:, None]).mean())


def _tsne(**kw):
    return routines.ParametricTSNE(epochs=8, init_epochs=2, batch_size=100, seed=1, n_jobs=2, **kw)


def _umap(**kw):
    return routines.ParametricUMAP(epochs=8, batch_size=50, batches_per_epoch=10, seed=1, n_jobs=2, **kw)


def _fit_paradime(make, X, **kw):
    r = make(**kw)
    r.train(X)
    return r, r.apply(X)


def _fit_cne(X, **kw):
    m = nembed.CNE(parametric=True, loss_mode="neg", optimizer="adam", batch_size=256, n_epochs=15, n_jobs=2,
                   seed=2, **kw).fit(X)
    return m, m.embedding_


def _fit_encoder(X, **kw):
    m = TorchdrUMAP(n_neighbors=10, max_iter=100, random_state=0, n_jobs=2,
                    encoder=dict({"hidden": [32, 32], "batch_size": 128}, **kw))
    return m, m.fit_transform(X)


FITS = {"ParametricTSNE": lambda X, **kw: _fit_paradime(_tsne, X, **kw),
        "ParametricUMAP": lambda X, **kw: _fit_paradime(_umap, X, **kw),
        "CNE": _fit_cne,
        "encoder": _fit_encoder}


def _transform(model, X):
    return model.apply(X) if hasattr(model, "apply") else model.transform(X)


@pytest.mark.parametrize("name", list(FITS))
def test_maps_do_not_depend_on_where_the_data_sits(name):
    X, y = _blobs()
    T, _ = _blobs(n=60, seed=1)
    _, Y0 = FITS[name](X)
    a0 = _accuracy(Y0, y)
    assert a0 >= 0.9
    for scale, offset in ((1.0, 1e4), (1e30, 0.0), (1e-30, 0.0)):
        Xs = (X.astype(np.float64) * scale + offset).astype(np.float32)
        model, Y = FITS[name](Xs)
        assert np.isfinite(Y).all(), (scale, offset)
        assert _accuracy(Y, y) >= a0 - 0.03, (scale, offset)
        Z = _transform(model, (T.astype(np.float64) * scale + offset).astype(np.float32))
        assert Z.shape == (60, 2) and np.isfinite(Z).all(), (scale, offset)


def test_the_map_is_the_networks_and_travels_with_it():
    X, _ = _blobs()
    Xs = X + np.float32(1e4)
    m, _ = _fit_cne(Xs)
    net = m.network_
    assert net["input_mean"].shape == (10,) and abs(float(net["input_mean"].mean()) - 1e4) < 10
    assert 1 < net["input_scale"] < 10
    m2 = pickle.loads(pickle.dumps(m))
    assert np.array_equal(m2.transform(Xs[:20]), m.transform(Xs[:20]))
    off, _ = _fit_cne(Xs, normalize_inputs=False)
    assert off.network_["input_mean"] is None and off.network_["input_scale"] == 1.0
    enc, _ = _fit_encoder(Xs)
    assert enc.encoder_["input_mean"] is not None
    raw, _ = _fit_encoder(Xs, normalize_inputs=False)
    assert raw.encoder_["input_mean"] is None
    r, E = _fit_paradime(_umap, Xs)
    assert np.array_equal(pickle.loads(pickle.dumps(r)).apply(Xs), E)


def test_raw_rows_at_an_offset_are_what_the_map_fixes():
    """paraDime's raw rows (normalize_inputs=False) at an offset of 10^4: ParametricUMAP's network saturates and the
    map loses its clusters; with the input map it keeps them. (So the invariance test above can fail.)"""
    X, y = _blobs()
    _, raw = _fit_paradime(_umap, X + np.float32(1e4), normalize_inputs=False)
    _, mapped = _fit_paradime(_umap, X + np.float32(1e4))
    assert _accuracy(raw, y) < _accuracy(mapped, y) - 0.2


def test_normalize_inputs_errors():
    X, _ = _blobs(n=60)
    with pytest.raises(ValueError, match="normalize_inputs"):
        TorchdrUMAP(n_neighbors=5, max_iter=10, encoder={"normalize_inputs": "yes"}).fit(X)


@pytest.mark.parametrize("make", [_tsne, _umap])
def test_constant_and_empty_data(make):
    """Constant rows: a map (collapsed, with the collapse warning), not an eigen-solver failure; no rows: a clear
    error."""
    X = np.ones((120, 6), np.float32)
    r = make()
    with pytest.warns(UserWarning):
        r.train(X)
    assert np.isfinite(r.apply(X)).all()
    with pytest.raises(ValueError, match="at least 2 points"):
        make().train(np.zeros((0, 6), np.float32))


@pytest.mark.parametrize("name", list(FITS))
def test_rows_that_overflow_the_network_are_refused(name):
    # Finite rows far outside the training data's range overflow the float32 products after the input map
    # (3e38 / 1e-3): a ValueError naming the row, never NaN positions.
    X, _ = _blobs()
    model, _ = FITS[name]((X.astype(np.float64) * 1e-3).astype(np.float32))
    T = (_blobs(n=5, seed=1)[0].astype(np.float64) * 1e-3).astype(np.float32)
    assert np.isfinite(_transform(model, T)).all()
    T[3] = 3e38
    with pytest.raises(ValueError, match="row 3 is not finite.*too large"):
        _transform(model, T)


@pytest.mark.parametrize("name", list(FITS))
def test_a_far_row_that_would_shrink_the_rest_to_a_point_is_refused(name):
    # Scaled together with a row of 1e30, rows of unit size would all map to one point: refused, naming the row.
    # A far row that leaves them resolved (1e4) is fitted, and the other rows keep their structure.
    X, y = _blobs()
    X[7] = 1e30
    with pytest.raises(ValueError, match="row 7 lies .* times farther"):
        FITS[name](X)
    X[7] = 1e4
    _, Y = FITS[name](X)
    keep = np.arange(len(X)) != 7
    assert np.isfinite(Y).all() and _accuracy(Y[keep], y[keep]) >= 0.9


@pytest.mark.parametrize("make", [_tsne, _umap])
def test_raw_rows_that_overflow_stop_training_with_an_error(make):
    # Without the map a row of 1e30 overflows the network's products; paraDime would return a NaN map.
    X, _ = _blobs()
    X[7] = 1e30
    with pytest.raises(ValueError, match="loss is not finite at epoch"):
        _fit_paradime(make, X, normalize_inputs=False)


def test_raw_rows_that_overflow_the_encoder_are_named_in_its_error():
    X, _ = _blobs()
    X[7] = 1e30
    with pytest.raises(ValueError, match="not finite at iteration 0 .*rows too large for the network"):
        _fit_encoder(X, normalize_inputs=False)
