"""Lean references the photo-z tests compare against (and the bench scripts time against).

``kllr_one`` / ``kllr_loop``: the per-object NumPy loop of kernelised local linear regression,
the same algorithm as the compiled kernel ``galfast._ext.kllr`` (csrc/kllr.pyx): brute-force
Euclidean distances to every training row, the k nearest, RBF kernel, ``np.linalg.solve`` for
α = (K + λI)⁻¹ y, 3σ clip of the neighbours' residuals and a refit, z = κ·α clipped at ``z_min``,
the RMS leave-one-out residual α_i/(A⁻¹)_ii as the error, the bounding-box extrapolation flag, and
the optional mode guard (κ-weighted median, neighbours beyond ``tau``·(1+z_med) dropped).  Flags
are the :mod:`galfast.flags` bits the kernel sets.  One Python iteration per target: this is what
"a lean NumPy loop" costs per object (bench/ratios_photoz.py).

``analytic``: magnitudes whose colours determine z through a known smooth function (no noise).

Bench scripts load this file with ``bench/common.py``'s ``photoz_reference()``.
"""
from __future__ import annotations

import numpy as np

from galfast import flags

__all__ = ["kllr_one", "kllr_loop", "analytic"]


def kllr_one(X, y, x, k, lam, gamma, clip=3.0, center=False, z_min=-np.inf, tau=0.0):
    """(z, z_err, flags, n_used) for one target ``x`` (standardised features) from ``X, y``."""
    d2 = np.sum((X - x) ** 2, axis=1)
    nb = np.argpartition(d2, k - 1)[:k] if k < len(X) else np.arange(len(X))
    nb = nb[np.argsort(d2[nb], kind="stable")]
    Xn, yn = X[nb], y[nb]
    kap = np.exp(-gamma * np.sum((Xn - x) ** 2, axis=1))
    f = flags.EXTRAPOLATION if np.any((x < Xn.min(axis=0)) | (x > Xn.max(axis=0))) else 0
    if tau > 0 and len(yn) > 1:  # mode guard: κ-weighted median, drop the other redshift modes
        w = kap if kap.sum() > 0 else np.ones_like(kap)
        o = np.argsort(yn, kind="stable")
        zmed = yn[o][min(np.searchsorted(np.cumsum(w[o] / w.sum()), 0.5), len(yn) - 1)]
        keep = np.abs(yn - zmed) <= tau * (1 + abs(zmed))
        if not keep.all():
            f |= flags.MODE_GUARD
            Xn, yn, kap = Xn[keep], yn[keep], kap[keep]
    c = yn.mean() if center else 0.0
    yc = yn - c
    K = np.exp(-gamma * np.sum((Xn[:, None, :] - Xn[None, :, :]) ** 2, axis=-1))
    I = np.eye(len(yn))
    alpha = np.linalg.solve(K + lam * I, yc)
    r = yc - K @ alpha
    delta = np.sqrt(np.mean(r ** 2))
    keep = np.abs(r) <= clip * delta
    if 0 < keep.sum() < len(keep):
        f |= flags.NEIGHBOURS_CLIPPED
        K, kap, yc = K[np.ix_(keep, keep)], kap[keep], yc[keep]
        I = np.eye(len(yc))
        alpha = np.linalg.solve(K + lam * I, yc)
    z = c + kap @ alpha
    if z < z_min:
        z, f = z_min, f | flags.CLIPPED_AT_MIN
    loo = alpha / np.diag(np.linalg.inv(K + lam * I))
    return z, float(np.sqrt(np.mean(loo ** 2))), f, len(yc)


def kllr_loop(X, y, Q, k, lam, gamma, **kw):
    """Predict every row of ``Q`` in a Python loop; returns (z, z_err, flags, n_used) arrays."""
    out = [kllr_one(X, y, q, k, lam, gamma, **kw) for q in np.asarray(Q, dtype=float)]
    z, e, f, n = (np.array(v) for v in zip(*out)) if out else ([],) * 4
    return np.asarray(z, float), np.asarray(e, float), np.asarray(f, np.int32), np.asarray(n, np.int32)


def analytic(rng, n, n_bands=5):
    """(mags (n, n_bands), z): the n_bands − 1 adjacent colours, uniform in [−1, 1], set
    z = 1.5 + 0.8 sin(1.5 c₀) + 0.5 c₁² + 0.3 c₂ c₃ (+ 0.05 Σ c_j for any further colours)."""
    c = rng.uniform(-1, 1, (n, n_bands - 1))
    z = 1.5 + 0.8 * np.sin(1.5 * c[:, 0]) + 0.5 * c[:, 1] ** 2 + 0.3 * c[:, 2] * c[:, 3]
    if n_bands > 5:
        z = z + 0.05 * c[:, 4:].sum(axis=1)
    m0 = rng.uniform(24, 27, n)
    return np.c_[m0, m0[:, None] + np.cumsum(c, axis=1)], z
