"""The prediction engine shared by the estimator and the tuner: group targets by pattern of usable
bands, find their neighbours once, then run the compiled kernel (``galfast._ext.kllr``).

Neighbour lists are computed for a ``k_max`` and reused for any k ≤ k_max (the tree returns them
nearest first), which is what makes tuning cheap: one query per fold, one kernel call per trial.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .patterns import PatternIndex, PatternModel, kernel_module, pattern_codes, popcount

__all__ = ["FLAG_EXTRAPOLATION", "FLAG_CLIPPED_AT_ZERO", "FLAG_NEIGHBOURS_CLIPPED",
           "FLAG_NO_ESTIMATE", "FLAG_MODE_GUARD", "FLAG_MISSING_BANDS", "FLAG_FEW_NEIGHBOURS", "FLAG_TOO_FEW_BANDS",
           "FLAG_BAD_VALUE", "FLAG_BANDS_DROPPED", "BANDS_SHIFT", "FLAG_NAMES", "default_threads", "Group",
           "served_pattern", "prepare_groups", "predict_groups", "describe_flags"]

#: target outside the bounding box of its neighbours in some colour
FLAG_EXTRAPOLATION = 1
#: prediction was below z_min (0) and was clipped to it
FLAG_CLIPPED_AT_ZERO = 2
#: some neighbours had |residual| > clip·δ and were dropped before the refit
FLAG_NEIGHBOURS_CLIPPED = 4
#: no estimate (z, z_err NaN): too few bands, no training row with those bands, or a failed solve
FLAG_NO_ESTIMATE = 8
#: the mode guard dropped neighbours from another redshift mode (|Δz|/(1+z_med) > mode_window)
FLAG_MODE_GUARD = 16
#: some of the model's bands were not usable (not observed, not detected, or bad value)
FLAG_MISSING_BANDS = 32
#: fewer training rows have this pattern of bands than k; all of them were used
FLAG_FEW_NEIGHBOURS = 64
#: fewer than ``min_bands`` usable bands
FLAG_TOO_FEW_BANDS = 128
#: an input magnitude was ±inf or a sentinel (e.g. ±99) and was treated as missing
FLAG_BAD_VALUE = 256
#: the target had bands that too few training rows have; they were left out (see served_pattern)
FLAG_BANDS_DROPPED = 512
#: bits ≥ BANDS_SHIFT of the flags hold the bands used: band j (wavelength order) → bit 16 + j
BANDS_SHIFT = 16

FLAG_NAMES = {FLAG_EXTRAPOLATION: "extrapolation", FLAG_CLIPPED_AT_ZERO: "clipped_at_zero",
              FLAG_NEIGHBOURS_CLIPPED: "neighbours_clipped", FLAG_NO_ESTIMATE: "no_estimate",
              FLAG_MODE_GUARD: "mode_guard",
              FLAG_MISSING_BANDS: "missing_bands", FLAG_FEW_NEIGHBOURS: "few_neighbours",
              FLAG_TOO_FEW_BANDS: "too_few_bands", FLAG_BAD_VALUE: "bad_value",
              FLAG_BANDS_DROPPED: "bands_dropped"}


def describe_flags(flag: int) -> list[str]:
    """Names of the condition bits set in one flag value."""
    return [name for bit, name in FLAG_NAMES.items() if int(flag) & bit]


def default_threads() -> int:
    """Threads for the kernel and tree queries: $OMP_NUM_THREADS if set, else os.cpu_count()."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    try:
        n = int(env.split(",")[0]) if env else 0
    except ValueError:
        n = 0
    return max(1, n or (os.cpu_count() or 1))


@dataclass
class Group:
    """Targets sharing one pattern of usable bands, with their neighbour lists."""

    rows: np.ndarray            # target row numbers
    model: PatternModel | None  # None: no estimate possible
    F: np.ndarray | None        # standardised colour features (n, d)
    idx: np.ndarray | None      # neighbour indices (n, k_max) into model.X
    flags: int                  # condition bits common to the group


