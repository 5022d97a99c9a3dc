"""Figures of the images subpackage (the only plotting code of :mod:`galfast.images`).

Built with :class:`matplotlib.figure.Figure` and written with ``fig.savefig``: no pyplot state,
no backend change.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["cutouts_figure", "true_vs_pred_figure", "plot_cutouts", "plot_true_vs_pred"]

LABELS = {"av": "A_V [mag]", "ebv": "E(B−V) [mag]", "log_ssfr": "log sSFR [yr⁻¹]", "rv": "R_V"}


def cutouts_figure(images, bands, *, titles=None, n: int = 6, stretch: float = 3.0):
    """A grid: ``n`` cut-outs (rows) × bands (columns), asinh stretch per image (shared over its
    bands, so colours compare), and an RGB-like composite when there are 3 bands."""
    from matplotlib.figure import Figure

    images = np.asarray(images[:n], dtype=float)
    n, nb = images.shape[:2]
    cols = nb + (1 if nb == 3 else 0)
    fig = Figure(figsize=(1.7 * cols, 1.7 * n + 0.3))
    axes = fig.subplots(n, cols, squeeze=False)
    for i in range(n):
        im = images[i]
        peak = np.nanpercentile(im, 99.5) or 1.0
        scaled = np.arcsinh(stretch * im / peak) / np.arcsinh(stretch)
        for j in range(nb):
            ax = axes[i, j]
            ax.imshow(scaled[j], origin="lower", cmap="magma", vmin=-0.05, vmax=1.0)
            if i == 0:
                ax.set_title(str(bands[j]).replace("jwst_", "").upper(), fontsize=8)
        if nb == 3:
            rgb = np.clip(np.stack([scaled[2], scaled[1], scaled[0]], axis=-1), 0, 1)
            axes[i, nb].imshow(rgb, origin="lower")
            if i == 0:
                axes[i, nb].set_title("RGB", fontsize=8)
        if titles is not None:
            axes[i, 0].set_ylabel(titles[i], fontsize=7)
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return fig


def true_vs_pred_figure(truth: dict, preds: dict, targets, *, labels=None):
    """The seed paper's figure style: per target, predicted vs true (points, 1:1 line) and the
    histogram of true − predicted; one row per model in ``preds`` {name: {target: array}}, each
    panel annotated with MAE and σ."""
    from matplotlib.figure import Figure

    labels = {**LABELS, **(labels or {})}
    targets = list(targets)
    names = list(preds)
    fig = Figure(figsize=(5.0 * len(targets), 2.6 * len(names) + 0.4))
    axes = fig.subplots(len(names), 2 * len(targets), squeeze=False)
    for r, name in enumerate(names):
        for c, t in enumerate(targets):
            y = np.asarray(truth[t], float)
            p = np.asarray(preds[name][t], float)
            ok = np.isfinite(y) & np.isfinite(p)
            d = y[ok] - p[ok]
            lo, hi = np.percentile(y[ok], [0.5, 99.5]) if ok.any() else (0, 1)
            ax = axes[r, 2 * c]
            ax.scatter(y[ok], p[ok], s=3, alpha=0.4, color="tab:blue", lw=0)
            ax.plot([lo, hi], [lo, hi], "r-", lw=0.8)
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
            ax.set_xlabel(f"true {labels.get(t, t)}", fontsize=8)
            ax.set_ylabel(f"predicted ({name})", fontsize=8)
            ax.text(0.04, 0.92, f"MAE {np.mean(np.abs(d)):.3f}\nσ {np.std(d):.3f}", transform=ax.transAxes,
                    fontsize=7, va="top")
            ax = axes[r, 2 * c + 1]
            ax.hist(d, bins=40 if d.size and np.ptp(d) > 1e-6 else 1, color="tab:brown", histtype="stepfilled", alpha=0.6)
            ax.axvline(0, color="r", lw=0.8)
            ax.set_xlabel(f"true − predicted, {labels.get(t, t)}", fontsize=8)
    fig.tight_layout()
    return fig


def plot_cutouts(images, bands, path, dpi: int = 100, **kw) -> Path:
    path = Path(path)
    cutouts_figure(images, bands, **kw).savefig(path, dpi=dpi)
    return path


def plot_true_vs_pred(truth, preds, targets, path, dpi: int = 100, **kw) -> Path:
    path = Path(path)
    true_vs_pred_figure(truth, preds, targets, **kw).savefig(path, dpi=dpi)
    return path
