"""Accuracy metrics for photo-z and property estimates.

Photo-z: dz = (z_phot − z_spec) / (1 + z_spec); σ_NMAD = 1.4826 · median(|dz − median(dz)|);
outliers |dz| > 0.15.  Properties: σ, bias, outlier fraction, r².  Uncertainties: coverage of
1σ/2σ intervals and the normalised-residual histogram.  Non-finite predictions are counted,
never silently dropped: every function reports ``n_missing``.

Probability densities (p(z)): PIT values (the CDF at the truth; computed by the PDF object, e.g.
:meth:`galfast.redshift.pdf.PhotoZPDF.pit`, or :func:`pit_gaussian_mixture`), their histogram
(:func:`pit_histogram`) and its distance from uniform (:func:`pit_ks`, :func:`pit_cvm`: the
Kolmogorov–Smirnov and Cramér–von Mises statistics), the CRPS (:func:`crps_gaussian_mixture`,
closed form; :func:`crps_from_cdf` for a CDF on a grid), the fraction of truths inside given
intervals (:func:`interval_coverage`), and all of them at once (:func:`pdf_metrics`).  These are
computed here, not by qp (whose PIT outlier rate is unreliable and which has no CRPS).
"""
from __future__ import annotations

import numpy as np

__all__ = ["photoz_dz", "sigma_nmad", "outlier_fraction", "photoz_metrics", "regression_metrics",
           "coverage", "normalised_residuals", "binned_metrics", "OUTLIER_DZ", "pit_gaussian_mixture",
           "pit_histogram", "pit_ks", "pit_cvm", "crps_gaussian_mixture", "crps_from_cdf",
           "interval_coverage", "pdf_metrics"]

#: |dz| above which a photo-z is an outlier
OUTLIER_DZ = 0.15
_NMAD = 1.4826


def _pair(a, b):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    return a, b


def photoz_dz(z_phot, z_spec) -> np.ndarray:
    """Normalised redshift error (z_phot − z_spec) / (1 + z_spec)."""
    zp, zs = _pair(z_phot, z_spec)
    return (zp - zs) / (1.0 + zs)


def sigma_nmad(dz) -> float:
    """Normalised median absolute deviation 1.4826 · median(|dz − median(dz)|) of finite values."""
    dz = np.asarray(dz, dtype=float)
    dz = dz[np.isfinite(dz)]
    if dz.size == 0:
        return float("nan")
    return float(_NMAD * np.median(np.abs(dz - np.median(dz))))


def outlier_fraction(dz, threshold: float = OUTLIER_DZ) -> float:
    """Fraction of finite |dz| above ``threshold``."""
    dz = np.asarray(dz, dtype=float)
    dz = dz[np.isfinite(dz)]
    return float(np.mean(np.abs(dz) > threshold)) if dz.size else float("nan")


def coverage(y_true, y_pred, sigma, n_sigma=(1.0, 2.0)) -> dict:
    """Fraction of finite rows with |y_true − y_pred| ≤ nσ, for each n in ``n_sigma``
    (a calibrated Gaussian σ gives 0.683 and 0.954)."""
    t, p = _pair(y_true, y_pred)
    s = np.asarray(sigma, dtype=float)
    ok = np.isfinite(t) & np.isfinite(p) & np.isfinite(s) & (s > 0)
    r = np.abs(t[ok] - p[ok]) / s[ok]
    return {f"coverage_{n:g}sigma": float(np.mean(r <= n)) if r.size else float("nan") for n in n_sigma}


def normalised_residuals(y_true, y_pred, sigma, bins=np.linspace(-5, 5, 41)):
    """Histogram (density) of (y_pred − y_true)/σ; returns (density, bin_edges)."""
    t, p = _pair(y_true, y_pred)
    s = np.asarray(sigma, dtype=float)
    ok = np.isfinite(t) & np.isfinite(p) & np.isfinite(s) & (s > 0)
    return np.histogram((p[ok] - t[ok]) / s[ok], bins=bins, density=True)


def photoz_metrics(z_phot, z_spec, z_err=None) -> dict:
    """σ_NMAD, outlier fraction, bias (median dz), MSE of dz, n, n_missing, and coverage if ``z_err``."""
    zp, zs = _pair(z_phot, z_spec)
    dz = photoz_dz(zp, zs)
    ok = np.isfinite(dz)
    out = {
        "n": int(dz.size),
        "n_missing": int((~ok).sum()),
        "sigma_nmad": sigma_nmad(dz),
        "outlier_fraction": outlier_fraction(dz),
        "bias": float(np.median(dz[ok])) if ok.any() else float("nan"),
        "mse": float(np.mean(dz[ok] ** 2)) if ok.any() else float("nan"),
    }
    if z_err is not None:
        out.update(coverage(zs, zp, z_err))
    return out


