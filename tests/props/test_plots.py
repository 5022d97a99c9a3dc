"""galfast.props.plots: figures without pyplot state or a backend change."""
import matplotlib
import numpy as np
from astropy.table import Table

from galfast.props.plots import plot_true_vs_pred, true_vs_pred_figure


def _truth_and_pred(n=500, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.normal(10, 0.5, n)
    s = np.full(n, 0.1)
    pred = Table({"log_mstar": y + rng.normal(0, 0.1, n), "log_mstar_err": s,
                  "av": np.full(n, np.nan), "av_err": s})          # a target without any estimate
    return {"log_mstar": y, "av": rng.uniform(0, 1, n)}, pred


def test_true_vs_pred_figure_has_two_rows_per_target():
    truth, pred = _truth_and_pred()
    fig = true_vs_pred_figure(truth, pred, ["log_mstar", "av"], labels={"log_mstar": "log M*"})
    assert len(fig.axes) == 4
    assert fig.axes[0].get_xlabel() == "true log M*" and fig.axes[1].get_xlabel() == "true av"


def test_plot_writes_png_and_leaves_the_backend_and_pyplot_alone(tmp_path):
    backend = matplotlib.get_backend()
    truth, pred = _truth_and_pred()
    path = plot_true_vs_pred(truth, pred, ["log_mstar"], tmp_path / "tp.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert matplotlib.get_backend() == backend
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == []                 # no pyplot figure was opened
