"""nembed.torchdr's SNE, TSNE, InfoTSNE, LargeVis, UMAP, PACMAP, TSNEkhorn and COSNE: scikit-learn conventions,
TorchDR's names and refusals, determinism (same random_state and any n_jobs: the same bits), TorchDR's transform."""
import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from nembed.torchdr import COSNE, PACMAP, SNE, TSNE, UMAP, InfoTSNE, LargeVis, TSNEkhorn  # noqa: E402

CLASSES = [SNE, TSNE, InfoTSNE, LargeVis, UMAP, PACMAP, TSNEkhorn, COSNE]
SMALL = dict(perplexity=5, max_iter=60, random_state=0)
# Each method's small settings (its own neighbourhood parameter).
SMALL_OF = {cls: SMALL for cls in (SNE, TSNE, InfoTSNE, LargeVis, TSNEkhorn, COSNE)}
SMALL_OF[UMAP] = dict(n_neighbors=5, max_iter=60, random_state=0)
SMALL_OF[PACMAP] = dict(n_neighbors=5, max_iter=60, random_state=0)
# SNE's auto learning rate (50 at these sizes) diverges on scikit-learn's small check data (the loss grows by orders
# of magnitude per step from about step 20): with float32 kernels the coordinates overflow within the 60 steps and
# the fit stops with its clear "gradient is not finite" error, so the checks get a learning rate that converges.
SMALL_OF[SNE] = dict(SMALL, lr=2.0)
TRANSFORM_CLASSES = [UMAP, LargeVis, InfoTSNE]


def _data(n=120, d=8, seed=0):
    rng = np.random.RandomState(seed)
    centers = rng.randn(3, d) * 4
    return (centers[np.arange(n) % 3] + rng.randn(n, d)).astype(np.float32)


def _expected_failures(est):
    # These checks call transform(X) on new data. TorchDR's transform(X) needs the training data (X_train=...) for
    # UMAP, LargeVis and InfoTSNE (its non-parametric transform), which scikit-learn's checks do not pass; SNE, TSNE,
    # PACMAP, TSNEkhorn and COSNE have no transform of new data (TorchDR's NotImplementedError).
    reason = ("transform(X) of new data needs X_train (TorchDR's signature)" if type(est) in TRANSFORM_CLASSES
              else "transform(X) of new data is TorchDR's NotImplementedError")
    return {name: reason for name in (
        "check_transformer_general", "check_transformer_data_not_an_array", "check_transformer_preserve_dtypes",
        "check_methods_sample_order_invariance", "check_methods_subset_invariance", "check_fit_idempotent",
        "check_dict_unchanged", "check_estimators_pickle", "check_f_contiguous_array_estimator",
        "check_estimators_dtypes", "check_dtype_object")}


@parametrize_with_checks([C(**SMALL_OF[C]) for C in CLASSES], expected_failed_checks=_expected_failures)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("cls", CLASSES)
def test_fit_transform_shape_and_determinism(cls):
    X = _data()
    a = cls(**SMALL_OF[cls]).fit_transform(X)
    b = cls(**SMALL_OF[cls]).fit_transform(X)
    assert a.shape == (X.shape[0], 2) and a.dtype == np.float64
    assert np.all(np.isfinite(a))
    assert np.array_equal(a, b)
    c = cls(**SMALL_OF[cls], n_components=3).fit_transform(X)
    assert c.shape == (X.shape[0], 3)


@pytest.mark.parametrize("cls", CLASSES)
def test_n_jobs_same_bits(cls):
    X = _data(300)
    a = cls(**SMALL_OF[cls], n_jobs=1).fit_transform(X)
    b = cls(**SMALL_OF[cls], n_jobs=2).fit_transform(X)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("cls", [InfoTSNE, LargeVis, UMAP, PACMAP])
def test_random_state_reaches_the_negatives(cls):
    X = _data()
    a = cls(**{**SMALL_OF[cls], "random_state": 1}).fit_transform(X)
    b = cls(**{**SMALL_OF[cls], "random_state": 2}).fit_transform(X)
    assert not np.array_equal(a, b)


# Each method's own TorchDR parameters reach the core (the result changes).
@pytest.mark.parametrize("cls, change", [
    (UMAP, dict(n_neighbors=8)), (UMAP, dict(min_dist=0.5)), (UMAP, dict(spread=2.0)),
    (UMAP, dict(a=1.0, b=1.0)), (UMAP, dict(negative_sample_rate=2)), (UMAP, dict(metric="euclidean")),
    (UMAP, dict(exclude_neighbors_from_negative_sampling=True)),
    (PACMAP, dict(n_neighbors=8)), (PACMAP, dict(MN_ratio=1.0)), (PACMAP, dict(FP_ratio=1.0)),
    (PACMAP, dict(iter_per_phase=10)),  # metric="euclidean": the same pairs as sqeuclidean (ranks only)
    (PACMAP, dict(exclude_neighbors_from_negative_sampling=False)),
    (TSNEkhorn, dict(lr_affinity_in=0.5)), (TSNEkhorn, dict(eps_square_affinity_in=False)),
    (TSNEkhorn, dict(tol_affinity_in=1e3)), (TSNEkhorn, dict(max_iter_affinity_in=3)),
    (TSNEkhorn, dict(symmetric_affinity=False)), (TSNEkhorn, dict(metric="euclidean")),
    (COSNE, dict(gamma=1.0)), (COSNE, dict(learning_rate_for_h_loss=0.1)), (COSNE, dict(metric="manhattan")),
    (COSNE, dict(sparsity=False)), (TSNE, dict(metric="euclidean")), (TSNE, dict(sparsity=False)),
])
def test_method_parameters_reach_the_core(cls, change):
    X = _data()
    base = cls(**SMALL_OF[cls]).fit_transform(X)
    Y = cls(**{**SMALL_OF[cls], **change}).fit_transform(X)
    assert not np.array_equal(Y, base), change


