"""nembed.torchdr's SNE, TSNE, InfoTSNE and LargeVis: scikit-learn conventions, TorchDR's names and refusals,
determinism (same random_state and any n_jobs: the same bits)."""
import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from nembed.torchdr import SNE, TSNE, InfoTSNE, LargeVis  # noqa: E402

CLASSES = [SNE, TSNE, InfoTSNE, LargeVis]
SMALL = dict(perplexity=5, max_iter=60, random_state=0)


def _data(n=120, d=8, seed=0):
    rng = np.random.RandomState(seed)
    centers = rng.randn(3, d) * 4
    return (centers[np.arange(n) % 3] + rng.randn(n, d)).astype(np.float32)


def _expected_failures(est):
    # SNE and TSNE have TorchDR's transform: new data is NotImplementedError; the other checks would call it.
    # transform(X) of InfoTSNE/LargeVis needs X_train (TorchDR's signature) and comes with the transform work.
    return {
        "check_transformer_general": "transform(X) of new data is TorchDR's NotImplementedError / needs X_train",
        "check_transformer_data_not_an_array": "as check_transformer_general",
        "check_transformer_preserve_dtypes": "as check_transformer_general",
        "check_methods_sample_order_invariance": "as check_transformer_general",
        "check_methods_subset_invariance": "as check_transformer_general",
        "check_fit_idempotent": "as check_transformer_general",
        "check_dict_unchanged": "as check_transformer_general",
        "check_estimators_pickle": "as check_transformer_general",
        "check_f_contiguous_array_estimator": "as check_transformer_general",
        "check_estimators_dtypes": "as check_transformer_general",
        "check_dtype_object": "as check_transformer_general",
    }


@parametrize_with_checks([C(**SMALL) for C in CLASSES], expected_failed_checks=_expected_failures)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("cls", CLASSES)
def test_fit_transform_shape_and_determinism(cls):
    X = _data()
    a = cls(**SMALL).fit_transform(X)
    b = cls(**SMALL).fit_transform(X)
    assert a.shape == (X.shape[0], 2) and a.dtype == np.float64
    assert np.all(np.isfinite(a))
    assert np.array_equal(a, b)
    c = cls(**SMALL, n_components=3).fit_transform(X)
    assert c.shape == (X.shape[0], 3)


@pytest.mark.parametrize("cls", CLASSES)
def test_n_jobs_same_bits(cls):
    X = _data(300)
    a = cls(**SMALL, n_jobs=1).fit_transform(X)
    b = cls(**SMALL, n_jobs=2).fit_transform(X)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("cls", [InfoTSNE, LargeVis])
def test_random_state_reaches_the_negatives(cls):
    X = _data()
    a = cls(**{**SMALL, "random_state": 1}).fit_transform(X)
    b = cls(**{**SMALL, "random_state": 2}).fit_transform(X)
    assert not np.array_equal(a, b)


def test_parameters_reach_the_core():
    X = _data()
    base = TSNE(**SMALL).fit_transform(X)
    # each TorchDR parameter changes the result (it is read, not dropped)
    for change in [dict(perplexity=8), dict(lr=200.0), dict(early_exaggeration_coeff=4.0),
                   dict(early_exaggeration_iter=10), dict(optimizer="Adam", lr=1.0), dict(optimizer_kwargs={"momentum": 0.3}),
                   dict(scheduler="LinearLR"), dict(scheduler="LinearLR", scheduler_kwargs="auto", early_exaggeration_iter=10),
                   dict(scheduler="ExponentialLR", scheduler_kwargs={"gamma": 0.9}), dict(init="random"),
                   dict(init_scaling=1e-2), dict(repulsion_strength=2.0), dict(backend="bh"), dict(backend="fft"),
                   dict(max_iter_affinity=3)]:
        Y = TSNE(**{**SMALL, **change}).fit_transform(X)
        assert not np.array_equal(Y, base), change
    # TorchDR's kNN backends give nembed's exact result
    for backend in (None, "keops", "faiss"):
        assert np.array_equal(TSNE(**SMALL, backend=backend).fit_transform(X), base)
    # "auto" and LinearLR's auto kwargs: lr decays to 0 over max_iter, unlike torch's default kwargs
    a = TSNE(**SMALL, scheduler="LinearLR", scheduler_kwargs=None).fit_transform(X)
    b = TSNE(**SMALL, scheduler="LinearLR", scheduler_kwargs={}).fit_transform(X)
    assert np.array_equal(a, b)


