"""The lean per-object NumPy loop of kernelised local linear regression (the speed baseline).

Same algorithm as the compiled kernel ``galfast._ext.kllr`` (see csrc/kllr.pyx): brute-force
Euclidean distances to every training row, the k nearest, RBF kernel, ``np.linalg.solve`` for
α = (K + λI)⁻¹ y, 3σ clip of the neighbours' residuals and a refit, z = κ·α clipped at ``z_min``,
the RMS leave-one-out residual α_i/(A⁻¹)_ii as the error, the bounding-box extrapolation flag, and
the optional mode guard (κ-weighted median, neighbours beyond ``tau``·(1+z_med) dropped).
One Python iteration per target: this is what "a lean NumPy loop" costs per object.
"""
from __future__ import annotations

import numpy as np


def kllr_one(X, y, x, k, lam, gamma, clip=3.0, center=False, z_min=-np.inf, tau=0.0):
    """(z, z_err, flags, n_used) for one target ``x`` (standardised features) from ``X, y``."""
    d2 = np.sum((X - x) ** 2, axis=1)
    nb = np.argpartition(d2, k - 1)[:k] if k < len(X) else np.arange(len(X))
    nb = nb[np.argsort(d2[nb], kind="stable")]
    Xn, yn = X[nb], y[nb]
    kap = np.exp(-gamma * np.sum((Xn - x) ** 2, axis=1))
    flags = 1 if np.any((x < Xn.min(axis=0)) | (x > Xn.max(axis=0))) else 0
    if tau > 0 and len(yn) > 1:  # mode guard: κ-weighted median, drop the other redshift modes
        w = kap if kap.sum() > 0 else np.ones_like(kap)
        o = np.argsort(yn, kind="stable")
        zmed = yn[o][min(np.searchsorted(np.cumsum(w[o] / w.sum()), 0.5), len(yn) - 1)]
        keep = np.abs(yn - zmed) <= tau * (1 + abs(zmed))
        if not keep.all():
            flags |= 16
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
        flags |= 4
        K, kap, yc = K[np.ix_(keep, keep)], kap[keep], yc[keep]
        I = np.eye(len(yc))
        alpha = np.linalg.solve(K + lam * I, yc)
    z = c + kap @ alpha
    if z < z_min:
        z, flags = z_min, flags | 2
    loo = alpha / np.diag(np.linalg.inv(K + lam * I))
    return z, float(np.sqrt(np.mean(loo ** 2))), flags, len(yc)


def kllr_loop(X, y, Q, k, lam, gamma, **kw):
    """Predict every row of ``Q`` in a Python loop; returns (z, z_err, flags, n_used) arrays."""
    out = [kllr_one(X, y, q, k, lam, gamma, **kw) for q in np.asarray(Q, dtype=float)]
    z, e, f, n = (np.array(v) for v in zip(*out)) if out else ([],) * 4
    return np.asarray(z, float), np.asarray(e, float), np.asarray(f, np.int32), np.asarray(n, np.int32)
