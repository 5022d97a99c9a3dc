"""The prediction engine shared by the estimator and the tuner: group targets by pattern of usable
bands, find their neighbours once, then run the compiled kernel (``galfast._ext.kllr``).

Neighbour lists are computed for a ``k_max`` and reused for any k ≤ k_max (the tree returns them
nearest first), which is what makes tuning cheap: one query per fold, one kernel call per trial.

Flags: the bits are those of the one registry, :mod:`galfast.flags` (the column ``flags``,
int64, the same in every galfast output).  The compiled kernel sets the first five
(extrapolation, clipped_at_min, neighbours_clipped, no_estimate, mode_guard) itself, with the
registry's values; this module adds missing_bands, few_neighbours, too_few_bands and
bands_dropped, the estimator bad_value.  The bands each row was served from are *not* in the
flags: :func:`prepare_groups` returns them as an int64 bitmask (band j of the model's bands, in
wavelength order → bit j), the ``bands_used`` column of the output.  The ``FLAG_*`` names below
are aliases of the registry's constants, kept for existing code.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import flags as _flags
from .patterns import PatternIndex, PatternModel, kernel_module, pattern_codes, popcount

__all__ = ["FLAG_EXTRAPOLATION", "FLAG_CLIPPED_AT_ZERO", "FLAG_CLIPPED_AT_MIN", "FLAG_NEIGHBOURS_CLIPPED",
           "FLAG_NO_ESTIMATE", "FLAG_MODE_GUARD", "FLAG_MISSING_BANDS", "FLAG_FEW_NEIGHBOURS",
           "FLAG_TOO_FEW_BANDS", "FLAG_BAD_VALUE", "FLAG_BANDS_DROPPED", "PHOTOZ_FLAGS", "FLAG_NAMES",
           "Group", "served_pattern", "prepare_groups", "predict_groups", "describe_flags"]

# aliases of the registry's constants (galfast.flags defines every value once)
FLAG_EXTRAPOLATION = _flags.EXTRAPOLATION
FLAG_CLIPPED_AT_MIN = _flags.CLIPPED_AT_MIN
FLAG_CLIPPED_AT_ZERO = _flags.CLIPPED_AT_MIN   # the old name: z_min is 0 by default
FLAG_NEIGHBOURS_CLIPPED = _flags.NEIGHBOURS_CLIPPED
FLAG_NO_ESTIMATE = _flags.NO_ESTIMATE
FLAG_MODE_GUARD = _flags.MODE_GUARD
FLAG_MISSING_BANDS = _flags.MISSING_BANDS
FLAG_FEW_NEIGHBOURS = _flags.FEW_NEIGHBOURS
FLAG_TOO_FEW_BANDS = _flags.TOO_FEW_BANDS
FLAG_BAD_VALUE = _flags.BAD_VALUE
FLAG_BANDS_DROPPED = _flags.BANDS_DROPPED

#: the registry bits a photo-z row can carry, in bit order
PHOTOZ_FLAGS = (FLAG_EXTRAPOLATION, FLAG_CLIPPED_AT_MIN, FLAG_NEIGHBOURS_CLIPPED, FLAG_NO_ESTIMATE,
                FLAG_MODE_GUARD, FLAG_MISSING_BANDS, FLAG_FEW_NEIGHBOURS, FLAG_TOO_FEW_BANDS,
                FLAG_BAD_VALUE, FLAG_BANDS_DROPPED)
#: value → registry name of those bits
FLAG_NAMES = {v: _flags.FLAGS[v].name for v in PHOTOZ_FLAGS}


def describe_flags(flag: int) -> list[str]:
    """Names of the bits set in one flags value (:func:`galfast.flags.describe`)."""
    return _flags.describe(flag)


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
    per group (``threads``: the effective n_jobs).  Returns (groups, codes), codes the (N,) int64
    bitmask of the bands actually used (band j → bit j: the ``bands_used`` column)."""
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
                   mode_window=None, threads: int = 1, errors: bool = True, pdf: bool = False,
                   odds_dz: float = 0.06):
    """Run the compiled kernel on every group with the first ``k`` neighbours (``mode_window``:
    the kernel's mode guard ``tau``, None = off; ``errors=False``: no z_err, faster).

    Returns (z, z_err, flags int64, n_neighbours int32) for the ``n`` targets; with ``pdf`` also
    (mu (n, k), w (n, k), sigma (n,), summary (n, 7)): each target's p(z) mixture and its mode,
    median, 16/84 %, 2.5/97.5 % quantiles and odds (see :mod:`galfast.redshift.pdf`).
    """
    z = np.full(n, np.nan)
    e = np.full(n, np.nan)
    flags = np.zeros(n, dtype=np.int64)
    nn = np.zeros(n, dtype=np.int32)
    # one group serving every row in order (the common case): the kernel's arrays are the output
    whole = (pdf and len(groups) == 1 and groups[0].model is not None and len(groups[0].rows) == n
             and groups[0].idx.shape[1] >= k and np.array_equal(groups[0].rows, np.arange(n)))
    if pdf and not whole:
        mu = np.full((n, k), np.nan)
        w = np.zeros((n, k))
        sig = np.full(n, np.nan)
        summ = np.full((n, 7), np.nan)
    zmin = -np.inf if z_min is None else float(z_min)
    tau = 0.0 if mode_window is None else float(mode_window)
    kllr_predict = kernel_module().kllr_predict
    for g in groups:
        if g.model is None:
            flags[g.rows] |= g.flags
            continue
        kk = min(k, g.idx.shape[1])
        if pdf:
            zz, ee, ff, nu, gm, gw, gs, gsum = kllr_predict(
                g.model.X, g.model.y, g.F, g.idx, kk, lam, gamma, clip, center, zmin, tau, threads,
                errors, True, float(odds_dz))
            if whole:
                mu, w, sig, summ = gm, gw, gs, gsum
            else:
                mu[g.rows, :kk] = gm
                w[g.rows, :kk] = gw
                sig[g.rows] = gs
                summ[g.rows] = gsum
        else:
            zz, ee, ff, nu = kllr_predict(g.model.X, g.model.y, g.F, g.idx, kk, lam, gamma, clip,
                                          center, zmin, tau, threads, errors)
        z[g.rows] = zz
        e[g.rows] = ee
        flags[g.rows] = ff.astype(np.int64) | g.flags | (FLAG_FEW_NEIGHBOURS if kk < k else 0)
        nn[g.rows] = nu
    if pdf:
        return z, e, flags, nn, mu, w, sig, summ
    return z, e, flags, nn
