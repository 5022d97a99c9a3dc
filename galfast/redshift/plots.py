"""Photo-z diagnostic PNGs: dz and z_phot against z_spec (as the paper's Fig. 1), and the
normalised-residual histogram against a unit Gaussian; for p(z), the PIT histogram and its
quantile-quantile curve against the uniform distribution, with a few example p(z)
(:func:`plot_pit`).

Figures are built with :class:`matplotlib.figure.Figure` and written with ``savefig``: no pyplot
state and no backend change (a notebook's backend stays as it is)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..metrics import OUTLIER_DZ, normalised_residuals, photoz_dz, photoz_metrics

__all__ = ["plot_photoz", "plot_pit"]


def plot_photoz(z_phot, z_spec, path, *, z_err=None, title=None, z_max=None) -> Path:
    """Write a PNG with dz vs z_spec (top), z_phot vs z_spec (bottom) and, given ``z_err``, the
    (z_phot − z_spec)/z_err histogram; outliers (|dz| > 0.15) hollow, the band shaded."""
    from matplotlib.figure import Figure

    zp = np.asarray(z_phot, dtype=float)
    zs = np.asarray(z_spec, dtype=float)
    ok = np.isfinite(zp) & np.isfinite(zs)
    zp, zs = zp[ok], zs[ok]
    ze = None if z_err is None else np.asarray(z_err, dtype=float)[ok]
    dz = photoz_dz(zp, zs)
    out = np.abs(dz) > OUTLIER_DZ
    m = photoz_metrics(zp, zs)
    zmax = z_max or float(max(np.nanmax(zs, initial=1.0), np.nanmax(zp, initial=1.0))) * 1.05
    ncol = 2 if ze is not None else 1
    fig = Figure(figsize=(5.5 * ncol, 8))
    ax1 = fig.add_subplot(2, ncol, 1)
    ax2 = fig.add_subplot(2, ncol, ncol + 1, sharex=ax1)
    grid = np.linspace(0, zmax, 200)
    ax1.axhspan(-OUTLIER_DZ, OUTLIER_DZ, color="orange", alpha=0.15, lw=0)
    ax1.scatter(zs[~out], dz[~out], s=4, c="k", alpha=0.5)
    ax1.scatter(zs[out], dz[out], s=10, facecolors="none", edgecolors="C3")
    ax1.axhline(0, color="0.5", lw=0.8)
    ax1.set_ylabel(r"$dz = (z_{phot}-z_{spec})/(1+z_{spec})$")
    ax1.set_ylim(-0.6, 0.6)
    ax1.set_title(f"σ_NMAD = {m['sigma_nmad']:.4f}   outliers = {100 * m['outlier_fraction']:.2f} %   "
                  f"N = {len(zs):,}", fontsize=9)
    ax2.fill_between(grid, grid - OUTLIER_DZ * (1 + grid), grid + OUTLIER_DZ * (1 + grid),
                     color="orange", alpha=0.15, lw=0)
    ax2.scatter(zs[~out], zp[~out], s=4, c="k", alpha=0.5)
    ax2.scatter(zs[out], zp[out], s=10, facecolors="none", edgecolors="C3")
    ax2.plot(grid, grid, color="0.5", lw=0.8)
    ax2.set_xlim(0, zmax)
    ax2.set_ylim(0, zmax)
    ax2.set_xlabel(r"$z_{spec}$")
    ax2.set_ylabel(r"$z_{phot}$")
    if ze is not None:
        ax3 = fig.add_subplot(1, 2, 2)
        dens, edges = normalised_residuals(zs, zp, ze)
        ax3.stairs(dens, edges, color="k", label="galfast")
        x = np.linspace(edges[0], edges[-1], 300)
        ax3.plot(x, np.exp(-0.5 * x ** 2) / np.sqrt(2 * np.pi), color="C0", label="N(0, 1)")
        ax3.set_xlabel(r"$(z_{phot}-z_{spec})/\sigma_z$")
        ax3.set_ylabel("density")
        ax3.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def plot_pit(pit, path, *, crps=None, pdf=None, z_spec=None, title=None, bins: int = 20,
             n_examples: int = 4) -> Path:
    """Write a PNG of the PIT histogram (flat at 1 when the p(z) are calibrated; a dome means
    too wide, a U too narrow) with its KS and CvM statistics and the mean CRPS, the PIT
    quantile-quantile curve, and, given ``pdf`` (a :class:`~galfast.redshift.pdf.PhotoZPDF`) and
    ``z_spec``, ``n_examples`` example p(z) with their true redshifts."""
    from matplotlib.figure import Figure

    from ..metrics import pit_cvm, pit_histogram, pit_ks

    p = np.asarray(pit, dtype=float)
    p = p[np.isfinite(p)]
    ncol = 3 if pdf is not None and z_spec is not None else 2
    fig = Figure(figsize=(4.6 * ncol, 4.2))
    ax = fig.add_subplot(1, ncol, 1)
    dens, edges = pit_histogram(p, bins)
    ax.stairs(dens, edges, color="k", fill=True, alpha=0.25)
    ax.stairs(dens, edges, color="k")
    ax.axhline(1.0, color="C0", lw=1)
    n = max(len(p), 1)
    band = 1.0 + np.array([-1, 1]) * np.sqrt(bins / n)   # ±1σ Poisson scatter of a bin
    ax.axhspan(*band, color="C0", alpha=0.12, lw=0)
    ax.set_xlim(0, 1)
    ax.set_xlabel("PIT = CDF(z_spec)")
    ax.set_ylabel("density")
    txt = f"KS {pit_ks(p):.3f}   CvM {pit_cvm(p):.2f}"
    if crps is not None:
        c = np.asarray(crps, float)
        txt += f"\nmean CRPS {np.nanmean(c):.4f}"
    ax.set_title(txt + f"   N = {len(p):,}", fontsize=9)
    ax2 = fig.add_subplot(1, ncol, 2)
    q = np.linspace(0, 1, 201)
    ax2.plot(q, np.quantile(p, q) if len(p) else q, color="k", label="galfast")
    ax2.plot([0, 1], [0, 1], color="C0", lw=0.8, label="calibrated")
    ax2.set_xlabel("uniform quantile")
    ax2.set_ylabel("PIT quantile")
    ax2.set_xlim(0, 1)
    ax2.set_ylim(0, 1)
    ax2.legend(loc="upper left")
    if ncol == 3:
        ax3 = fig.add_subplot(1, ncol, 3)
        zs = np.asarray(z_spec, float)
        ok = np.flatnonzero(pdf.valid & np.isfinite(zs))
        rows = ok[np.linspace(0, len(ok) - 1, min(n_examples, len(ok))).astype(int)] if len(ok) else []
        zmax = float(np.nanmax(zs[ok], initial=1.0)) * 1.15 if len(ok) else 1.0
        grid = np.linspace(0, zmax, 600)
        for j, r in enumerate(rows):
            d = pdf.select([r]).on_grid(grid)[0]
            ax3.plot(grid, d / max(d.max(), 1e-300), color=f"C{j}", lw=1)
            ax3.axvline(zs[r], color=f"C{j}", ls=":", lw=1)
        ax3.set_xlabel("z")
        ax3.set_ylabel("p(z) / max (dotted: z_spec)")
        ax3.set_xlim(0, zmax)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
