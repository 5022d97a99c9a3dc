"""Accuracy metrics for photo-z and property estimates.

Photo-z: dz = (z_phot − z_spec) / (1 + z_spec); σ_NMAD = 1.4826 · median(|dz − median(dz)|);
outliers |dz| > 0.15.  Properties: σ, bias, outlier fraction, r².  Uncertainties: coverage of
1σ/2σ intervals and the normalised-residual histogram.  Non-finite predictions are counted,
never silently dropped: every function reports ``n_missing``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["photoz_dz", "sigma_nmad", "outlier_fraction", "photoz_metrics", "regression_metrics",
           "coverage", "normalised_residuals", "binned_metrics", "OUTLIER_DZ"]

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
