"""The images figures are written without touching pyplot's state."""
import numpy as np

from galfast.images.plots import plot_cutouts, plot_true_vs_pred


def test_figures_written(tmp_path, small_mock):
    p = plot_cutouts(small_mock.images, small_mock.bands, tmp_path / "c.png", n=3, titles=["a", "b", "c"])
    assert p.stat().st_size > 1000
    y = np.asarray(small_mock.table["av"])
    q = plot_true_vs_pred({"av": y}, {"m": {"av": y + 0.1}}, ["av"], tmp_path / "t.png")
    assert q.stat().st_size > 1000
