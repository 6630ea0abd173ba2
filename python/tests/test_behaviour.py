"""Behaviour of the binding layer: arrays in/out, errors, callbacks, Ctrl-C, the GIL, verbose, pickling."""
import os
import pickle
import signal
import sys
import threading
import time

import numpy as np
import pytest

import nembed
from nembed import TSNE, OptimizationInterrupt, TSNEEmbedding, paradime, torchdr


def test_imports_installed_package():
    # the tests must exercise the installed package, not the source tree
    src = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "nembed"))
    assert not os.path.abspath(nembed.__file__).startswith(src)
    assert nembed.__version__ == "0.1.0"


# ------------------------------------------------------------------------------------------ arrays
def test_dtype_and_order_give_identical_results(split):
    x = split[0][:300]
    kw = dict(random_state=7, early_exaggeration_iter=30, n_iter=30, neighbors="exact")
    ref = TSNE(**kw).fit(x)
    for variant in (np.asfortranarray(x.astype(np.float64)), x.astype(np.float64), np.asfortranarray(x)):
        np.testing.assert_array_equal(TSNE(**kw).fit(variant), ref)
    # integer input is converted
    xi = np.round(x * 10).astype(np.int32)
    np.testing.assert_array_equal(TSNE(**kw).fit(xi), TSNE(**kw).fit(xi.astype(np.float32)))
    assert ref.dtype == np.float64 and ref.flags.c_contiguous


def test_no_copy_for_float32_c_order():
    from nembed._utils import as_float32_matrix
    x = np.zeros((5, 3), dtype=np.float32)
    assert as_float32_matrix(x) is x or np.shares_memory(as_float32_matrix(x), x)


def test_result_arrays_own_their_memory(small_embedding):
    P = small_embedding.affinities.P
    del small_embedding  # the P arrays returned from C++ stay valid
    assert np.isfinite(P.data).all() and P.data.min() > 0


# ------------------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("kwargs, message", [
    (dict(perplexity=-1), "perplexity must be positive"),
    (dict(negative_gradient_method="nope"), "nope"),
    (dict(metric="hammming"), "hammming"),  # hamming itself is a kNN metric (docs/dropin.md)
    (dict(neighbors="magic"), "magic"),
    (dict(n_components=3, negative_gradient_method="fft"), "fft supports 1 or 2 components"),
    (dict(initial_momentum=1.5), "momentum"),
    (dict(n_jobs=0), "n_jobs"),
    (dict(learning_rate="fast"), "learning_rate"),
    (dict(max_step_norm=-1.0), "max_step_norm"),
    (dict(initialization="bogus"), "bogus"),
    # issue #19 item 7: no silent wrap of seeds, no metric offered that cannot build affinities
    (dict(random_state=-1), "random_state must be between 0 and 2\\*\\*64 - 1"),
    (dict(random_state=2**64), "random_state must be between 0 and 2\\*\\*64 - 1"),
    (dict(metric="ip"), "affinities need non-negative distances"),
])
def test_bad_parameters_raise_value_error_with_the_cpp_message(split, kwargs, message):
    x = split[0][:100]
    with pytest.raises(ValueError, match=message):
        TSNE(early_exaggeration_iter=5, n_iter=5, **kwargs).fit(x)


def test_bad_data(split):
    x = split[0][:100].copy()
    x[3, 4] = np.nan
    with pytest.raises(ValueError, match="non-finite value at row 3, column 4"):
        TSNE().fit(x)
    with pytest.raises(ValueError, match="2-D"):
        TSNE().fit(np.zeros(10))
    with pytest.raises(ValueError, match="at least 2 points"):
        TSNE().fit(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="numeric"):
        TSNE().fit(np.array([["a", "b"], ["c", "d"]]))
    # sparse input is supported (openTSNE accepts CSR): same map as the dense copy from the same random start
    # (PCA of sparse data is uncentred, as openTSNE's, so a PCA start differs)
    import scipy.sparse as sp
    xs = sp.random(60, 5, density=0.6, format="csr", random_state=1)
    # (neighbors="balltree": nembed's exact search on both; "auto" runs scikit-learn on dense data below 1000 points,
    # as openTSNE, and nembed's exact search on sparse data, which agree to float32 precision only)
    Ys = np.asarray(TSNE(n_iter=50, random_state=3, perplexity=10, initialization="random",
                         neighbors="balltree").fit(xs))
    Yd = np.asarray(TSNE(n_iter=50, random_state=3, perplexity=10, initialization="random",
                         neighbors="balltree").fit(xs.toarray()))
    assert Ys.shape == (60, 2) and np.all(np.isfinite(Ys))
    np.testing.assert_allclose(Ys, Yd, rtol=1e-5, atol=1e-6)


