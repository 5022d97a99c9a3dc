"""``KLLRPhotoZ``: kernelised local linear regression photo-z as a scikit-learn regressor.

X is an (N, B) array of AB magnitudes in B bands ordered by wavelength, NaN where a band is not
observed or not detected; y the spectroscopic redshifts.  Or, the galfast way, a
:class:`~galfast.Photometry` (its bands and ``z``)::

    est = KLLRPhotoZ().fit(train_phot)              # y = train_phot.z, bands = train_phot.bands
    table = est.predict_table(target_phot)          # one row per input row, ids kept
    est.save("photoz.safetensors")

Features are the colours between adjacent usable bands, standardised with the training rows that
have those bands (see :mod:`galfast.redshift.patterns`); each target's k nearest neighbours in
that space give a local kernel ridge fit (RBF kernel, Cholesky, 3σ clip and refit) in the
compiled kernel ``galfast._ext.kllr``.  Algorithm: Kalná, Begley & Donnan (2024), extended to
missing bands.

Output (:meth:`KLLRPhotoZ.predict_table`): ``id, z_phot, z_phot_err, flags, bands_used,
n_bands_used, n_neighbours``; with ``pdf=True`` also ``z_mode, z_median, z_lo68, z_hi68, z_lo95,
z_hi95, z_odds`` from each object's p(z) (:mod:`galfast.redshift.pdf`: a Gaussian mixture built
from the neighbours' leave-one-out residuals; :meth:`KLLRPhotoZ.predict_pdf` returns the
mixtures, ``.to_qp()`` a qp Ensemble).  ``mag_features`` adds magnitudes to the colour features
with their own scale ``mag_scale`` (tuned by :func:`~galfast.redshift.tune_kllr` like k, λ, γ).  ``flags`` (int64) holds bits of the one registry,
:mod:`galfast.flags` (:data:`~galfast.redshift.engine.PHOTOZ_FLAGS` are those photo-z sets);
``bands_used`` (int64) is a separate bitmask of the bands each row was served from (bit j = band j
of ``bands_``, wavelength order), so a model holds at most :data:`MAX_BANDS` = 63 bands.
"""
from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .. import flags as _flags
from .._version import __version__
from ..errors import BandError, CatalogError, CatalogWarning, ModelFileError
from ..modelfile import ModelFileMixin
from ..photometry import Photometry
from ..validation import ParameterError, effective_n_jobs
from . import engine
from .engine import FLAG_BAD_VALUE, PHOTOZ_FLAGS
from .patterns import PatternIndex, popcount

__all__ = ["KLLRPhotoZ", "BandMismatchError", "TooManyBandsError", "DEFAULT_K", "DEFAULT_LAM",
           "DEFAULT_GAMMA", "SENTINELS", "MODEL_FORMAT", "MAX_BANDS", "OUTPUT_COLUMNS", "PDF_COLUMNS"]

#: defaults: tuned on the published protocol's training set (seed 0) with galfast.redshift.tuning
DEFAULT_K = 20
DEFAULT_LAM = 0.1
DEFAULT_GAMMA = 0.1
DEFAULT_MODE_WINDOW = 0.3
#: magnitude values that mean "no measurement" besides NaN/±inf
SENTINELS = (-99.0, 99.0)
#: the model-file kind (galfast.modelfile)
MODEL_FORMAT = "galfast.KLLRPhotoZ"
#: most bands a model may have: ``bands_used`` is an int64 with one bit per band (bit 63 is the sign)
MAX_BANDS = 63
#: columns of :meth:`KLLRPhotoZ.predict_table`, in order
OUTPUT_COLUMNS = ("id", "z_phot", "z_phot_err", "flags", "bands_used", "n_bands_used", "n_neighbours")
#: the columns ``predict_table(pdf=True)`` adds after them
PDF_COLUMNS = ("z_mode", "z_median", "z_lo68", "z_hi68", "z_lo95", "z_hi95", "z_odds")
_PDF_DESCRIPTIONS = {
    "z_mode": "mode of p(z)", "z_median": "median of p(z)",
    "z_lo68": "15.87 % quantile of p(z) (central 68 % interval)",
    "z_hi68": "84.13 % quantile of p(z) (central 68 % interval)",
    "z_lo95": "2.5 % quantile of p(z) (central 95 % interval)",
    "z_hi95": "97.5 % quantile of p(z) (central 95 % interval)",
    "z_odds": "probability of p(z) within ±0.06 (1 + z_mode) of z_mode"}


