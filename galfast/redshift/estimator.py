"""``KLLRPhotoZ``: kernelised local linear regression photo-z as a scikit-learn regressor.

X is an (N, B) array of AB magnitudes in B bands ordered by wavelength, NaN where a band is not
observed or not detected; y the spectroscopic redshifts.  Features are the colours between
adjacent usable bands, standardised with the training rows that have those bands (see
:mod:`galfast.redshift.patterns`); each target's k nearest neighbours in that space give a local
kernel ridge fit (RBF kernel, Cholesky, 3σ clip and refit) in the compiled kernel
``galfast._ext.kllr``.  Algorithm: Kalná, Begley & Donnan (2024), extended to missing bands.
"""
from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .._version import __version__
from ..errors import BandError, CatalogError, CatalogWarning, ModelFileError
from .engine import (BANDS_SHIFT, FLAG_BAD_VALUE, default_threads, predict_groups,
                     prepare_groups)
from .patterns import PatternIndex, popcount

__all__ = ["KLLRPhotoZ", "BandMismatchError", "DEFAULT_K", "DEFAULT_LAM", "DEFAULT_GAMMA", "SENTINELS", "MODEL_FORMAT"]

#: defaults: tuned on the published protocol's training set (seed 0) with galfast.redshift.tuning
DEFAULT_K = 20
DEFAULT_LAM = 0.1
DEFAULT_GAMMA = 0.1
DEFAULT_MODE_WINDOW = 0.3
#: magnitude values that mean "no measurement" besides NaN/±inf
SENTINELS = (-99.0, 99.0)
MODEL_FORMAT = "galfast.KLLRPhotoZ"
_FORMAT_VERSION = 1


class BandMismatchError(BandError, ValueError):
    """Train and target band lists differ in number (also a ValueError, as scikit-learn expects)."""


def _clean_mags(X, sentinels, what: str):
    """Copy of X (float64) with ±inf and sentinel values set to NaN; also the (N, B) bad mask."""
    X = np.array(X, dtype=np.float64, copy=True)
    bad = np.isinf(X)
    for s in sentinels or ():
        bad |= X == s
    if bad.any():
        X[bad] = np.nan
    return X, bad


def _check_band_order(bands, n_columns: int) -> tuple:
    """Band names as given, after checking there is one per column and that they are known bands
    in wavelength order (colours are taken between adjacent columns); BandError names them."""
    from ..bands import resolve_band, sort_bands

    bands = tuple(str(b) for b in bands)
    if len(bands) != n_columns:
        raise BandError(f"{len(bands)} band names for {n_columns} magnitude columns")
    canon = [resolve_band(b) for b in bands]
    ordered = sort_bands(canon)
    if canon != ordered:
        wrong = [b for b, c, o in zip(bands, canon, ordered) if c != o]
        raise BandError(f"bands {list(bands)} are not in wavelength order (out of place: {wrong}); "
                        f"order the magnitude columns as {ordered}")
    return bands


