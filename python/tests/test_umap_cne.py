"""nembed.UMAP and nembed.CNE: umap-learn's and cne's API, reproducibility, errors, and (when umap-learn is
importable) quality next to umap-learn on a Fashion-MNIST subset."""
import threading

import numpy as np
import pytest
import scipy.sparse as sp

import nembed
from conftest import knn_accuracy


def test_find_ab_params_matches_umap_learn_defaults():
    a, b = nembed.find_ab_params(1.0, 0.1)
    assert abs(a - 1.5769434602697652) < 1e-3 and abs(b - 0.8950608778515733) < 1e-3
    with pytest.raises(ValueError, match="min_dist"):
        nembed.find_ab_params(1.0, 2.0)


def test_umap_fit_transform_and_attributes(fmnist):
    X, y = fmnist
    X, y = X[:1500], y[:1500]
    um = nembed.UMAP(random_state=0, n_jobs=2, n_epochs=200)
    Y = um.fit_transform(X)
    assert Y.shape == (1500, 2) and Y.dtype == np.float64
    assert Y is um.embedding_
    assert sp.issparse(um.graph_) and um.graph_.shape == (1500, 1500)
    assert abs(um.graph_ - um.graph_.T).max() < 1e-12
    assert knn_accuracy(Y, y) > 0.65
    new = um.transform(fmnist[0][3000:3200])
    assert new.shape == (200, 2) and np.isfinite(new).all()
    assert knn_accuracy(Y, y, new, fmnist[1][3000:3200]) > 0.6


def test_umap_same_result_for_any_thread_count(fmnist):
    X = fmnist[0][:600]
    a = nembed.UMAP(random_state=3, n_jobs=1, n_epochs=50).fit_transform(X)
    b = nembed.UMAP(random_state=3, n_jobs=2, n_epochs=50).fit_transform(X)
    np.testing.assert_array_equal(a, b)


def test_umap_callbacks_and_user_init(fmnist):
    X = fmnist[0][:400]
    seen = []

    def cb(epoch, loss, Y):
        seen.append((epoch, loss, Y.shape))
        return epoch >= 20

    init = np.random.default_rng(0).normal(size=(400, 3))
    um = nembed.UMAP(n_components=3, init=init, n_epochs=100, callbacks=cb, callbacks_every_epochs=10,
                     random_state=0)
    Y = um.fit_transform(X)
    assert Y.shape == (400, 3)
    assert [s[0] for s in seen] == [10, 20] and all(np.isfinite(s[1]) for s in seen)


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_neighbors=1), "n_neighbors"),
    (dict(min_dist=3.0), "min_dist"),
    (dict(spread=-1.0), "spread"),
    (dict(n_components=0), "n_components"),
    (dict(learning_rate=0), "learning_rate"),
    (dict(a=1.0), "a and b"),
    (dict(init="tsne"), "init"),
    (dict(metric="hammming"), "metric"),  # hamming itself is a kNN metric
    (dict(densmap=True, dens_lambda=-1.0), "dens_lambda"),  # densMAP is implemented; its parameters are checked
    (dict(n_jobs=0), "n_jobs"),
])
def test_umap_bad_parameters_raise_value_error(fmnist, kwargs, message):
    with pytest.raises(ValueError, match=message):
        nembed.UMAP(n_epochs=5, **kwargs).fit(fmnist[0][:100])


def test_umap_transform_before_fit_raises():
    with pytest.raises(ValueError, match="not fitted"):
        nembed.UMAP().transform(np.zeros((3, 4)))


def test_umap_releases_the_gil(fmnist):
    X = fmnist[0][:1500]
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(1)
            stop.wait(0.005)

    t = threading.Thread(target=ticker)
    t.start()
    nembed.UMAP(random_state=0, n_epochs=200, n_jobs=1).fit(X)
    stop.set()
    t.join()
    assert len(ticks) > 5


def test_cne_neg_spectrum_and_attributes(fmnist):
    X, y = fmnist
    X, y = X[:2000], y[:2000]
    res = {}
    for s in (0.0, 1.0):
        c = nembed.CNE(loss_mode="neg", s=s, batch_size=2048, n_epochs=60, n_jobs=2)
        res[s] = c.fit_transform(X)
        assert res[s].shape == (2000, 2)
        assert len(c.losses) == 60 and np.isfinite(c.losses).all()
        assert sp.issparse(c.neighbor_mat)
    xi0 = 100 * 5 / 2000
    assert c.spec_ == pytest.approx(1.0)
    assert nembed.CNE(loss_mode="neg", s=0.0, batch_size=2048, n_epochs=1).fit(X).spec_ == pytest.approx(xi0)
    # s = 0 separates classes at least as well as s = 1
    assert knn_accuracy(res[0.0], y) > 0.7


