"""Catalogue figures (colour–redshift diagrams, histograms of columns).

Figures are built with ``matplotlib.figure.Figure``: no pyplot state and no backend change, so
they work in scripts, on headless machines and in notebooks alike; save them with
``fig.savefig(path)`` or show them in a notebook by leaving them as the cell's value.
Model-specific figures live beside their models (``galfast.redshift.plots``, ``galfast.props.plots``).
"""
from __future__ import annotations

import numpy as np

__all__ = ["colour_redshift_figure", "histograms_figure"]


def colour_redshift_figure(phot, pairs, *, z_range=(0.0, 7.0), colour_range=(-1.5, 3.5)):
    """Hexbin density of colour (AB mag) against redshift, one panel per band pair (b1, b2),
    colour = m(b1) − m(b2); needs ``phot.z``."""
    from matplotlib.figure import Figure

    if phot.z is None:
        raise ValueError("colour_redshift_figure needs a Photometry with redshifts (phot.z)")
    mag = phot.mag()
    fig = Figure(figsize=(5 * len(pairs), 4), layout="tight")
    axes = np.atleast_1d(fig.subplots(1, len(pairs)))
    for ax, (b1, b2) in zip(axes, pairs):
        c = mag[:, phot.bands.index(b1)] - mag[:, phot.bands.index(b2)]
        ok = np.isfinite(c) & np.isfinite(phot.z)
        ax.hexbin(phot.z[ok], c[ok], gridsize=60, bins="log", cmap="viridis",
                  extent=(*z_range, *colour_range))
        ax.set_xlabel("redshift z")
        ax.set_ylabel(f"{b1} − {b2} [AB mag]")
    return fig


def histograms_figure(table, columns, *, bins: int = 40):
    """One histogram per column of a table (finite values), side by side."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3 * len(columns), 3), layout="tight")
    axes = np.atleast_1d(fig.subplots(1, len(columns)))
    for ax, name in zip(axes, columns):
        v = np.asarray(table[name], dtype=float)
        ax.hist(v[np.isfinite(v)], bins=bins, color="0.3")
        unit = getattr(table[name], "unit", None)
        ax.set_xlabel(f"{name} [{unit}]" if unit is not None else name)
    return fig