class BandMismatchError(BandError, ValueError):
    """Train and target band lists differ in number (also a ValueError, as scikit-learn expects)."""


class TooManyBandsError(BandError, ValueError):
    """More bands than :data:`MAX_BANDS` (the ``bands_used`` bitmask holds one bit per band)."""


def _clean_mags(X, sentinels, what: str):
    """Copy of X (float64) with ±inf and sentinel values set to NaN; also the (N, B) bad mask."""
    X = np.array(X, dtype=np.float64, copy=True)
    bad = np.isinf(X)
    for s in sentinels or ():
        bad |= X == s
    if bad.any():
        X[bad] = np.nan
    return X, bad


def _canonical(bands) -> tuple:
    from ..bands import expand_bands, resolve_band

    return tuple(resolve_band(b) for b in expand_bands(list(bands)))


def _check_band_order(bands, n_columns: int) -> tuple:
    """Canonical band names, after checking there is one per column and that they are known
    bands in wavelength order (colours are taken between adjacent columns); BandError names them."""
    from ..bands import sort_bands

    given = [str(b) for b in bands]
    canon = list(_canonical(given))
    if len(canon) != n_columns:
        raise BandError(f"{len(canon)} band names for {n_columns} magnitude columns")
    ordered = sort_bands(canon)
    if canon != ordered:
        wrong = [b for b, c, o in zip(given, canon, ordered) if c != o]
        raise BandError(f"bands {given} are not in wavelength order (out of place: {wrong}); "
                        f"order the magnitude columns as {ordered}")
    return tuple(canon)


def _check_missing_bands(missing_bands: str) -> str:
    if missing_bands not in ("error", "mask"):
        raise ParameterError(f"missing_bands must be 'error' or 'mask', got {missing_bands!r}")
    return missing_bands