def test_cne_reproducible_graph_and_init(fmnist):
    X = fmnist[0][:500]
    a = nembed.CNE(seed=1, n_epochs=10, batch_size=1024, n_jobs=1).fit_transform(X)
    b = nembed.CNE(seed=1, n_epochs=10, batch_size=1024, n_jobs=2).fit_transform(X)
    np.testing.assert_array_equal(a, b)
    c = nembed.CNE(seed=1, n_epochs=5, batch_size=1024, loss_mode="nce", optimizer="adam")
    G = c.fit(X).neighbor_mat
    assert c.log_Z != 0.0
    init = np.random.default_rng(0).normal(size=(500, 2))
    e = nembed.CNE(n_epochs=5, batch_size=1024, metric="cosine", loss_mode="infonce_alt")
    Y = e.fit_transform(X, init=init, graph=G)
    assert Y.shape == (500, 2) and np.isfinite(Y).all()
    calls = []
    nembed.CNE(n_epochs=6, batch_size=1024, save_freq=3,
               callback=lambda ep, loss, Y: calls.append(ep)).fit(X)
    assert calls == [-1, 0, 3]
    with pytest.warns(UserWarning):
        e.transform(X)


@pytest.mark.parametrize("kwargs, message", [
    (dict(loss_mode="contrastive"), "loss mode"),
    (dict(metric="manhattan"), "metric"),
    (dict(optimizer="rmsprop"), "optimizer"),
    (dict(negative_samples=0), "negative_samples"),
    (dict(batch_size=0), "batch_size"),
    (dict(temperature=0.0), "temperature"),
    (dict(parametric=True, hidden=[10, 0]), "width"),
    (dict(parametric=True, activation="gelu"), "activation"),
    (dict(model=object()), "no model"),
    (dict(learning_rate=-1.0), "learning_rate"),
    (dict(anneal_lr="exp"), "annealing"),
    (dict(bogus=1), "unknown CNE parameter"),
])
def test_cne_bad_parameters_raise_value_error(fmnist, kwargs, message):
    with pytest.raises(ValueError, match=message):
        nembed.CNE(n_epochs=2, **kwargs).fit(fmnist[0][:100])


def test_umap_quality_next_to_umap_learn(fmnist):
    umap = pytest.importorskip("umap")
    X, y = fmnist
    X, y = X[:2000], y[:2000]
    ours = nembed.UMAP(random_state=0, n_jobs=2).fit_transform(X)
    theirs = umap.UMAP(random_state=0).fit_transform(X)
    from nembed.metrics import knn_recall
    r_ours, r_theirs = knn_recall(X, ours, k=10), knn_recall(X, theirs, k=10)
    a_ours, a_theirs = knn_accuracy(ours, y), knn_accuracy(theirs, y)
    print(f"kNN recall@10 nembed {r_ours:.3f} umap-learn {r_theirs:.3f}; accuracy {a_ours:.3f} vs {a_theirs:.3f}")
    assert r_ours > r_theirs - 0.05
    assert a_ours > a_theirs - 0.03


def test_umap_disconnected_graph_uses_multi_component_layout():
    # Six far-apart blobs: the 8-NN graph falls apart, and the spectral initialisation lays the components out as
    # umap-learn's multi_component_layout does instead of falling back to random.
    rng = np.random.default_rng(3)
    centres = np.eye(6, 5) * 6.0 + np.vstack([np.zeros((5, 5)), 12.0 * np.eye(1, 5)])
    X = np.vstack([c + 0.3 * rng.normal(size=(60, 5)) for c in centres]).astype(np.float32)
    y = np.repeat(np.arange(6), 60)
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        um = nembed.UMAP(n_neighbors=8, random_state=1, n_epochs=100)
        Y = um.fit_transform(X)
    assert not [w for w in caught if "random" in str(w.message)], [str(w.message) for w in caught]
    n_comp, _ = sp.csgraph.connected_components(um.graph_)
    assert n_comp == 6
    assert knn_accuracy(Y, y) > 0.99