def test_init_array_and_convergence_stop():
    X = _data()
    Y0 = np.random.RandomState(3).randn(X.shape[0], 2)
    m = TSNE(**{**SMALL, "init": Y0, "init_scaling": 1.0})
    Y = m.fit_transform(X)
    assert Y.shape == Y0.shape and not np.array_equal(Y, Y0)
    # a huge min_grad_norm stops at the first check (TorchDR: after step 0, n_iter_ 0 -> 1 step)
    m = SNE(**{**SMALL, "min_grad_norm": 1e9})
    m.fit(X)
    assert m.n_iter_ == 1


def test_get_set_params_torchdr_names():
    m = TSNE()
    p = m.get_params()
    for name in ("perplexity", "n_components", "lr", "optimizer", "optimizer_kwargs", "scheduler", "scheduler_kwargs",
                 "init", "init_scaling", "min_grad_norm", "max_iter", "device", "backend", "verbose", "random_state",
                 "early_exaggeration_coeff", "early_exaggeration_iter", "max_iter_affinity", "metric", "sparsity",
                 "check_interval", "compile", "distributed", "process_duplicates", "repulsion_strength"):
        assert name in p, name
    assert p["lr"] == "auto" and p["early_exaggeration_coeff"] == 12.0 and p["max_iter"] == 2000
    assert LargeVis().get_params()["n_negatives"] == 5 and InfoTSNE().get_params()["n_negatives"] == 300
    assert InfoTSNE().get_params()["scheduler"] == "LinearLR"
    m.set_params(perplexity=7, lr=12.5, optimizer_kwargs={"momentum": 0.9})
    q = m.get_params()
    assert q["perplexity"] == 7 and q["lr"] == 12.5 and q["optimizer_kwargs"] == {"momentum": 0.9}
    assert type(m)(**q).get_params() == q


@pytest.mark.parametrize("params, err, match", [
    (dict(optimizer="RMSprop"), ValueError, "optimizer"),
    (dict(scheduler="StepLR"), ValueError, "scheduler"),
    (dict(scheduler="ExponentialLR"), ValueError, "gamma"),
    (dict(perplexity=500), ValueError, "perplexity"),
    (dict(repulsion_strength=-1.0), ValueError, "repulsion_strength"),
    (dict(device="cuda"), ValueError, "device"),
    (dict(lr="fast"), ValueError, "lr"),
    (dict(lr=-1.0), ValueError, "lr"),
    (dict(backend="annoy"), ValueError, "backend"),
    (dict(metric="cosine"), ValueError, "metric"),
    (dict(sparsity=False), ValueError, "sparsity"),
    (dict(optimizer_kwargs={"nesterov": True}), ValueError, "nesterov"),
    (dict(scheduler="LinearLR", scheduler_kwargs={"last_epoch": 3}), ValueError, "last_epoch"),
    (dict(distributed=True), ValueError, "distributed"),
    (dict(max_iter=0), ValueError, "max_iter"),
    (dict(n_components=0), ValueError, "n_components"),
])
def test_bad_parameters(params, err, match):
    X = _data()
    with pytest.raises(err, match=match):
        TSNE(**{**SMALL, **params}).fit(X)


def test_torch_class_refused():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="optimizer"):
        TSNE(**SMALL, optimizer=torch.optim.SGD).fit(_data())
    with pytest.raises(TypeError, match="scheduler"):
        TSNE(**SMALL, scheduler=torch.optim.lr_scheduler.LinearLR).fit(_data())


def test_torch_class_refused_without_torch():
    class SGD:  # any class stands for a torch.optim class
        pass
    with pytest.raises(TypeError, match="optimizer"):
        TSNE(**SMALL, optimizer=SGD).fit(_data())


def test_negatives_options():
    X = _data()
    with pytest.raises(ValueError, match="n_negatives"):
        LargeVis(**SMALL, n_negatives=-1).fit(X)
    with pytest.raises(ValueError, match="Conflicting"):
        LargeVis(**SMALL, exclude_neighbors_from_negative_sampling=True, discard_NNs=False).fit(X)
    a = LargeVis(**SMALL, exclude_neighbors_from_negative_sampling=True).fit_transform(X)
    b = LargeVis(**SMALL, discard_NNs=True).fit_transform(X)
    c = LargeVis(**SMALL).fit_transform(X)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_transform():
    X = _data()
    m = TSNE(**SMALL).fit(X)
    assert m.transform() is m.embedding_
    assert m.transform(None) is m.embedding_
    with pytest.raises(NotImplementedError):
        m.transform(X)
    with pytest.raises(ValueError, match="not fitted"):
        TSNE().transform()
