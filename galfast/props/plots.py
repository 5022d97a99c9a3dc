"""Figures of property-regression results (the only plotting code of :mod:`galfast.props`).

Figures are built with :class:`matplotlib.figure.Figure` and written with ``fig.savefig``: no
pyplot state and no backend change, so calling these from a notebook leaves its backend alone.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["true_vs_pred_figure", "plot_true_vs_pred"]


def true_vs_pred_figure(truth: dict, pred, targets, *, labels: dict | None = None):
    """A Figure with, per target, true vs predicted (log-density hexbin, 1:1 line) above the
    distribution of the normalised residuals (pred − true)/σ against N(0, 1).

    truth : {target: array of true values}
    pred : table (or dict) with ``<target>`` and ``<target>_err`` columns, rows as ``truth``
    labels : {target: axis label} (default the target names)
    """
    from matplotlib.figure import Figure

    from ..metrics import normalised_residuals

    targets = list(targets)
    labels = labels or {}
    fig = Figure(figsize=(4.2 * len(targets), 7.5))
    axes = fig.subplots(2, len(targets), squeeze=False)
    for j, t in enumerate(targets):
        y = np.asarray(truth[t], dtype=float)
        p = np.asarray(pred[t], dtype=float)
        s = np.asarray(pred[t + "_err"], dtype=float)
        name = labels.get(t, t)
        ok = np.isfinite(y) & np.isfinite(p)
        lo, hi = np.nanpercentile(y[ok], [0.5, 99.5]) if ok.any() else (0.0, 1.0)
        ax = axes[0, j]
        ax.hexbin(y[ok], p[ok], gridsize=50, bins="log", cmap="viridis", extent=(lo, hi, lo, hi))
        ax.plot([lo, hi], [lo, hi], "r-", lw=0.8)
        ax.set_xlabel(f"true {name}")
        ax.set_ylabel(f"predicted {name}")
        ax = axes[1, j]
        if (ok & np.isfinite(s) & (s > 0)).any():
            dens, edges = normalised_residuals(y, p, s)
            ax.stairs(dens, edges, color="k", label="(pred − true)/σ")
        else:
            ax.text(0.5, 0.6, "no estimates", ha="center", transform=ax.transAxes)
        xx = np.linspace(-5, 5, 200)
        ax.plot(xx, np.exp(-xx ** 2 / 2) / np.sqrt(2 * np.pi), "r-", lw=0.8, label="N(0, 1)")
        ax.set_xlabel(f"normalised residual, {name}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_true_vs_pred(truth: dict, pred, targets, path, *, labels: dict | None = None, dpi: int = 100) -> Path:
    """Write :func:`true_vs_pred_figure` to ``path`` (PNG, PDF, … from the suffix); returns it."""
    path = Path(path)
    true_vs_pred_figure(truth, pred, targets, labels=labels).savefig(path, dpi=dpi)
    return path
