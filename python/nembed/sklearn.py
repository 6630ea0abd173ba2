"""scikit-learn estimator: ``nembed.sklearn.TSNE`` (``fit`` returns self, ``embedding_``, ``fit_transform``,
``transform``)."""
from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np

try:
    from sklearn.base import BaseEstimator, TransformerMixin
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError("nembed.sklearn needs scikit-learn: pip install scikit-learn") from exc

from . import tsne as _tsne

__all__ = ["TSNE"]


class TSNE(TransformerMixin, BaseEstimator):
    """t-SNE as a scikit-learn transformer; the parameters are those of :class:`nembed.TSNE`.

    Attributes
    ----------
    embedding_ : nembed.TSNEEmbedding of shape (n_samples, n_components)
        The fitted embedding (an ndarray subclass; ``transform`` uses it).
    kl_divergence_ : float
    n_features_in_ : int
    n_iter_ : int
        Total optimisation iterations.
    """

    def __init__(self, n_components: int = 2, perplexity: Union[float, Sequence[float]] = 30,
                 learning_rate: Union[str, float] = "auto", early_exaggeration_iter: int = 250,
                 early_exaggeration: Union[str, float] = "auto", n_iter: int = 500,
                 exaggeration: Optional[float] = None, dof: float = 1, theta: float = 0.5,
                 n_interpolation_points: int = 3, min_num_intervals: int = 50, ints_in_interval: float = 1,
                 initialization: Union[str, np.ndarray] = "pca", metric: str = "euclidean",
                 metric_params: Optional[dict] = None, initial_momentum: float = 0.8, final_momentum: float = 0.8,
                 max_grad_norm: Optional[float] = None, max_step_norm: Optional[float] = 5, n_jobs: int = 1,
                 neighbors: str = "auto", knn_kwargs: Optional[dict] = None, negative_gradient_method: str = "auto",
                 callbacks=None, callbacks_every_iters: int = 50, random_state=None, verbose: bool = False):
        self.n_components = n_components
        self.perplexity = perplexity
        self.learning_rate = learning_rate
        self.early_exaggeration_iter = early_exaggeration_iter
        self.early_exaggeration = early_exaggeration
        self.n_iter = n_iter
        self.exaggeration = exaggeration
        self.dof = dof
        self.theta = theta
        self.n_interpolation_points = n_interpolation_points
        self.min_num_intervals = min_num_intervals
        self.ints_in_interval = ints_in_interval
        self.initialization = initialization
        self.metric = metric
        self.metric_params = metric_params
        self.initial_momentum = initial_momentum
        self.final_momentum = final_momentum
        self.max_grad_norm = max_grad_norm
        self.max_step_norm = max_step_norm
        self.n_jobs = n_jobs
        self.neighbors = neighbors
        self.knn_kwargs = knn_kwargs
        self.negative_gradient_method = negative_gradient_method
        self.callbacks = callbacks
        self.callbacks_every_iters = callbacks_every_iters
        self.random_state = random_state
        self.verbose = verbose

    def _model(self) -> _tsne.TSNE:
        return _tsne.TSNE(**self.get_params())

    def fit(self, X, y=None) -> "TSNE":
        """Fits the embedding of `X` (n_samples x n_features); returns self."""
        X = validate_data(self, X, dtype=[np.float32, np.float64], ensure_min_samples=2)
        self.embedding_ = self._model().fit(X)
        self.kl_divergence_ = float(self.embedding_.kl_divergence)
        self.n_iter_ = int(self.early_exaggeration_iter + self.n_iter)
        return self

    def fit_transform(self, X, y=None) -> np.ndarray:
        """Fits and returns the embedding as a plain ndarray."""
        return np.asarray(self.fit(X, y).embedding_).copy()

    def transform(self, X) -> np.ndarray:
        """Embeds new points into the fitted embedding (openTSNE's transform defaults)."""
        check_is_fitted(self, "embedding_")
        X = validate_data(self, X, dtype=[np.float32, np.float64], reset=False)
        if self.metric == "precomputed":
            raise ValueError("transform is not available with metric='precomputed'")
        return np.asarray(self.embedding_.transform(X)).copy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.metric == "precomputed"
        # Refits with the same random_state agree exactly, but transform(X) of the training points is an
        # out-of-sample placement, not their training positions (t-SNE has no parametric map): the checks that
        # expect transform(X) == fit_transform(X) are skipped through this tag.
        tags.non_deterministic = True
        return tags
