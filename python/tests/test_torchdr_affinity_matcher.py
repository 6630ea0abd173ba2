"""nembed.torchdr.AffinityMatcher: TorchDR 0.5's generic affinity matcher (docs/torchdr.md "AffinityMatcher")."""
import numpy as np
import pytest
import scipy.sparse as sp

from nembed.torchdr import (AffinityMatcher, EntropicAffinity, NormalizedGaussianAffinity,
                            NormalizedStudentAffinity, SinkhornAffinity, UMAPAffinity)


def _data(n=40, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(size=(n // 2, d)), rng.normal(size=(n - n // 2, d)) + 4]).astype(np.float32)


def _loss(P, Z, out, loss_fn):
    """TorchDR's loss_fn(P, affinity_out(Z, log=True)) recomputed with numpy (sqeuclidean, zero_diag)."""
    P = np.asarray(P.todense()) if sp.issparse(P) else np.asarray(P)
    D = ((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1) + np.eye(len(Z)) * 1e12
    if isinstance(out, NormalizedGaussianAffinity):
        a = -D / out.sigma
    else:
        nu = out.degrees_of_freedom
        a = -0.5 * (nu + 1) * np.log1p(D / nu)
    m = a.max()
    logQ = a - (m + np.log(np.exp(a - m).sum()))
    if loss_fn == "square_loss":
        return ((P - np.exp(logQ)) ** 2).sum()
    return -(P * logQ).sum()


@pytest.mark.parametrize("loss_fn", ["square_loss", "cross_entropy_loss"])
@pytest.mark.parametrize("out", [NormalizedGaussianAffinity, NormalizedStudentAffinity])
def test_run_lowers_loss(loss_fn, out):
    X = _data()
    kw = dict(affinity_in=EntropicAffinity(perplexity=5), affinity_out=out(), loss_fn=loss_fn, lr=0.1,
              max_iter=150, init_scaling=1.0, random_state=0)
    Z = AffinityMatcher(**kw).fit_transform(X)
    Z0 = AffinityMatcher(**{**kw, "max_iter": 1, "lr": 1e-12}).fit_transform(X)  # ~ the initial embedding
    P = EntropicAffinity(perplexity=5)(X)
    assert Z.shape == (40, 2) and np.all(np.isfinite(Z))
    assert _loss(P, Z, kw["affinity_out"], loss_fn) < 0.999 * _loss(P, Z0, kw["affinity_out"], loss_fn)


def test_reported_loss_is_torchdr_formula():
    X = _data()
    P = UMAPAffinity(n_neighbors=8)(X)
    P = P / P.sum()
    init = np.random.default_rng(1).normal(size=(40, 2))
    m = AffinityMatcher("precomputed", NormalizedStudentAffinity(), loss_fn="cross_entropy_loss", max_iter=1,
                        init=init, init_scaling=1.0, lr=1e-300)
    Z = m.fit_transform(P)
    # init scaled by init_scaling / std(init[:, 0]) (torch's unbiased std); the reported loss is at that point
    Z0 = init / init[:, 0].std(ddof=1)
    np.testing.assert_allclose(Z, Z0, rtol=1e-12)
    np.testing.assert_allclose(m.loss_, _loss(P, Z0, NormalizedStudentAffinity(), "cross_entropy_loss"), rtol=1e-9)


def test_sinkhorn_output_and_thread_independence():
    X = _data()
    kw = dict(affinity_in=EntropicAffinity(perplexity=5), affinity_out=SinkhornAffinity(base_kernel="student"),
              loss_fn="cross_entropy_loss", max_iter=30, lr=0.1, init_scaling=1.0)
    a = AffinityMatcher(**kw, n_jobs=1).fit_transform(X)
    b = AffinityMatcher(**kw, n_jobs=2).fit_transform(X)
    assert np.array_equal(a, b)


def test_duplicates_share_coordinates():
    X = _data()
    X = np.vstack([X, X[:3]])
    Z = AffinityMatcher(EntropicAffinity(perplexity=5), NormalizedGaussianAffinity(), max_iter=5).fit_transform(X)
    np.testing.assert_array_equal(Z[-3:], Z[:3])


def test_bad_names_raise_value_error():
    with pytest.raises(ValueError, match="Loss function"):
        AffinityMatcher(EntropicAffinity(), NormalizedGaussianAffinity(), loss_fn="kl_loss")
    with pytest.raises(ValueError, match="affinity_in"):
        AffinityMatcher("not_an_affinity", NormalizedGaussianAffinity())
    with pytest.raises(ValueError, match="affinity_out"):
        AffinityMatcher(EntropicAffinity(), EntropicAffinity())
    with pytest.raises(ValueError, match="affinity_out is not set"):
        AffinityMatcher(EntropicAffinity(perplexity=5)).fit_transform(_data())
    with pytest.raises(ValueError, match="optimizer"):
        AffinityMatcher(EntropicAffinity(perplexity=5), NormalizedGaussianAffinity(),
                        optimizer="LBFGS").fit_transform(_data())
    with pytest.raises(ValueError, match="kwargs_loss"):
        AffinityMatcher(EntropicAffinity(perplexity=5), NormalizedGaussianAffinity(), loss_fn="cross_entropy_loss",
                        kwargs_loss={"log": False}).fit_transform(_data())
    m = AffinityMatcher(EntropicAffinity(perplexity=5), NormalizedGaussianAffinity())
    m.set_params(loss_fn="nope")
    with pytest.raises(ValueError, match="Loss function"):
        m.fit_transform(_data())


def test_get_set_params_and_defaults():
    m = AffinityMatcher(EntropicAffinity())
    p = m.get_params()
    assert p["loss_fn"] == "square_loss" and p["optimizer"] == "Adam" and p["lr"] == 1.0
    assert p["max_iter"] == 1000 and p["init"] == "pca" and p["min_grad_norm"] == 1e-7 and p["scheduler"] is None
    m.set_params(max_iter=3, affinity_out=NormalizedStudentAffinity(), min_grad_norm=0.0)
    assert m.max_iter == 3
    Z = m.fit_transform(_data())
    assert m.n_iter_ == 3 and Z.shape == (40, 2)


_FIXTURE = __import__("pathlib").Path(__file__).resolve().parents[2] / "tests/data/torchdr/affinity_matcher.npz"


@pytest.mark.skipif(not _FIXTURE.exists(), reason="fixture not in this checkout")
@pytest.mark.parametrize("loss_fn", ["square_loss", "cross_entropy_loss"])
@pytest.mark.parametrize("key", ["g", "s", "k"])
def test_matches_torchdr_fixture(loss_fn, key):
    """20 SGD steps equal TorchDR 0.5's (tests/data/torchdr/make_affinity_matcher_fixture.py) to 1e-12."""
    d = np.load(_FIXTURE)
    aff = {"g": NormalizedGaussianAffinity(), "s": NormalizedStudentAffinity(normalization_dim=1),
           "k": SinkhornAffinity(base_kernel="student")}[key]
    m = AffinityMatcher("precomputed", aff, loss_fn=loss_fn, optimizer="SGD",
                        lr=0.5 if loss_fn == "cross_entropy_loss" else 50.0, max_iter=20, init=d["init"],
                        init_scaling=1.0, min_grad_norm=0)
    Z = m.fit_transform(d["P"])
    np.testing.assert_allclose(Z, d[loss_fn + key], rtol=0, atol=1e-12)