class KLLRPhotoZ(RegressorMixin, BaseEstimator):
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
        Predictions below are clipped to it and flagged (redshift: 0; None disables).
    mode_window : float or None
        Mode guard (beyond the paper): neighbours with |z − z_med|/(1 + z_med) > mode_window, z_med
        the kernel-weighted median of the neighbours' z, are dropped before the fit, so that a
        neighbourhood mixing two redshift solutions follows the dominant one.  None: off (paper).
    min_bands : int
        Targets with fewer usable bands get NaN and a flag.
    n_jobs : int or None
        Threads for tree queries and the kernel (None: $OMP_NUM_THREADS or all cores).
    """

    def __init__(self, k=None, lam=None, gamma=None, *, center=True, clip=3.0, z_min=0.0,
                 mode_window=DEFAULT_MODE_WINDOW, min_bands=2, n_jobs=None):
        self.k = k
        self.lam = lam
        self.gamma = gamma
        self.center = center
        self.clip = clip
        self.z_min = z_min
        self.mode_window = mode_window
        self.min_bands = min_bands
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ fitting
    def _threads(self) -> int:
        return default_threads() if self.n_jobs is None else max(1, int(self.n_jobs))

    def _check_params(self):
        lam = DEFAULT_LAM if self.lam is None else float(self.lam)
        gamma = DEFAULT_GAMMA if self.gamma is None else float(self.gamma)
        if not np.isfinite(lam) or lam < 0:
            raise ValueError(f"lam must be a finite number ≥ 0, got {self.lam!r}")
        if not np.isfinite(gamma) or gamma <= 0:
            raise ValueError(f"gamma must be a finite number > 0, got {self.gamma!r}")
        if self.k is not None and (int(self.k) != self.k or int(self.k) < 1):
            raise ValueError(f"k must be a positive integer, got {self.k!r}")
        if not (self.clip > 0):
            raise ValueError(f"clip must be > 0, got {self.clip!r}")
        if self.mode_window is not None and not (float(self.mode_window) > 0):
            raise ValueError(f"mode_window must be > 0 or None, got {self.mode_window!r}")
        if int(self.min_bands) < 2:
            raise ValueError(f"min_bands must be ≥ 2 (one colour), got {self.min_bands!r}")
        return lam, gamma

    def fit(self, X, y, bands=None):
        """Fit on magnitudes X (N, B; NaN = missing) and redshifts y (N,).

        Training rows with a non-finite or sentinel (−99) redshift, or fewer than ``min_bands``
        usable bands, are excluded with a :class:`~galfast.CatalogWarning` giving the count;
        ±inf and sentinel (±99) magnitudes are treated as missing.  ``bands`` (names, wavelength
        order) are stored and checked against those given to :meth:`predict`.
        """
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        lam, gamma = self._check_params()
        X = validate_data(self, X, reset=True, dtype=np.float64, ensure_all_finite=False,
                          ensure_min_samples=1)
        if X.shape[1] < 2:
            raise ValueError(f"KLLRPhotoZ needs magnitudes in at least 2 bands (one colour); got "
                             f"{X.shape[1]} feature(s)")
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
                raise ValueError(f"k={k} is larger than the usable training set ({n_use} rows)")
        self.train_mags_ = np.ascontiguousarray(mags[keep])
        self.train_z_ = np.ascontiguousarray(y[keep])
        self.bands_ = bands
        self.k_, self.lam_, self.gamma_ = k, lam, gamma
        self.n_excluded_ = int(drop.sum())
        self.index_ = PatternIndex(self.train_mags_, self.train_z_)
        return self

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
            bands = tuple(str(b) for b in bands)
            if bands != self.bands_:
                raise BandError(f"target bands {list(bands)} differ from the training bands "
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

    def predict_full(self, X, bands=None, errors: bool = True) -> dict:
        """Everything per target row, in input order: ``z``, ``z_err``, ``flags`` (int64; condition
        bits, see :mod:`galfast.redshift.engine`, plus the bands used at bits ≥ 16),
        ``n_bands_used`` and ``n_neighbours`` (after the clip).  A target whose bands fewer than
        k training rows share is served from fewer bands (flag ``FLAG_BANDS_DROPPED``).  ``errors=False`` skips z_err
        (NaN), which saves about a third of the kernel's time at large k."""
        mags, bad = self._target_mags(X, bands)
        threads = self._threads()
        groups, codes = prepare_groups(self.index_, mags, self.k_, min_bands=int(self.min_bands),
                                       threads=threads)
        z, e, flags, nn = predict_groups(groups, len(mags), self.k_, self.lam_, self.gamma_,
                                         clip=float(self.clip), center=bool(self.center),
                                         z_min=self.z_min, mode_window=self.mode_window,
                                         threads=threads, errors=errors)
        flags |= np.where(bad.any(axis=1), FLAG_BAD_VALUE, 0)
        flags |= codes << BANDS_SHIFT
        return {"z": z, "z_err": e, "flags": flags, "n_bands_used": popcount(codes).astype(np.int16),
                "n_neighbours": nn}

    def predict(self, X, return_std=False, bands=None):
        """Photo-z of magnitudes X (N, B); with ``return_std`` also the 1σ error (RMS of the
        neighbours' leave-one-out residuals).  NaN where no estimate is possible."""
        r = self.predict_full(X, bands, errors=bool(return_std))
        return (r["z"], r["z_err"]) if return_std else r["z"]

    # ------------------------------------------------------------------ persistence
    def save(self, path) -> Path:
        """Write the fitted model (training set, hyperparameters, bands, version) to ``.npz``."""
        check_is_fitted(self, "index_")
        path = Path(path)
        full = self.index_.model((1 << self.n_features_in_) - 1) if self.n_features_in_ <= 62 else None
        meta = {
            "format": MODEL_FORMAT, "format_version": _FORMAT_VERSION, "galfast_version": __version__,
            "params": self.get_params(), "k_": self.k_, "lam_": self.lam_, "gamma_": self.gamma_,
            "bands": list(self.bands_) if self.bands_ is not None else None,
            "n_train": int(len(self.train_z_)), "n_excluded": self.n_excluded_,
            "standardiser_all_bands": full.scaler.to_dict() if full is not None and full.n_train else None,
        }
        with open(path, "wb") as fh:
            np.savez_compressed(fh, meta=np.array(json.dumps(meta)), train_mags=self.train_mags_,
                                train_z=self.train_z_)
        return path

    @classmethod
    def load(cls, path) -> "KLLRPhotoZ":
        """Read a model written by :meth:`save`; :class:`~galfast.ModelFileError` if the file is
        not one, is corrupted, or was written by another galfast version."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"model file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as f:
                meta = json.loads(str(f["meta"][()]))
                mags = np.asarray(f["train_mags"], dtype=np.float64)
                z = np.asarray(f["train_z"], dtype=np.float64)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
            raise ModelFileError(f"{path}: not a readable galfast photo-z model ({type(exc).__name__}: "
                                 f"{exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != MODEL_FORMAT:
            raise ModelFileError(f"{path}: not a {MODEL_FORMAT} file")
        if meta.get("galfast_version") != __version__ or meta.get("format_version") != _FORMAT_VERSION:
            raise ModelFileError(f"{path}: written by galfast {meta.get('galfast_version')} (model format "
                                 f"{meta.get('format_version')}); this is galfast {__version__} (format "
                                 f"{_FORMAT_VERSION}) — refit and save again")
        if mags.ndim != 2 or z.shape != (mags.shape[0],) or mags.shape[0] != meta.get("n_train"):
            raise ModelFileError(f"{path}: training arrays are inconsistent with the metadata "
                                 f"({mags.shape}, {z.shape}, n_train={meta.get('n_train')})")
        est = cls(**meta["params"])
        est.n_features_in_ = mags.shape[1]
        est.train_mags_, est.train_z_ = np.ascontiguousarray(mags), np.ascontiguousarray(z)
        est.bands_ = tuple(meta["bands"]) if meta["bands"] is not None else None
        est.k_, est.lam_, est.gamma_ = int(meta["k_"]), float(meta["lam_"]), float(meta["gamma_"])
        est.n_excluded_ = int(meta.get("n_excluded", 0))
        est.index_ = PatternIndex(est.train_mags_, est.train_z_)
        return est