@pytest.mark.parametrize("cls", CLASSES)
def test_process_duplicates(cls):
    X = _data(60)
    X = np.vstack([X, X[:5]])
    Y = cls(**SMALL_OF[cls]).fit_transform(X)
    assert np.array_equal(Y[60:], Y[:5])  # duplicates share their row's position
    assert cls().get_params()["process_duplicates"] is True
    Z = cls(**SMALL_OF[cls], process_duplicates=False).fit_transform(X)
    assert Z.shape == Y.shape and not np.array_equal(Y, Z)


@pytest.mark.parametrize("cls, params, match", [
    (UMAP, dict(n_neighbors=0), "n_neighbors"), (UMAP, dict(min_dist=-1.0), "min_dist"),
    (UMAP, dict(spread=0.0), "spread"), (UMAP, dict(negative_sample_rate=-1), "negative_sample_rate"),
    (UMAP, dict(metric="cosine"), "metric"),
    (UMAP, dict(input_layout="sharded"), "input_layout"),
    (PACMAP, dict(n_neighbors=500), "n_neighbors"), (PACMAP, dict(MN_ratio=-1.0), "MN_ratio"),
    (PACMAP, dict(FP_ratio=-1.0), "FP_ratio"), (PACMAP, dict(iter_per_phase=0), "iter_per_phase"),
    (PACMAP, dict(metric="manhattan"), "metric"),
    (TSNEkhorn, dict(unrolling=True), "unrolling"), (TSNEkhorn, dict(tol_affinity_in=-1.0), "tol"),
    (TSNEkhorn, dict(lr_affinity_in=0.0), "lr_affinity_in"), (TSNEkhorn, dict(max_iter_affinity_in=0), "max_iter"),
    (TSNEkhorn, dict(eps_square_affinity_in=1), "eps_square_affinity_in"),
    (COSNE, dict(gamma=0.0), "gamma"), (COSNE, dict(learning_rate_for_h_loss=-1.0), "learning_rate_for_h_loss"),
    (COSNE, dict(perplexity=500), "perplexity"),
])
def test_method_bad_parameters(cls, params, match):
    X = _data()
    with pytest.raises(ValueError, match=match):
        cls(**{**SMALL_OF[cls], **params}).fit(X)


@pytest.mark.parametrize("method, key", [("umap", "perplexity"), ("umap", "n_negatives"), ("pacmap", "perplexity"),
                                         ("tsne", "n_neighbors"), ("cosne", "min_dist"), ("sne", "gamma"),
                                         ("largevis", "lr_affinity_in"), ("tsnekhorn", "sparsity")])
def test_core_refuses_parameters_of_other_methods(method, key):
    from nembed import _core
    with pytest.raises(ValueError, match=f"{key}: not a parameter of"):
        _core.torchdr_fit(_data(), method, {key: 1}, np.zeros((0, 0)))


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


@pytest.mark.parametrize("cls", [SNE, TSNE, PACMAP, TSNEkhorn, COSNE])
def test_no_transform_of_new_data(cls):
    X = _data(60)
    m = cls(**SMALL_OF[cls]).fit(X)
    with pytest.raises(NotImplementedError):
        m.transform(X, X_train=X)


@pytest.mark.parametrize("cls", TRANSFORM_CLASSES)
def test_transform_new_points(cls):
    X = _data()
    params = {**SMALL_OF[cls], "max_iter": 300}
    params.update(n_neighbors=10) if cls is UMAP else params.update(perplexity=10)
    m = cls(**params)
    Y = m.fit_transform(X)
    # The training rows, placed again against the frozen embedding, land near their fitted positions: within a
    # quarter of the median distance between fitted points (the clusters are several medians apart).
    Z = m.transform(X[:30], X_train=X)
    assert Z.shape == (30, 2) and Z.dtype == np.float64
    scale = np.median(np.linalg.norm(Y[:, None] - Y[None], axis=2))
    assert np.linalg.norm(Z - Y[:30], axis=1).max() < 0.25 * scale
    # deterministic, any n_jobs
    assert np.array_equal(Z, m.transform(X[:30], X_train=X))
    m2 = cls(**params, n_jobs=1).fit(X)
    assert np.array_equal(m2.transform(X[:30], X_train=X), cls(**params, n_jobs=2).fit(X).transform(X[:30], X_train=X))
    # transform() without X: the training embedding
    assert m.transform() is m.embedding_
    with pytest.raises(ValueError, match="X_train is required"):
        m.transform(X[:5])
    with pytest.raises(ValueError, match="features"):
        m.transform(X[:5], X_train=X[:, :4])
    with pytest.raises(ValueError, match="samples"):
        m.transform(X[:5], X_train=X[:50])
    with pytest.raises(ValueError, match="features"):
        m.transform(X[:5, :4], X_train=X)