def regression_metrics(y_true, y_pred, sigma=None, outlier: float | None = None) -> dict:
    """σ(true − pred) (std and NMAD), bias (mean), r², outlier fraction (|Δ| > ``outlier``, default
    3σ_NMAD), n_missing, and coverage of ``sigma`` at 1σ/2σ when given."""
    t, p = _pair(y_true, y_pred)
    ok = np.isfinite(t) & np.isfinite(p)
    d = p[ok] - t[ok]
    if d.size == 0:
        return {"n": int(t.size), "n_missing": int(t.size)}
    nmad = sigma_nmad(d)
    thr = 3 * nmad if outlier is None else outlier
    ss_res = float(np.sum(d ** 2))
    ss_tot = float(np.sum((t[ok] - t[ok].mean()) ** 2))
    out = {
        "n": int(t.size),
        "n_missing": int((~ok).sum()),
        "sigma": float(np.std(d)),
        "sigma_nmad": nmad,
        "bias": float(np.mean(d)),
        "outlier_fraction": float(np.mean(np.abs(d) > thr)),
        "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan"),
    }
    if sigma is not None:
        out.update(coverage(t, p, sigma))
    return out


def binned_metrics(x, y_true, y_pred, edges, sigma=None, **kw) -> list[dict]:
    """:func:`regression_metrics` in bins of ``x`` (e.g. S/N or magnitude); each dict gets
    ``lo``/``hi``."""
    x = np.asarray(x, dtype=float)
    t, p = _pair(y_true, y_pred)
    s = None if sigma is None else np.asarray(sigma, dtype=float)
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (x >= lo) & (x < hi)
        if not m.any():
            continue
        r = regression_metrics(t[m], p[m], None if s is None else s[m], **kw)
        r.update(lo=float(lo), hi=float(hi))
        rows.append(r)
    return rows


# ---------------------------------------------------------------------------- p(z) metrics
def _finite01(pit):
    p = np.asarray(pit, dtype=float).ravel()
    return p[np.isfinite(p)]


def pit_gaussian_mixture(y, mu, sigma, w) -> np.ndarray:
    """PIT of Gaussian mixtures Σ_i w_i N(mu_i, sigma_i²) (rows; sigma (N,) or (N, K)) at y (N,)."""
    from scipy.special import ndtr

    y = np.asarray(y, float)
    mu, w = np.asarray(mu, float), np.asarray(w, float)
    s = np.asarray(sigma, float)
    s = s[:, None] if s.ndim == 1 else s
    t = ndtr((y[:, None] - mu) / s)
    return np.sum(np.where(w > 0, w * t, 0.0), axis=1)


def pit_histogram(pit, bins: int = 20):
    """Histogram of the finite PIT values as a density on [0, 1] (1 everywhere when calibrated);
    returns (density, bin_edges)."""
    return np.histogram(np.clip(_finite01(pit), 0.0, 1.0), bins=int(bins), range=(0.0, 1.0),
                        density=True)


def pit_ks(pit) -> float:
    """Kolmogorov–Smirnov statistic sup |F̂_PIT(u) − u| of the finite PIT values (0: uniform)."""
    from scipy.stats import kstest

    p = _finite01(pit)
    return float(kstest(p, "uniform").statistic) if p.size else float("nan")


def pit_cvm(pit) -> float:
    """Cramér–von Mises statistic n ∫ (F̂_PIT(u) − u)² du of the finite PIT values (the uniform
    case averages 1/6; 0.461 is its 5 % critical value)."""
    p = np.sort(np.clip(_finite01(pit), 0.0, 1.0))
    n = p.size
    if n == 0:
        return float("nan")
    i = np.arange(1, n + 1)
    return float(1.0 / (12 * n) + np.sum(((2 * i - 1) / (2.0 * n) - p) ** 2))


def _crps_a(m, s):
    """E|X| of X ~ N(m, s²): m (2Φ(m/s) − 1) + 2 s φ(m/s)."""
    from scipy.special import ndtr

    t = m / s
    return m * (2.0 * ndtr(t) - 1.0) + 2.0 * s * np.exp(-0.5 * t * t) / np.sqrt(2.0 * np.pi)


