"""openTSNE's documented usage examples, run with only the import changed (openTSNE -> nembed), on a
Fashion-MNIST subset. Quality is checked with kNN accuracy of the embedded labels (PCA-50 space: about 0.8)."""
import numpy as np
import pytest
import scipy.sparse as sp

from conftest import knn_accuracy


def test_basic_usage(split):
    # openTSNE README, "Basic usage"
    from nembed import TSNE

    x_train, x_test, y_train, y_test = split
    embedding = TSNE().fit(x_train)
    embedding_test = embedding.transform(x_test)

    assert embedding.shape == (1500, 2) and embedding_test.shape == (300, 2)
    assert np.all(np.isfinite(embedding)) and np.all(np.isfinite(embedding_test))
    assert knn_accuracy(embedding, y_train) > 0.7
    assert knn_accuracy(embedding, y_train, embedding_test, y_test) > 0.65


def test_tsne_with_parameters_and_error_logger(split, capsys):
    # openTSNE docs, "Basic usage" with parameters and the ErrorLogger callback
    from nembed import TSNE
    from nembed.callbacks import ErrorLogger

    x_train, x_test, y_train, y_test = split
    tsne = TSNE(
        perplexity=30,
        metric="euclidean",
        callbacks=ErrorLogger(),
        n_jobs=2,
        random_state=42,
    )
    embedding_train = tsne.fit(x_train)
    embedding_test = embedding_train.transform(x_test)

    out = capsys.readouterr().out
    assert "Iteration  250, KL divergence" in out and "Iteration  500, KL divergence" in out
    assert embedding_test.shape == (300, 2)
    assert knn_accuracy(embedding_train, y_train, embedding_test, y_test) > 0.65
    assert 0 < embedding_train.kl_divergence < 3


def test_advanced_usage(split):
    # openTSNE docs, "Advanced usage": the building blocks by hand
    from nembed import TSNEEmbedding
    from nembed import affinity
    from nembed import initialization

    x_train, x_test, y_train, y_test = split
    affinities_train = affinity.PerplexityBasedNN(
        x_train,
        perplexity=30,
        metric="euclidean",
        n_jobs=2,
        random_state=42,
        verbose=True,
    )
    init_train = initialization.pca(x_train, random_state=42)
    embedding_train = TSNEEmbedding(
        init_train,
        affinities_train,
        negative_gradient_method="fft",
        n_jobs=2,
        verbose=True,
    )
    embedding_train_1 = embedding_train.optimize(n_iter=250, exaggeration=12, momentum=0.5)
    embedding_train_2 = embedding_train_1.optimize(n_iter=500, momentum=0.8)

    embedding_test = embedding_train_2.prepare_partial(
        x_test,
        initialization="median",
        k=25,
        perplexity=5,
    )
    embedding_test_1 = embedding_test.optimize(
        n_iter=250,
        learning_rate=0.1,
        momentum=0.8,
    )

    # optimize() without inplace returns new objects and leaves the input untouched
    np.testing.assert_array_equal(embedding_train, init_train)
    assert not np.allclose(embedding_train_1, embedding_train_2)
    assert isinstance(embedding_train_2, TSNEEmbedding)
    assert knn_accuracy(embedding_train_2, y_train) > 0.7
    assert knn_accuracy(embedding_train_2, y_train, embedding_test_1, y_test) > 0.65
    # the partial P: one row per new point, each summing to 1, over the training points
    P = embedding_test.P
    assert P.shape == (300, 1500)
    np.testing.assert_allclose(np.asarray(P.sum(axis=1)).ravel(), 1.0, rtol=1e-10)


def test_affinities_building_blocks_match_tsne_fit(split):
    # TSNE.fit builds the same P as affinity.PerplexityBasedNN with exact neighbours
    from nembed import TSNE, affinity

    x_train = split[0][:500]
    aff = affinity.PerplexityBasedNN(x_train, perplexity=30, method="exact", random_state=1)
    emb = TSNE(neighbors="exact", random_state=1, early_exaggeration_iter=0, n_iter=0).fit(x_train)
    assert isinstance(aff.P, sp.csr_matrix)
    np.testing.assert_allclose((aff.P - emb.affinities.P).toarray(), 0, atol=1e-15)
    np.testing.assert_allclose(aff.P.sum(), 1.0, rtol=1e-12)
    np.testing.assert_allclose((aff.P - aff.P.T).toarray(), 0, atol=1e-15)
    assert aff.P.shape == (500, 500)


def test_multiscale_mixture_and_spectral_init(split):
    # openTSNE docs, "Preserving global structure": multiscale affinities, then a custom schedule
    from nembed import TSNE
    from nembed import affinity
    from nembed import initialization

    x_train, _, y_train, _ = split
    affinities_multiscale_mixture = affinity.MultiscaleMixture(
        x_train,
        perplexities=[20, 100],
        metric="cosine",
        n_jobs=2,
        random_state=3,
    )
    init = initialization.spectral(affinities_multiscale_mixture.P, random_state=3)
    embedding = TSNE(n_jobs=2).fit(affinities=affinities_multiscale_mixture, initialization=init)
    assert embedding.shape == (1500, 2)
    assert knn_accuracy(embedding, y_train) > 0.65
    np.testing.assert_allclose(affinities_multiscale_mixture.P.sum(), 1.0, rtol=1e-12)


def test_exaggeration_and_dof(split):
    # openTSNE docs: late exaggeration and heavy tails
    from nembed import TSNE

    x_train, _, y_train, _ = split
    embedding = TSNE(exaggeration=2, dof=0.7, random_state=0, n_jobs=2).fit(x_train)
    assert knn_accuracy(embedding, y_train) > 0.65


def test_precomputed_knn_index_and_neighbors(split):
    # openTSNE: affinities from a prebuilt index / precomputed neighbours
    from nembed import TSNE, affinity
    from nembed.nearest_neighbors import Exact, PrecomputedNeighbors

    x_train, x_test, y_train, _ = split
    index = Exact(x_train, k=90, random_state=0)
    indices, distances = index.build()
    aff_index = affinity.PerplexityBasedNN(perplexity=30, knn_index=index)
    aff_pre = affinity.PerplexityBasedNN(perplexity=30, knn_index=PrecomputedNeighbors(indices, distances))
    aff_data = affinity.PerplexityBasedNN(x_train, perplexity=30, method="balltree")  # nembed's exact search
    for a in (aff_index, aff_pre):
        np.testing.assert_allclose((a.P - aff_data.P).toarray(), 0, atol=1e-15)
    # neighbours against a numpy brute force (float64 distances, rounded to float32)
    d = np.sqrt(((x_train[:20, None, :].astype(np.float64) - x_train[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d[:, :20], np.inf)
    np.testing.assert_allclose(distances[:20], np.sort(d, axis=1)[:, :90], rtol=1e-5)
    embedding = TSNE(random_state=0, n_jobs=2).fit(affinities=aff_index, initialization="spectral")
    # built from a queryable index, so it can transform
    assert embedding.transform(x_test[:50]).shape == (50, 2)


def test_precomputed_distance_metric(split):
    from nembed import TSNE

    x = split[0][:400].astype(np.float64)
    D = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    emb = TSNE(metric="precomputed", random_state=0, early_exaggeration_iter=50, n_iter=50).fit(D)
    assert emb.shape == (400, 2) and np.all(np.isfinite(emb))
