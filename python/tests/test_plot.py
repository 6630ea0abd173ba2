"""nembed.plot.scatter (needs matplotlib; skipped with the reason when it is missing)."""
import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib", reason="matplotlib is not installed (pip install nembed[plot])")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from nembed import plot  # noqa: E402


def test_scatter_with_labels(tmp_path):
    rng = np.random.default_rng(0)
    Y = rng.normal(size=(70000, 2))
    labels = rng.integers(0, 10, size=70000)
    ax = plot.scatter(Y, labels)
    # one collection per category, small markers for 70 000 points, a legend with every category
    assert len(ax.collections) == 10
    sizes = ax.collections[0].get_sizes()
    assert sizes[0] <= 2.0
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [str(i) for i in range(10)]
    ax.figure.savefig(tmp_path / "scatter.png", dpi=50)
    assert (tmp_path / "scatter.png").stat().st_size > 1000
    plt.close("all")


def test_scatter_without_labels_on_given_axes():
    fig, ax = plt.subplots()
    out = plot.scatter(np.random.default_rng(1).normal(size=(100, 2)), ax=ax, s=5)
    assert out is ax and ax.get_legend() is None
    assert ax.collections[0].get_sizes()[0] == 5
    plt.close(fig)


def test_scatter_string_labels_and_errors():
    Y = np.zeros((4, 2))
    ax = plot.scatter(Y, ["a", "b", "a", "c"])
    assert len(ax.collections) == 3
    with pytest.raises(ValueError, match="2\\)"):
        plot.scatter(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="labels"):
        plot.scatter(Y, [1, 2])
    plt.close("all")