# ----- encoder: TorchDR's parametric mode, nembed's network trained in mini-batches (docs/parametric.md) -----
def _knn_accuracy(Y, y, k=10):
    d = ((Y[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nn = np.argsort(d, axis=1)[:, :k]
    return float((y[nn] == y[:, None]).mean())


@pytest.mark.parametrize("cls", [LargeVis, InfoTSNE, UMAP])
def test_encoder_parametric_fit_and_transform(cls):
    X = _data(n=300)
    y = np.arange(300) % 3
    kw = dict(SMALL_OF[cls], max_iter=150, n_jobs=2, encoder={"hidden": [32, 32], "batch_size": 128})
    m = cls(**kw)
    Y = m.fit_transform(X)
    assert m.encoder_ is not None and m.encoder_["widths"] == [8, 32, 32, 2]
    # the embedding is the network's forward pass: transform of the training rows gives the same bits, any n_jobs
    assert np.array_equal(m.transform(X), Y)
    m.set_params(n_jobs=1)
    assert np.array_equal(m.transform(X), Y)
    # three well separated blobs: the network separates them as the table does (10-NN accuracy measured 1.0)
    assert _knn_accuracy(Y, y) >= 0.95
    Z = m.transform(_data(n=30, seed=1))
    assert Z.shape == (30, 2) and np.isfinite(Z).all()
    # the same bits with another thread count; the table fit has no network
    assert np.array_equal(cls(**dict(kw, n_jobs=1)).fit_transform(X), Y)
    t = cls(**SMALL_OF[cls])
    t.fit(X)
    assert t.encoder_ is None


@pytest.mark.parametrize("encoder, err, match", [
    ({"hidden": [8, 0]}, ValueError, "width"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"learning_rate": -1.0}, ValueError, "learning_rate"),
    ({"optimizer": "RMSprop"}, ValueError, "optimizer must be Adam or SGD"),
    ({"depth": 3}, ValueError, "unknown setting 'depth'"),
    ("mlp", TypeError, "encoder must be None, True or a dict"),
])
def test_encoder_bad_settings(encoder, err, match):
    with pytest.raises(err, match=match):
        LargeVis(**SMALL, encoder=encoder).fit(_data())


def test_encoder_torch_module_refused():
    class Module:  # duck-typed as torch.nn.Module (torch is optional)
        def parameters(self):
            return []

        def forward(self, x):
            return x

    with pytest.raises(TypeError, match="nembed.paradime.ParametricDR"):
        UMAP(**SMALL_OF[UMAP], encoder=Module()).fit(_data())


def test_numpy_scalar_parameters_are_numbers():
    # np.int64 (np.arange grids) and np.float32 are numbers: same result as the Python values, not "not a number".
    X = _data()
    kw = dict(perplexity=5, max_iter=30, n_components=2, lr=10.0, random_state=0)
    ref = TSNE(**kw).fit_transform(X)
    np_kw = dict(perplexity=np.float32(5), max_iter=np.int64(30), n_components=np.int64(2), lr=np.float32(10.0),
                 random_state=0)
    np.testing.assert_array_equal(TSNE(**np_kw).fit_transform(X), ref)
    ref = PACMAP(**SMALL_OF[PACMAP]).fit_transform(X)
    np_small = {k: (np.int64(v) if isinstance(v, int) and not isinstance(v, bool) else v)
                for k, v in SMALL_OF[PACMAP].items()}
    np.testing.assert_array_equal(PACMAP(**np_small).fit_transform(X), ref)


def test_complex_init_refused():
    # numpy's cast would keep the real part with only a ComplexWarning.
    init = np.ones((120, 2)) + 1j * np.arange(240).reshape(120, 2)
    with pytest.raises(TypeError, match="init: complex"):
        TSNE(**SMALL, init=init).fit(_data())


@pytest.mark.parametrize("kw, match", [({"a": -1.0}, "a must be positive"), ({"a": 1.5}, "a is given without b"),
                                       ({"b": 0.0}, "b must be positive")])
def test_umap_a_or_b_alone_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        UMAP(**SMALL_OF[UMAP], **kw).fit(_data())


@pytest.mark.parametrize("cls", [InfoTSNE, LargeVis])
def test_huge_n_negatives_refused(cls):
    # 10**9 negatives per point used to exhaust memory (OOM kill) instead of failing.
    with pytest.raises(ValueError, match=r"n_negatives must be <= 1048576, got 1000000000"):
        cls(**SMALL_OF[cls], n_negatives=10**9).fit(_data())