def test_transform_errors(small_embedding, split):
    with pytest.raises(ValueError, match="dimension"):
        small_embedding.transform(np.zeros((3, 7), dtype=np.float32))
    with pytest.raises(ValueError, match="perplexity must be positive"):
        small_embedding.transform(split[1][:3], perplexity=0)
    with pytest.raises(ValueError, match="auto"):
        small_embedding.transform(split[1][:3], learning_rate="auto")


def test_io_errors_name_the_file(tmp_path):
    missing = tmp_path / "missing.npy"
    with pytest.raises(ValueError, match="missing.npy"):
        nembed.io.load_matrix(missing)
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not a numpy file")
    with pytest.raises(ValueError, match="bad.npy"):
        nembed.io.load_matrix(bad)


def test_io_round_trip(tmp_path):
    M = np.arange(12, dtype=np.float64).reshape(4, 3)
    nembed.io.save_matrix(tmp_path / "m.npy", M)
    np.testing.assert_array_equal(np.load(tmp_path / "m.npy"), M)
    np.testing.assert_array_equal(nembed.io.load_matrix(tmp_path / "m.npy"), M.astype(np.float32))


# ------------------------------------------------------------------------------------------ callbacks
def test_callback_sees_iterations_and_can_stop(split):
    x = split[0][:400]
    calls = []

    def cb(iteration, error, embedding):
        calls.append((iteration, error, embedding.shape, type(embedding)))
        return iteration >= 40

    emb = TSNE(callbacks=cb, callbacks_every_iters=20, random_state=0).fit(x)
    # the early-exaggeration phase stops at 40: fit returns that embedding (openTSNE)
    assert [c[0] for c in calls] == [20, 40]
    assert all(np.isfinite(c[1]) and c[2] == (400, 2) and c[3] is TSNEEmbedding for c in calls)
    assert isinstance(emb, TSNEEmbedding)


def test_callback_stop_raises_optimization_interrupt(small_embedding):
    stop = nembed.callbacks.StopAfter(10)
    with pytest.raises(OptimizationInterrupt) as info:
        small_embedding.optimize(50, callbacks=stop, callbacks_every_iters=5, propagate_exception=True)
    assert isinstance(info.value.final_embedding, TSNEEmbedding)
    assert np.isfinite(info.value.error)
    # without propagate_exception: the embedding where it stopped is returned
    out = small_embedding.optimize(50, callbacks=stop, callbacks_every_iters=5)
    assert isinstance(out, TSNEEmbedding)


def test_callback_exception_propagates(small_embedding):
    def boom(iteration, error, embedding):
        raise ZeroDivisionError("from the callback")
    with pytest.raises(ZeroDivisionError, match="from the callback"):
        small_embedding.optimize(20, callbacks=[boom], callbacks_every_iters=5)


def test_optimize_resumes_like_one_call(small_embedding):
    a = small_embedding.optimize(20, negative_gradient_method="exact")
    a = a.optimize(20, inplace=True, negative_gradient_method="exact")
    b = small_embedding.optimize(40, negative_gradient_method="exact")
    np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------------------ Ctrl-C and the GIL
def test_sigint_interrupts_a_long_run_within_a_second(fmnist):
    X = fmnist[0]
    tsne = TSNE(n_iter=100000, early_exaggeration_iter=0, random_state=0, negative_gradient_method="exact")
    emb = tsne.prepare_initial(X[:2000])
    sent = {}

    def fire():
        sent["t"] = time.perf_counter()
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(0.5, fire)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        emb.optimize(100000, inplace=True)
    latency = time.perf_counter() - sent["t"]
    timer.join()
    assert latency < 1.5, f"KeyboardInterrupt arrived {latency:.2f} s after SIGINT"
    # the interpreter and the embedding are intact; Python's handler is back
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert np.all(np.isfinite(emb))
    out = emb.optimize(2)
    assert out.shape == (2000, 2)


def test_one_dimensional_input_with_the_default_pca_init_warns_and_starts_at_random(split):
    x = split[0][:200, :1]
    with pytest.warns(UserWarning, match="initialization='pca' needs at least 2 input columns"):
        emb = TSNE(early_exaggeration_iter=10, n_iter=20, random_state=0).fit(x)
    assert emb.shape == (200, 2) and np.all(np.isfinite(emb)) and np.ptp(np.asarray(emb), axis=0).min() > 0


def test_umap_refuses_the_inner_product_metric(split):
    from nembed import UMAP
    with pytest.raises(ValueError, match="affinities need non-negative distances"):
        UMAP(metric="ip", n_epochs=5).fit(split[0][:100])