class KLLRPhotoZ(ModelFileMixin, RegressorMixin, BaseEstimator):
    """Kernelised local linear regression photo-z (scikit-learn regressor).

    Parameters
    ----------
    k : int or None
        Neighbours per target (None: ``DEFAULT_K``, or every training row if fewer).
    lam : float or None
        Ridge regularisation λ of (K + λI)α = y (None: ``DEFAULT_LAM``).
    gamma : float or None
        RBF width γ of K = exp(−γ‖x − x′‖²) in standardised-colour units⁻² (None: ``DEFAULT_GAMMA``).
    center : bool
        Fit the kernel to y minus the neighbours' mean (True), or to y itself as in the paper
        (False; its prediction decays to 0 away from the neighbours).
    clip : float
        Neighbours with |residual| > clip·δ are dropped and the fit repeated (paper: 3).
    z_min : float or None
        Predictions below are clipped to it and flagged ``clipped_at_min`` (redshift: 0; None
        disables).
    mode_window : float or None
        Mode guard (beyond the paper): neighbours with |z − z_med|/(1 + z_med) > mode_window, z_med
        the kernel-weighted median of the neighbours' z, are dropped before the fit, so that a
        neighbourhood mixing two redshift solutions follows the dominant one.  None: off (paper).
    min_bands : int
        Targets with fewer usable bands get NaN and the flags too_few_bands | no_estimate.
    n_jobs : int or None
        Threads for the neighbour search and the kernel: None = 1, −1 = every core this process
        may use (:func:`galfast.validation.effective_n_jobs`).  Not saved with the model.
    mag_features : band names (or column numbers, for arrays without bands) or None
        Magnitudes appended to the colour features (standardised like them, times ``mag_scale``)
        in every band pattern that has them.  None: colours only (the paper).
    mag_scale : float or sequence of floats
        Scale of each magnitude feature relative to a standardised colour (one number for all, or
        one per feature); tuned by :func:`~galfast.redshift.tune_kllr` when ``mag_features`` is set.

    Attributes (fitted)
    -------------------
    bands_ : tuple of canonical band names (wavelength order) or None when fitted on an array
        without ``bands``; ``n_features_in_``; ``k_``, ``lam_``, ``gamma_`` (the values used);
    train_mags_, train_z_ : the usable training rows; ``n_excluded_`` : rows left out.
    """

    MODEL_KIND = MODEL_FORMAT
    STATE_VERSION = 2   # 2: mag_features / mag_scale (version-1 files load with colours only)

    def __init__(self, k=None, lam=None, gamma=None, *, center=True, clip=3.0, z_min=0.0,
                 mode_window=DEFAULT_MODE_WINDOW, min_bands=2, n_jobs=None, mag_features=None,
                 mag_scale=1.0):
        self.k = k
        self.lam = lam
        self.gamma = gamma
        self.center = center
        self.clip = clip
        self.z_min = z_min
        self.mode_window = mode_window
        self.min_bands = min_bands
        self.n_jobs = n_jobs
        self.mag_features = mag_features
        self.mag_scale = mag_scale

    # ------------------------------------------------------------------ fitting
    def _threads(self) -> int:
        """Threads this model runs with: ``effective_n_jobs(n_jobs)`` (None = 1, −1 = all cores)."""
        return effective_n_jobs(self.n_jobs)

    def _check_params(self):
        try:
            lam = DEFAULT_LAM if self.lam is None else float(self.lam)
            gamma = DEFAULT_GAMMA if self.gamma is None else float(self.gamma)
        except (TypeError, ValueError):
            raise ParameterError(f"lam and gamma must be numbers, got {self.lam!r}, {self.gamma!r}") from None
        if not np.isfinite(lam) or lam < 0:
            raise ParameterError(f"lam must be a finite number ≥ 0, got {self.lam!r}")
        if not np.isfinite(gamma) or gamma <= 0:
            raise ParameterError(f"gamma must be a finite number > 0, got {self.gamma!r}")
        if self.k is not None and (isinstance(self.k, bool) or int(self.k) != self.k or int(self.k) < 1):
            raise ParameterError(f"k must be a positive integer, got {self.k!r}")
        if not (self.clip > 0):
            raise ParameterError(f"clip must be > 0, got {self.clip!r}")
        if self.mode_window is not None and not (float(self.mode_window) > 0):
            raise ParameterError(f"mode_window must be > 0 or None, got {self.mode_window!r}")
        if int(self.min_bands) < 2:
            raise ParameterError(f"min_bands must be ≥ 2 (one colour), got {self.min_bands!r}")
        effective_n_jobs(self.n_jobs)
        if self.mag_features is not None:
            feats = [self.mag_features] if isinstance(self.mag_features, (str, int, np.integer)) \
                else list(self.mag_features)
            try:
                sc = np.broadcast_to(np.asarray(self.mag_scale, dtype=float), (len(feats),))
            except ValueError:
                raise ParameterError(f"mag_scale must be one number or one per magnitude feature "
                                     f"({len(feats)}), got {self.mag_scale!r}") from None
            if not np.all(np.isfinite(sc) & (sc > 0)):
                raise ParameterError(f"mag_scale must be finite and > 0, got {self.mag_scale!r}")
        return lam, gamma

    def _mag_feature_idx(self, bands, n_columns):
        """(indices, scales) of the magnitude features among the model's columns."""
        if self.mag_features is None:
            return (), ()
        feats = [self.mag_features] if isinstance(self.mag_features, (str, int, np.integer)) \
            else list(self.mag_features)
        idx = []
        for f in feats:
            if isinstance(f, (int, np.integer)) and not isinstance(f, bool):
                if not 0 <= int(f) < n_columns:
                    raise ParameterError(f"mag_features column {f} outside 0..{n_columns - 1}")
                idx.append(int(f))
                continue
            if bands is None:
                raise ParameterError(f"mag_features {feats} name bands, but the model was fitted "
                                     "without band names: give column numbers or bands=")
            name = _canonical([str(f)])[0]
            if name not in bands:
                raise BandError(f"mag_features band {f!r} is not one of the model's bands {list(bands)}")
            idx.append(list(bands).index(name))
        if len(set(idx)) != len(idx):
            raise ParameterError(f"mag_features {feats} repeat a band")
        sc = np.broadcast_to(np.asarray(self.mag_scale, dtype=float), (len(idx),))
        return tuple(idx), tuple(float(v) for v in sc)

    def fit(self, X, y=None, bands=None):
        """Fit on magnitudes X (N, B; NaN = missing) and redshifts y (N,), or on a
        :class:`~galfast.Photometry` (``y`` None: its ``z``; bands: its bands, or those of
        ``bands`` selected from it).

        Training rows with a non-finite or sentinel (−99) redshift, or fewer than ``min_bands``
        usable bands, are excluded with a :class:`~galfast.CatalogWarning` giving the count;
        ±inf and sentinel (±99) magnitudes are treated as missing.  ``bands`` (names, wavelength
        order) are stored as canonical names in ``bands_`` and checked against the targets'.
        More than :data:`MAX_BANDS` bands: :class:`TooManyBandsError` (a ValueError).
        """
        if isinstance(X, Photometry):
            phot = X if bands is None else X.select_bands(bands)
            if y is None:
                if phot.z is None:
                    raise ValueError("fit(photometry) needs redshifts: the Photometry has no z "
                                     "(give z_column= to Photometry.from_table, or pass y)")
                y = phot.z
            X, bands = phot.mag(), phot.bands
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        lam, gamma = self._check_params()
        X = validate_data(self, X, reset=True, dtype=np.float64, ensure_all_finite=False,
                          ensure_min_samples=1)
        if X.shape[1] < 2:
            raise ValueError(f"KLLRPhotoZ needs magnitudes in at least 2 bands (one colour); got "
                             f"{X.shape[1]} feature(s)")
        if X.shape[1] > MAX_BANDS:
            raise TooManyBandsError(f"KLLRPhotoZ takes at most {MAX_BANDS} bands (the bands_used "
                                    f"column is an int64 with one bit per band); got {X.shape[1]}")
        y = column_or_1d(y, warn=True)
        try:
            y = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"redshifts y must be numeric: {exc}") from None
        if len(y) != len(X):
            raise ValueError(f"{len(X)} rows of magnitudes but {len(y)} redshifts")
        if bands is not None:
            bands = _check_band_order(bands, X.shape[1])
        mags, bad = _clean_mags(X, SENTINELS, "training")
        n_bad = int(bad.sum())
        if n_bad:
            warnings.warn(f"{n_bad} training magnitudes (in {int(bad.any(axis=1).sum())} rows) were "
                          f"±inf or a sentinel {SENTINELS}: treated as missing bands",
                          CatalogWarning, stacklevel=2)
        bad_z = ~np.isfinite(y) | (y == -99.0)
        few = np.isfinite(mags).sum(axis=1) < int(self.min_bands)
        drop = bad_z | few
        if drop.any():
            warnings.warn(f"{int(drop.sum())} of {len(y)} training rows excluded: "
                          f"{int(bad_z.sum())} with a NaN/inf/−99 redshift, {int((few & ~bad_z).sum())} "
                          f"with fewer than {self.min_bands} usable bands", CatalogWarning, stacklevel=2)
        keep = ~drop
        if not keep.any():
            raise CatalogError(f"no usable training rows: all {len(y)} have a bad redshift or fewer "
                               f"than {self.min_bands} usable magnitudes")
        n_use = int(keep.sum())
        if self.k is None:
            k = min(DEFAULT_K, n_use)
        else:
            k = int(self.k)
            if k > n_use:
                raise ParameterError(f"k={k} is larger than the usable training set ({n_use} rows)")
        mag_idx, mag_scale = self._mag_feature_idx(bands, X.shape[1])
        self._set_fitted(np.ascontiguousarray(mags[keep]), np.ascontiguousarray(y[keep]), bands,
                         k, lam, gamma, int(drop.sum()), mag_idx, mag_scale)
        return self

    def _set_fitted(self, mags, z, bands, k, lam, gamma, n_excluded, mag_idx=(), mag_scale=()):
        self.n_features_in_ = mags.shape[1]
        self.train_mags_, self.train_z_ = mags, z
        self.bands_ = None if bands is None else tuple(bands)
        self.k_, self.lam_, self.gamma_ = int(k), float(lam), float(gamma)
        self.n_excluded_ = int(n_excluded)
        #: column numbers and scales of the magnitude features (empty: colours only)
        self.mag_idx_, self.mag_scale_ = tuple(mag_idx), tuple(mag_scale)
        self.index_ = PatternIndex(self.train_mags_, self.train_z_, mag_idx=self.mag_idx_,
                                   mag_scale=self.mag_scale_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        # X are magnitudes and only their differences (colours) are used, so a generic X → y
        # relation (as in scikit-learn's checks) is not recoverable; z_min = 0 clips negative y
        tags.regressor_tags.poor_score = True
        return tags

    # ------------------------------------------------------------------ prediction
    def _target_mags(self, X, bands):
        check_is_fitted(self, "index_")
        if bands is not None and self.bands_ is not None:
            given = tuple(str(b) for b in bands)
            if _canonical(given) != self.bands_:
                raise BandError(f"target bands {list(given)} differ from the training bands "
                                f"{list(self.bands_)} (same bands in the same wavelength order needed)")
        try:
            X = validate_data(self, X, reset=False, dtype=np.float64, ensure_all_finite=False)
        except ValueError as exc:
            if "features, but" not in str(exc):
                raise
            names = f" ({list(self.bands_)})" if self.bands_ is not None else ""
            raise BandMismatchError(f"{exc} The targets' magnitude columns must be the training "
                                    f"bands{names}, in the same wavelength order") from None
        return _clean_mags(X, SENTINELS, "target")

    def _photometry_mags(self, phot: Photometry, missing_bands: str):
        """(N, B) magnitudes of a Photometry in the model's bands (NaN where unusable); bands the
        photometry lacks: BandError naming them, or all-NaN columns with ``missing_bands="mask"``."""
        check_is_fitted(self, "index_")
        _check_missing_bands(missing_bands)
        if self.bands_ is None:
            raise BandError("this model was fitted on an array without band names, so it cannot "
                            "match a Photometry's bands; fit it with bands=[…] or on a Photometry, "
                            "or pass magnitudes (predict_full(X))")
        lacking = [b for b in self.bands_ if b not in phot.bands]
        if lacking and missing_bands != "mask":
            raise BandError(f"the photometry lacks band(s) {lacking} that the model was trained on "
                            f"(it has {list(phot.bands)}); pass missing_bands='mask' (command line: "
                            "--missing-bands mask) to treat them as not observed")
        m = phot.mag()
        mags = np.full((len(phot), len(self.bands_)), np.nan)
        for j, b in enumerate(self.bands_):
            if b not in lacking:
                mags[:, j] = m[:, phot.bands.index(b)]
        return _clean_mags(mags, SENTINELS, "target")

    def predict_full(self, X, bands=None, errors: bool = True, *, missing_bands: str = "error",
                     pdf: bool = False) -> dict:
        """Everything per target row, in input order, as arrays: ``z``, ``z_err``, ``flags`` (int64,
        :mod:`galfast.flags` bits), ``bands_used`` (int64; bit j = band j of the model's bands,
        wavelength order), ``n_bands_used`` and ``n_neighbours`` (after the clip).

        X : (N, B) magnitudes in the model's bands, or a :class:`~galfast.Photometry` (its bands
            are matched to the model's by name; ``missing_bands`` as in :meth:`predict_table`).
        A target whose bands fewer than k training rows share is served from fewer bands (flag
        ``bands_dropped``).  ``errors=False`` skips z_err (NaN), which saves about a third of the
        kernel's time at large k.  ``pdf=True`` adds ``pdf`` (a
        :class:`~galfast.redshift.pdf.PhotoZPDF`) and the summaries of :data:`PDF_COLUMNS`."""
        if isinstance(X, Photometry):
            mags, bad = self._photometry_mags(X, missing_bands)
        else:
            mags, bad = self._target_mags(X, bands)
        threads = self._threads()
        groups, codes = engine.prepare_groups(self.index_, mags, self.k_, min_bands=int(self.min_bands),
                                              threads=threads)
        res = engine.predict_groups(groups, len(mags), self.k_, self.lam_, self.gamma_,
                                    clip=float(self.clip), center=bool(self.center),
                                    z_min=self.z_min, mode_window=self.mode_window,
                                    threads=threads, errors=errors, pdf=bool(pdf))
        z, e, flags, nn = res[:4]
        flags |= np.where(bad.any(axis=1), FLAG_BAD_VALUE, 0)
        out = {"z": z, "z_err": e, "flags": flags, "bands_used": np.asarray(codes, dtype=np.int64),
               "n_bands_used": popcount(codes).astype(np.int16), "n_neighbours": nn}
        if pdf:
            from .pdf import PhotoZPDF

            mu, w, sig, summ = res[4:]
            out["pdf"] = PhotoZPDF(mu, w, sig)
            for j, name in enumerate(PDF_COLUMNS):
                out[name] = summ[:, j]
        return out

    def predict_pdf(self, X, bands=None, *, missing_bands: str = "error"):
        """Each target's p(z) as a :class:`~galfast.redshift.pdf.PhotoZPDF` (Gaussian mixtures;
        ``.to_qp()`` gives a qp Ensemble, ``.pit(z)``/``.crps(z)`` score it); X as in
        :meth:`predict_full`."""
        return self.predict_full(X, bands, missing_bands=missing_bands, pdf=True)["pdf"]

    def predict(self, X, return_std=False, bands=None):
        """Photo-z of magnitudes X (N, B); with ``return_std`` also the 1σ error (RMS of the
        neighbours' leave-one-out residuals).  NaN where no estimate is possible."""
        r = self.predict_full(X, bands, errors=bool(return_std))
        return (r["z"], r["z_err"]) if return_std else r["z"]

    def to_photometry(self, table, *, column_map=None, id_column="auto", z_column=None,
                      row_offset: int = 0, missing_bands: str = "error") -> Photometry:
        """The model's bands of an astropy Table as Photometry (:meth:`Photometry.from_table`);
        with ``missing_bands="mask"`` only the bands the table has columns for (the others are
        then served as not observed by :meth:`predict_table`)."""
        from ..photometry import bands_in_table, column_map_in_table

        check_is_fitted(self, "index_")
        _check_missing_bands(missing_bands)
        if self.bands_ is None:
            raise BandError("this model has no band names (fitted on plain arrays without bands=); "
                            "it cannot read a table")
        column_map = column_map_in_table(column_map, table.colnames)
        bands = self.bands_ if missing_bands == "error" else bands_in_table(table, self.bands_, column_map)
        return Photometry.from_table(table, bands, column_map=column_map, id_column=id_column,
                                     z_column=z_column, row_offset=row_offset)

    def predict_table(self, phot, *, missing_bands: str = "error", pdf: bool = False):
        """The output contract: an astropy Table with one row per row of ``phot``, in its order.

        phot : a :class:`~galfast.Photometry` (an astropy Table is read with
            ``Photometry.from_table(table, bands_)``) holding the model's bands; extra bands are
            ignored.  Bands it lacks: :class:`~galfast.BandError` naming them, unless
            ``missing_bands="mask"``, which serves them as not observed in every row (flag
            missing_bands), as ``PropertyRegressor.predict`` does.

        Columns: ``id`` (phot.ids), ``z_phot``, ``z_phot_err`` (NaN: no estimate), ``flags``
        (int64, :mod:`galfast.flags` bits), ``bands_used`` (int64 bitmask: bit j = ``bands_[j]``),
        ``n_bands_used``, ``n_neighbours``; ``meta["galfast_model"]`` = "galfast.KLLRPhotoZ",
        ``meta["bands"]`` = the bands of the bitmask.  ``pdf=True`` adds the p(z) summaries
        :data:`PDF_COLUMNS` (``z_mode, z_median, z_lo68, z_hi68, z_lo95, z_hi95, z_odds``).
        """
        from astropy.table import Column, Table

        if not isinstance(phot, Photometry):
            if isinstance(phot, Table):
                phot = self.to_photometry(phot, missing_bands=missing_bands)
            else:
                raise TypeError(f"predict_table takes a galfast.Photometry (or an astropy Table), not "
                                f"{type(phot).__name__}; for magnitude arrays use predict_full(X)")
        r = self.predict_full(phot, missing_bands=missing_bands, pdf=pdf)
        t = Table(meta={"galfast_model": self.MODEL_KIND, "bands": list(self.bands_)})
        t["id"] = phot.ids
        t["z_phot"] = Column(r["z"], description="photometric redshift (NaN: no estimate)")
        t["z_phot_err"] = Column(r["z_err"], description="1σ error of z_phot: RMS of the neighbours' "
                                                          "leave-one-out residuals")
        t[_flags.COLUMN] = Column(r["flags"].astype(_flags.DTYPE),
                                  description=_flags.column_description(PHOTOZ_FLAGS))
        t["bands_used"] = Column(r["bands_used"], description="bands the estimate used: bit j = band j "
                                 "of " + ", ".join(self.bands_))
        t["n_bands_used"] = Column(r["n_bands_used"], description="number of bands used")
        t["n_neighbours"] = Column(r["n_neighbours"], description="training neighbours in the final fit")
        if pdf:
            for name in PDF_COLUMNS:
                t[name] = Column(r[name], description=_PDF_DESCRIPTIONS[name] + " (NaN: no estimate)")
        return t

    # ------------------------------------------------------------------ persistence
    def to_state(self):
        """(meta, arrays) for :mod:`galfast.modelfile`: the usable training rows as arrays; the
        parameters (``n_jobs`` excepted), k_, λ_, γ_, bands and counts as metadata."""
        check_is_fitted(self, "index_")
        params = {key: v for key, v in self.get_params().items() if key != "n_jobs"}
        if params.get("mag_features") is not None:   # JSON: plain lists of str / int / float
            f = params["mag_features"]
            f = [f] if isinstance(f, (str, int, np.integer)) else list(f)
            params["mag_features"] = [int(v) if isinstance(v, (int, np.integer)) else str(v) for v in f]
        sc = np.asarray(params.get("mag_scale", 1.0), dtype=float)
        params["mag_scale"] = float(sc) if sc.ndim == 0 else [float(v) for v in sc]
        meta = {"params": params, "k_": self.k_, "lam_": self.lam_, "gamma_": self.gamma_,
                "bands": list(self.bands_) if self.bands_ is not None else None,
                "n_train": int(len(self.train_z_)), "n_excluded": self.n_excluded_,
                "mag_idx": list(self.mag_idx_), "mag_scale": list(self.mag_scale_)}
        return meta, {"train_mags": self.train_mags_, "train_z": self.train_z_}

    @classmethod
    def from_state(cls, meta, arrays) -> "KLLRPhotoZ":
        mags = np.ascontiguousarray(arrays["train_mags"], dtype=np.float64)
        z = np.ascontiguousarray(arrays["train_z"], dtype=np.float64)
        if mags.ndim != 2 or z.shape != (mags.shape[0],) or mags.shape[0] != int(meta["n_train"]):
            raise ValueError(f"training arrays are inconsistent with the metadata ({mags.shape}, "
                             f"{z.shape}, n_train={meta['n_train']})")
        bands = meta["bands"]
        if bands is not None and len(bands) != mags.shape[1]:
            raise ValueError(f"{len(bands)} band names for {mags.shape[1]} magnitude columns")
        est = cls(**meta["params"])
        mag_idx, mag_scale = meta.get("mag_idx", []), meta.get("mag_scale", [])
        if len(mag_idx) != len(mag_scale) or any(not 0 <= int(j) < mags.shape[1] for j in mag_idx):
            raise ValueError(f"magnitude features {mag_idx} (scales {mag_scale}) do not fit "
                             f"{mags.shape[1]} magnitude columns")
        est._set_fitted(mags, z, bands, meta["k_"], meta["lam_"], meta["gamma_"], meta["n_excluded"],
                        tuple(int(j) for j in mag_idx), tuple(float(v) for v in mag_scale))
        return est

    def save(self, path) -> Path:
        """Write the fitted model to one file (safetensors + JSON metadata + checksum, see
        :mod:`galfast.modelfile`; name it ``*.safetensors``); returns the path."""
        return super().save(path)

    @classmethod
    def load(cls, path) -> "KLLRPhotoZ":
        """Read a model written by :meth:`save` (by any galfast version with the same or an older
        model-file format); :class:`~galfast.ModelFileError` naming the file if it is not one, is
        truncated or corrupted, holds another kind of model, or has a newer format."""
        path = Path(path)
        if path.is_file() and zipfile.is_zipfile(path):
            raise ModelFileError(f"{path} is a zip/.npz file, not a galfast model file; photo-z models "
                                 f"saved by galfast before the model-file layer were .npz files, which "
                                 f"galfast {__version__} does not read: refit and save again "
                                 "(as .safetensors)")
        return super().load(path)