def served_pattern(index: PatternIndex, code: int, k: int, min_bands: int = 2) -> int:
    """The bands a target with usable bands ``code`` is predicted from: ``code`` itself when at
    least ``k`` training rows have all of them; otherwise bands are dropped one at a time, each
    time the one whose removal leaves the most training rows, until k rows serve the pattern or
    only ``min_bands`` bands remain (a band no training row has is never kept)."""
    code = int(code)
    n = index.n_covering(code)
    while n < k and bin(code).count("1") > min_bands:
        best = None
        for j in range(index.mags.shape[1]):
            if (code >> j) & 1:
                c = index.n_covering(code & ~(1 << j))
                if best is None or c > best[0]:
                    best = (c, j)
        code &= ~(1 << best[1])
        n = best[0]
    return code


def prepare_groups(index: PatternIndex, mags: np.ndarray, k_max: int, *, min_bands: int = 2,
                   threads: int = 1) -> tuple[list[Group], np.ndarray]:
    """Group target magnitudes (N, B; NaN = unusable) by pattern of usable bands, choose the
    bands each pattern is served from (:func:`served_pattern`) and query k_max neighbours once
    per group.  Returns (groups, codes), codes the (N,) bitmask of the bands actually used."""
    codes = pattern_codes(np.isfinite(mags))
    full = (1 << mags.shape[1]) - 1
    groups = []
    used = codes.copy()
    uniq, inverse = np.unique(codes, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(uniq) + 1))
    nb = popcount(uniq)
    for g, code in enumerate(uniq):
        rows = order[bounds[g]:bounds[g + 1]]
        flags = FLAG_MISSING_BANDS if int(code) != full else 0
        if nb[g] < min_bands:
            groups.append(Group(rows, None, None, None, flags | FLAG_TOO_FEW_BANDS | FLAG_NO_ESTIMATE))
            continue
        serve = served_pattern(index, int(code), k_max, min_bands)
        if serve != int(code):
            flags |= FLAG_BANDS_DROPPED | FLAG_MISSING_BANDS
            used[rows] = serve
        model = index.model(serve)
        if model.n_train == 0:
            groups.append(Group(rows, None, None, None, flags | FLAG_NO_ESTIMATE))
            continue
        k = min(k_max, model.n_train)
        F = model.features(mags[rows])
        groups.append(Group(rows, model, F, model.neighbours(F, k, threads), flags))
    return groups, used


def predict_groups(groups: list[Group], n: int, k: int, lam: float, gamma: float, *,
                   clip: float = 3.0, center: bool = True, z_min: float = 0.0,
                   mode_window=None, threads: int = 1, errors: bool = True):
    """Run the compiled kernel on every group with the first ``k`` neighbours (``mode_window``:
    the kernel's mode guard ``tau``, None = off; ``errors=False``: no z_err, faster).

    Returns (z, z_err, flags int64, n_neighbours int32) for the ``n`` targets.
    """
    z = np.full(n, np.nan)
    e = np.full(n, np.nan)
    flags = np.zeros(n, dtype=np.int64)
    nn = np.zeros(n, dtype=np.int32)
    zmin = -np.inf if z_min is None else float(z_min)
    tau = 0.0 if mode_window is None else float(mode_window)
    kllr_predict = kernel_module().kllr_predict
    for g in groups:
        if g.model is None:
            flags[g.rows] |= g.flags
            continue
        kk = min(k, g.idx.shape[1])
        zz, ee, ff, nu = kllr_predict(g.model.X, g.model.y, g.F, g.idx, kk, lam, gamma, clip,
                                      center, zmin, tau, threads, errors)
        z[g.rows] = zz
        e[g.rows] = ee
        flags[g.rows] = ff.astype(np.int64) | g.flags | (FLAG_FEW_NEIGHBOURS if kk < k else 0)
        nn[g.rows] = nu
    return z, e, flags, nn