def test_sigint_during_the_affinities_raises_keyboard_interrupt(fmnist):
    # One call of several seconds (perplexity 1300 on 4000 points: 3900 neighbours a row) stops within a second:
    # the per-row loop polls the interrupt, not only the optimisation loops.
    from nembed import affinity
    from nembed.nearest_neighbors import PrecomputedNeighbors
    X = fmnist[0].astype(np.float64)
    sq = (X * X).sum(1)
    D = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * X @ X.T, 0))
    order = np.argsort(D, axis=1)[:, 1:3901]
    knn = PrecomputedNeighbors(order, np.take_along_axis(D, order, axis=1))
    sent = {}

    def fire():
        sent["t"] = time.perf_counter()
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(0.3, fire)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            for _ in range(100):  # a later round if the machine is fast enough to finish one within 0.3 s
                affinity.PerplexityBasedNN(knn_index=knn, perplexity=1300, n_jobs=1)
    finally:
        timer.join()
    latency = time.perf_counter() - sent["t"]
    assert latency < 1.0, f"KeyboardInterrupt arrived {latency:.2f} s after SIGINT"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_gil_is_released_during_optimisation(fmnist):
    emb = TSNE(random_state=0, negative_gradient_method="exact").prepare_initial(fmnist[0][:1500])
    ticks = [0]
    done = threading.Event()

    def run():
        emb.optimize(60, inplace=True)
        done.set()

    worker = threading.Thread(target=run)
    start = time.perf_counter()
    worker.start()
    while not done.is_set():
        ticks[0] += 1
        time.sleep(0.001)
    worker.join()
    elapsed = time.perf_counter() - start
    # with the GIL held the main thread could not tick at all while C++ runs
    assert elapsed > 0.05 and ticks[0] > 10


# ------------------------------------------------------------------------------------------ verbose
def test_verbose_prints_progress(split, capsys):
    TSNE(verbose=True, random_state=0, early_exaggeration_iter=50, n_iter=50).fit(split[0][:300])
    out = capsys.readouterr().out
    assert "TSNE(" in out
    assert "Running optimization with exaggeration=12.00" in out
    assert "Iteration 50, KL divergence" in out
    assert "Time elapsed" in out


def test_quiet_by_default(split, capsys):
    TSNE(random_state=0, early_exaggeration_iter=10, n_iter=10).fit(split[0][:200])
    assert capsys.readouterr().out == ""


def test_debug_lines_stay_out_of_stdout(capsys):
    # Identical rows leave the exact kNN's float32 keys uncertain: its debug line ("rows rescanned in double") went
    # to every Python user's stdout.
    nembed.UMAP(n_epochs=5, random_state=0).fit_transform(np.ones((200, 5), dtype=np.float32))
    assert capsys.readouterr().out == ""


def test_cpp_warnings_become_python_warnings(split):
    with pytest.warns(UserWarning, match="perplexity"):
        TSNE(perplexity=100, early_exaggeration_iter=5, n_iter=5, random_state=0).fit(split[0][:50])


# ------------------------------------------------------------------------------------------ pickling
def test_pickle_round_trip_then_transform(small_embedding, split):
    x_test = split[1][:40]
    blob = pickle.dumps(small_embedding)
    restored = pickle.loads(blob)
    assert isinstance(restored, TSNEEmbedding)
    np.testing.assert_array_equal(restored, small_embedding)
    np.testing.assert_allclose((restored.affinities.P - small_embedding.affinities.P).toarray(), 0)
    assert restored.kl_divergence == small_embedding.kl_divergence
    # the kNN index is rebuilt from the stored data: transform gives the same positions
    np.testing.assert_allclose(restored.transform(x_test), small_embedding.transform(x_test), atol=1e-10)
    # and the restored embedding can still be optimised
    assert restored.optimize(5).shape == small_embedding.shape


def test_views_do_not_share_optimizer_state(small_embedding):
    view = small_embedding[:10]
    assert isinstance(view, TSNEEmbedding)
    plain = np.asarray(small_embedding)
    assert type(plain) is np.ndarray


@pytest.mark.parametrize("fit", [
    lambda X: nembed.TSNE(n_iter=5, early_exaggeration_iter=5).fit(X),
    lambda X: nembed.UMAP(n_epochs=5).fit(X),
    lambda X: nembed.CNE(n_epochs=2).fit(X),
    lambda X: paradime.ParametricUMAP(epochs=1).train(X),
    lambda X: torchdr.UMAP(max_iter=5).fit_transform(X),
], ids=["TSNE", "UMAP", "CNE", "ParametricUMAP", "torchdr.UMAP"])
def test_float64_beyond_float32_range_is_named(fit, request):
    # numpy's cast would make 1e39 infinite (with a RuntimeWarning) and the error would blame a non-finite value.
    # TSNE's neighbours are searched in float64 (openTSNE takes float64 data): there the distances overflow.
    import warnings

    X = np.random.default_rng(0).normal(size=(40, 3))
    X[5, 2] = -1e39
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        where = ("value -1e\\+39 at row 5, column 2" if request.node.callspec.id != "TSNE"
                 else "neighbour distances: point 5 lies 1e\\+39 from its neighbours, beyond float32")
        with pytest.raises(ValueError, match=where):
            fit(X)