def crps_gaussian_mixture(y, mu, sigma, w, *, chunk: int = 4096) -> np.ndarray:
    """CRPS of Gaussian mixtures Σ_i w_i N(mu_i, sigma_i²) at y, in closed form (Grimit et al. 2006):
    CRPS = Σ_i w_i A(y − mu_i, σ_i) − ½ Σ_ij w_i w_j A(mu_i − mu_j, √(σ_i² + σ_j²)),
    A(m, s) = E|N(m, s²)|.  y (N,), mu and w (N, K), sigma (N,) (one width per row) or (N, K);
    zero-weight components are ignored; NaN where a row has no valid mixture or y is NaN."""
    y = np.asarray(y, float)
    mu, w = np.asarray(mu, float), np.asarray(w, float)
    s = np.asarray(sigma, float)
    s = np.broadcast_to(s[:, None] if s.ndim == 1 else s, mu.shape)
    if y.ndim == 0:
        y = np.full(len(mu), float(y))
    out = np.full(len(mu), np.nan)
    for a in range(0, len(mu), chunk):
        b = min(a + chunk, len(mu))
        ww = np.where(w[a:b] > 0, w[a:b], 0.0)
        mm = np.where(ww > 0, mu[a:b], 0.0)
        ss = np.where(ww > 0, s[a:b], 1.0)
        t1 = np.sum(ww * _crps_a(y[a:b, None] - mm, ss), axis=1)
        t2 = np.einsum("ni,nj,nij->n", ww, ww,
                       _crps_a(mm[:, :, None] - mm[:, None, :],
                               np.sqrt(ss[:, :, None] ** 2 + ss[:, None, :] ** 2)))
        bad = ~(np.all(np.isfinite(np.where(ww > 0, s[a:b], 1.0)), axis=1) & (ww.sum(axis=1) > 0))
        r = t1 - 0.5 * t2
        r[bad] = np.nan
        out[a:b] = r
    return out


def crps_from_cdf(grid, cdf, y) -> np.ndarray:
    """CRPS ∫ (F(z) − 1{z ≥ y})² dz for CDFs tabulated on a grid shared by every row: grid (G,),
    cdf (N, G) (F = 0 below and 1 above the grid is assumed), y (N,) inside the grid.  The
    integral is split at y (cumulative trapezoid integrals of F² and (1 − F)², interpolated
    at y), so the step of the indicator costs no accuracy: the error is O(Δz²)."""
    from scipy.integrate import cumulative_trapezoid

    g = np.asarray(grid, float)
    cdf = np.asarray(cdf, float)
    y = np.asarray(y, float)
    a = cumulative_trapezoid(cdf ** 2, g, axis=1, initial=0.0)
    b = cumulative_trapezoid((1.0 - cdf) ** 2, g, axis=1, initial=0.0)
    j = np.clip(np.searchsorted(g, y) - 1, 0, len(g) - 2)
    t = (y - g[j]) / (g[j + 1] - g[j])
    rows = np.arange(len(y))
    # within the cell, integrate the linearly interpolated F exactly enough: linear interpolation
    # of the cumulative integrals
    ay = a[rows, j] + t * (a[rows, j + 1] - a[rows, j])
    by = b[rows, j] + t * (b[rows, j + 1] - b[rows, j])
    return ay + (b[:, -1] - by)


def interval_coverage(y, lo, hi) -> float:
    """Fraction of finite rows with lo ≤ y ≤ hi."""
    y, lo, hi = (np.asarray(a, float) for a in (y, lo, hi))
    ok = np.isfinite(y) & np.isfinite(lo) & np.isfinite(hi)
    return float(np.mean((y[ok] >= lo[ok]) & (y[ok] <= hi[ok]))) if ok.any() else float("nan")


def pdf_metrics(pit, crps=None, *, z_true=None, intervals=None, bins: int = 20) -> dict:
    """PIT KS and CvM statistics, the PIT histogram's largest deviation from 1, the fractions of
    PIT below 0.001 / above 0.999 (truths in the far tails), the mean CRPS, and the coverage of
    each ``intervals`` {name: (lo, hi)} of ``z_true`` (e.g. {"68": (lo68, hi68)} → "coverage_68")."""
    p = _finite01(pit)
    dens, _ = pit_histogram(p, bins)
    out = {"n_pit": int(p.size), "n_missing": int(np.size(pit) - p.size), "pit_ks": pit_ks(p),
           "pit_cvm": pit_cvm(p), "pit_hist_max_dev": float(np.max(np.abs(dens - 1.0))) if p.size else float("nan"),
           "pit_tail_fraction": float(np.mean((p < 1e-3) | (p > 1 - 1e-3))) if p.size else float("nan")}
    if crps is not None:
        c = np.asarray(crps, float)
        out["crps"] = float(np.mean(c[np.isfinite(c)])) if np.isfinite(c).any() else float("nan")
    for name, (lo, hi) in (intervals or {}).items():
        out[f"coverage_{name}"] = interval_coverage(z_true, lo, hi)
    return out
