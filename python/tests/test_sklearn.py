"""nembed.sklearn.TSNE against scikit-learn's estimator API checks."""
import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", reason="scikit-learn is not installed")
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from nembed.sklearn import TSNE  # noqa: E402


@parametrize_with_checks([TSNE(early_exaggeration_iter=50, n_iter=50, random_state=0)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_fit_returns_self_and_plain_arrays(split):
    x_train, x_test, y_train, _ = split
    est = TSNE(random_state=1, n_jobs=2)
    assert est.fit(x_train[:500]) is est
    assert est.embedding_.shape == (500, 2) and est.n_features_in_ == 50
    assert np.isfinite(est.kl_divergence_) and est.n_iter_ == 750
    Y = est.transform(x_test[:20])
    assert type(Y) is np.ndarray and Y.shape == (20, 2)
    Z = TSNE(random_state=1, n_jobs=2).fit_transform(x_train[:500])
    assert type(Z) is np.ndarray
    np.testing.assert_array_equal(Z, est.embedding_)


def test_get_set_params_and_clone():
    from sklearn.base import clone
    est = TSNE(perplexity=12, random_state=3)
    assert est.get_params()["perplexity"] == 12
    est.set_params(perplexity=7, n_iter=10)
    assert est.perplexity == 7 and est.n_iter == 10
    assert clone(est).get_params() == est.get_params()


def test_in_a_pipeline(split):
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    pipe = make_pipeline(PCA(n_components=10), TSNE(random_state=0, early_exaggeration_iter=50, n_iter=50))
    Y = pipe.fit_transform(split[0][:300])
    assert Y.shape == (300, 2)
