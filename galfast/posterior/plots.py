"""Figures of the likelihood network's evaluation (the only plotting code of :mod:`galfast.posterior`).

Figures are built with :class:`matplotlib.figure.Figure` and written with ``fig.savefig``: no
pyplot state and no backend change.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["calibration_figure", "plot_calibration", "residuals_figure", "plot_residuals"]

_CASES = (("all_bands", "all observed bands", "C0", "o-"), ("bands_removed", "bands removed", "C3", "s--"))


def calibration_figure(calibration, *, title: str | None = None):
    """The thesis' reliability diagram: fraction of objects inside the P-level χ² ellipsoid
    against P, for all bands and with bands removed (the Table of
    :meth:`~galfast.posterior.NeuralLikelihood.chi2_calibration`); the diagonal is calibrated."""
    from matplotlib.figure import Figure

    level = np.asarray(calibration["level"], dtype=float)
    fig = Figure(figsize=(4.6, 4.4))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="0.5", lw=0.8, label="calibrated")
    meta = getattr(calibration, "meta", {}) or {}
    names = getattr(calibration, "colnames", None) or list(calibration.keys())
    for col, label, colour, style in _CASES:
        if col in names:
            n = meta.get(f"mean_bands_{col}")
            extra = f" (mean {n:.1f} bands)" if n is not None else ""
            ax.plot(level, np.asarray(calibration[col], dtype=float), style, color=colour, ms=4,
                    label=label + extra)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("P (ellipsoid probability level)")
    ax.set_ylabel("fraction of objects inside")
    ax.set_title(title or "χ² calibration of Σ(θ)", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def plot_calibration(calibration, path, *, title: str | None = None, dpi: int = 100) -> Path:
    """Write :func:`calibration_figure` to ``path`` (PNG, PDF, … from the suffix); returns it."""
    path = Path(path)
    calibration_figure(calibration, title=title).savefig(path, dpi=dpi)
    return path


def residuals_figure(residuals, bands):
    """Per band, the distribution of the normalised residuals (f − μ)/√Σ_bb
    (:meth:`~galfast.posterior.NeuralLikelihood.residuals`, NaN = not observed) against N(0, 1)."""
    from matplotlib.figure import Figure

    r = np.asarray(residuals, dtype=float)
    bands = list(bands)
    ncol = min(4, len(bands))
    nrow = int(np.ceil(len(bands) / ncol))
    fig = Figure(figsize=(3.2 * ncol, 2.6 * nrow))
    axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False)).ravel()
    xx = np.linspace(-5, 5, 200)
    edges = np.linspace(-5, 5, 51)
    for j, band in enumerate(bands):
        ax = axes[j]
        v = r[:, j][np.isfinite(r[:, j])]
        if v.size:
            dens, _ = np.histogram(np.clip(v, -5, 5), bins=edges, density=True)
            ax.stairs(dens, edges, color="k")
            ax.set_title(f"{band}: median {np.median(v):+.2f}", fontsize=8)
        else:
            ax.text(0.5, 0.5, "not observed", ha="center", transform=ax.transAxes)
            ax.set_title(band, fontsize=8)
        ax.plot(xx, np.exp(-xx ** 2 / 2) / np.sqrt(2 * np.pi), "r-", lw=0.8)
        ax.set_xlabel("(f − μ)/σ", fontsize=8)
    for ax in axes[len(bands):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def plot_residuals(residuals, bands, path, *, dpi: int = 100) -> Path:
    """Write :func:`residuals_figure` to ``path``; returns it."""
    path = Path(path)
    residuals_figure(residuals, bands).savefig(path, dpi=dpi)
    return path
